"""Client settings for the two broker profiles, in one place.

`local` is the embedded tansu broker (DESIGN §8): it has no InitProducerId, so no idempotent
producer and no transactions, and it holds every JoinGroup for half the session timeout, so
group timeouts are short. `kafka` is Apache Kafka: idempotent producer, ordinary timeouts.
Both acknowledge with acks=all: tansu accepts it, and on Kafka it is what makes an
acknowledged event durable.

How the clients connect (PLAINTEXT, TLS, SASL) is a `KafkaSecurity`, built from the settings
(`KAFKA_SECURITY_PROTOCOL` and its companions) or by a caller of the producer library.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from aiokafka.helpers import create_ssl_context

from services.config import SaslMechanism, SecurityProtocol, Settings

KafkaProfile = Literal["local", "kafka"]

# Batching: a few milliseconds of linger lets concurrent sends share one produce request
# without adding noticeable latency to a single send.
DEFAULT_LINGER_MS = 5
DEFAULT_MAX_BATCH_BYTES = 64 * 1024
DEFAULT_REQUEST_TIMEOUT_MS = 30_000


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """How a client authenticates and whether it encrypts; the default is PLAINTEXT.

    SASL protocols need `username` and `password`; TLS protocols verify the brokers against
    `cafile` (empty: the system's CAs) and present `certfile`/`keyfile` if given.
    """

    protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    username: str = ""
    password: str = field(default="", repr=False)
    cafile: str = ""
    certfile: str = ""
    keyfile: str = ""

    def __post_init__(self) -> None:
        if self.protocol not in get_args(SecurityProtocol):
            raise ValueError(
                f"unknown security protocol {self.protocol!r}; expected one of "
                f"{', '.join(get_args(SecurityProtocol))}"
            )
        if self.sasl_mechanism not in get_args(SaslMechanism):
            raise ValueError(
                f"unknown SASL mechanism {self.sasl_mechanism!r}; expected one of "
                f"{', '.join(get_args(SaslMechanism))}"
            )
        if self.uses_sasl and not (self.username and self.password):
            raise ValueError(f"security protocol {self.protocol} needs a username and a password")
        if self.keyfile and not self.certfile:
            raise ValueError("a TLS keyfile needs its certfile")

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaSecurity:
        return cls(
            protocol=settings.kafka_security_protocol,
            sasl_mechanism=settings.kafka_sasl_mechanism,
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password.get_secret_value(),
            cafile=settings.kafka_ssl_cafile,
            certfile=settings.kafka_ssl_certfile,
            keyfile=settings.kafka_ssl_keyfile,
        )

    @property
    def uses_sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        """A TLS context for the TLS protocols (hostnames are checked), else None.

        Built anew on each call: the files are read when a client is created, so certificates
        renewed on disk are picked up by the next client.
        """
        if not self.uses_tls:
            return None
        context: ssl.SSLContext = create_ssl_context(
            cafile=self.cafile or None,
            certfile=self.certfile or None,
            keyfile=self.keyfile or None,
        )
        return context

    def aiokafka_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client; none at all for PLAINTEXT."""
        if self.protocol == "PLAINTEXT":
            return {}
        kwargs: dict[str, Any] = {"security_protocol": self.protocol}
        if self.uses_tls:
            kwargs["ssl_context"] = self.ssl_context()
        if self.uses_sasl:
            kwargs |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.username,
                "sasl_plain_password": self.password,
            }
        return kwargs

    def faust_credentials(self) -> Any:
        """Faust's `broker_credentials`, or None for PLAINTEXT.

        Faust hands them to every aiokafka client it creates (consumer, producer, and the
        clients that create its topics); a `SASLCredentials` with a TLS context is SASL_SSL.
        """
        if self.protocol == "PLAINTEXT":
            return None
        # Imported here: the producer library uses this module and does not need Faust.
        import faust

        if self.uses_sasl:
            return faust.SASLCredentials(
                username=self.username,
                password=self.password,
                mechanism=self.sasl_mechanism,
                ssl_context=self.ssl_context(),
            )
        return faust.SSLCredentials(self.ssl_context())


PLAINTEXT = KafkaSecurity()


def _check_profile(profile: str) -> KafkaProfile:
    if profile == "local":
        return "local"
    if profile == "kafka":
        return "kafka"
    raise ValueError(f"unknown Kafka profile {profile!r}; expected 'local' or 'kafka'")


def producer_kwargs(
    bootstrap: str,
    profile: KafkaProfile = "local",
    *,
    client_id: str = "jointcase-producer",
    linger_ms: int = DEFAULT_LINGER_MS,
    max_batch_size: int = DEFAULT_MAX_BATCH_BYTES,
    request_timeout_ms: int = DEFAULT_REQUEST_TIMEOUT_MS,
    security: KafkaSecurity = PLAINTEXT,
) -> dict[str, Any]:
    """Keyword arguments for `aiokafka.AIOKafkaProducer`."""
    profile = _check_profile(profile)
    kwargs: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "client_id": client_id,
        "acks": "all",
        "linger_ms": linger_ms,
        "max_batch_size": max_batch_size,
        "request_timeout_ms": request_timeout_ms,
        # tansu fails InitProducerId, so the idempotent producer cannot start there.
        "enable_idempotence": profile == "kafka",
    }
    return kwargs | security.aiokafka_kwargs()


