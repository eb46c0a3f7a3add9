"""Client settings for the two broker profiles, in one place.

`local` is the embedded tansu broker (DESIGN §8): it has no InitProducerId, so no idempotent
producer and no transactions, and it holds every JoinGroup for half the session timeout, so
group timeouts are short. `kafka` is Apache Kafka: idempotent producer, ordinary timeouts.
Both acknowledge with acks=all: tansu accepts it, and on Kafka it is what makes an
acknowledged event durable.
"""

from __future__ import annotations

from typing import Any, Literal

from services.config import Settings

KafkaProfile = Literal["local", "kafka"]

# Batching: a few milliseconds of linger lets concurrent sends share one produce request
# without adding noticeable latency to a single send.
DEFAULT_LINGER_MS = 5
DEFAULT_MAX_BATCH_BYTES = 64 * 1024
DEFAULT_REQUEST_TIMEOUT_MS = 30_000


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
    return kwargs


def consumer_kwargs(
    bootstrap: str,
    profile: KafkaProfile = "local",
    *,
    group_id: str | None = None,
    client_id: str = "jointcase-consumer",
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
        }
    else:
        kwargs |= {
            "session_timeout_ms": 30_000,
            "heartbeat_interval_ms": 3_000,
            "rebalance_timeout_ms": 60_000,
        }
    return kwargs


def admin_kwargs(bootstrap: str, *, client_id: str = "jointcase-admin") -> dict[str, Any]:
    """Keyword arguments for `aiokafka.admin.AIOKafkaAdminClient`."""
    return {"bootstrap_servers": bootstrap, "client_id": client_id, "request_timeout_ms": 15_000}


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
    return conf


def producer_kwargs_for(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """`producer_kwargs` for the configured broker and profile."""
    return producer_kwargs(settings.bootstrap_servers, settings.kafka_profile, **overrides)


def consumer_kwargs_for(
    settings: Settings, *, group_id: str | None = None, client_id: str = "jointcase-consumer"
) -> dict[str, Any]:
    """`consumer_kwargs` for the configured broker and profile."""
    return consumer_kwargs(
        settings.bootstrap_servers, settings.kafka_profile, group_id=group_id, client_id=client_id
    )


def faust_settings_for(settings: Settings, *, uses_tables: bool = False) -> dict[str, Any]:
    """`faust_broker_settings` for the configured broker, profile and topic layout."""
    return faust_broker_settings(
        settings.bootstrap_servers,
        settings.kafka_profile,
        partitions=settings.topic_partitions,
        replication=settings.topic_replication_factor,
        uses_tables=uses_tables,
    )