def consumer_kwargs(
    bootstrap: str,
    profile: KafkaProfile = "local",
    *,
    group_id: str | None = None,
    client_id: str = "jointcase-consumer",
    security: KafkaSecurity = PLAINTEXT,
) -> dict[str, Any]:
    """Keyword arguments for `aiokafka.AIOKafkaConsumer`.

    Offsets are never auto-committed: a consumer commits only after its work is durable.
    """
    profile = _check_profile(profile)
    kwargs: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "client_id": client_id,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        # A fetch waits at most this long for data: aiokafka's 500 ms default is added to the
        # publish-to-visible delay of every quiet moment.
        "fetch_max_wait_ms": 50,
    }
    if profile == "local":
        # Each JoinGroup is held for half the session timeout on tansu: keep it short.
        kwargs |= {
            "session_timeout_ms": 6_000,
            "heartbeat_interval_ms": 1_000,
            "rebalance_timeout_ms": 6_000,
            # A restarted local broker is empty (memory only) and its topics are declared again:
            # a consumer notices them at its next metadata refresh (aiokafka: every 5 minutes).
            "metadata_max_age_ms": 10_000,
        }
    else:
        kwargs |= {
            "session_timeout_ms": 30_000,
            "heartbeat_interval_ms": 3_000,
            "rebalance_timeout_ms": 60_000,
        }
    return kwargs | security.aiokafka_kwargs()


def admin_kwargs(
    bootstrap: str, *, client_id: str = "jointcase-admin", security: KafkaSecurity = PLAINTEXT
) -> dict[str, Any]:
    """Keyword arguments for `aiokafka.admin.AIOKafkaAdminClient`."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "client_id": client_id,
        "request_timeout_ms": 15_000,
    }
    return kwargs | security.aiokafka_kwargs()


def faust_broker_urls(bootstrap: str) -> str:
    """Faust's broker setting: `kafka://h1:9092;h2:9092` from `h1:9092,h2:9092`."""
    hosts = [h.strip() for h in bootstrap.split(",") if h.strip()]
    if not hosts:
        raise ValueError("no bootstrap servers given")
    return "kafka://" + ";".join(hosts)


def faust_broker_settings(
    bootstrap: str,
    profile: KafkaProfile = "local",
    *,
    partitions: int = 12,
    replication: int = 1,
    uses_tables: bool = False,
    security: KafkaSecurity = PLAINTEXT,
) -> dict[str, Any]:
    """Keyword arguments for `faust.App(...)` that concern the broker.

    Always at-least-once: tansu has no transactions, and every consumer is idempotent anyway.
    """
    profile = _check_profile(profile)
    conf: dict[str, Any] = {
        "broker": faust_broker_urls(bootstrap),
        "processing_guarantee": "at_least_once",
        "producer_acks": -1,
        "topic_partitions": partitions,
        "topic_replication_factor": replication,
        "consumer_auto_offset_reset": "earliest",
    }
    if profile == "local":
        conf |= {
            "broker_session_timeout": 6,
            "broker_heartbeat_interval": 1,
            "broker_rebalance_timeout": 6,
        }
        if uses_tables:
            # tansu's ListOffsets(latest) is the last batch's base offset + 1: with one record
            # per batch it is exact, so table recovery does not skip the changelog's tail.
            conf["producer_max_batch_size"] = 1
    credentials = security.faust_credentials()
    if credentials is not None:
        conf["broker_credentials"] = credentials
    return conf


def producer_kwargs_for(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """`producer_kwargs` for the configured broker, profile and security."""
    return producer_kwargs(
        settings.bootstrap_servers,
        settings.kafka_profile,
        security=KafkaSecurity.from_settings(settings),
        **overrides,
    )


def consumer_kwargs_for(
    settings: Settings, *, group_id: str | None = None, client_id: str = "jointcase-consumer"
) -> dict[str, Any]:
    """`consumer_kwargs` for the configured broker, profile and security."""
    return consumer_kwargs(
        settings.bootstrap_servers,
        settings.kafka_profile,
        group_id=group_id,
        client_id=client_id,
        security=KafkaSecurity.from_settings(settings),
    )


def admin_kwargs_for(settings: Settings, *, client_id: str = "jointcase-admin") -> dict[str, Any]:
    """`admin_kwargs` for the configured broker and security."""
    return admin_kwargs(
        settings.bootstrap_servers,
        client_id=client_id,
        security=KafkaSecurity.from_settings(settings),
    )


def faust_settings_for(settings: Settings, *, uses_tables: bool = False) -> dict[str, Any]:
    """`faust_broker_settings` for the configured broker, profile, topic layout and security."""
    return faust_broker_settings(
        settings.bootstrap_servers,
        settings.kafka_profile,
        partitions=settings.topic_partitions,
        replication=settings.topic_replication_factor,
        uses_tables=uses_tables,
        security=KafkaSecurity.from_settings(settings),
    )
