"""Configuration from the environment (one place; every entrypoint reads it through `load()`)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class Settings(BaseSettings):
    """Every setting can be given as an environment variable of the same name, upper-cased.

    `KAFKA_BOOTSTRAP_SERVERS` empty means "run the embedded local broker"; set it to use an
    external Apache Kafka.
    """

    # Errors never repeat the input: it holds the passwords (DATABASE_URL, KAFKA_SASL_PASSWORD).
    model_config = SettingsConfigDict(
        env_prefix="", case_sensitive=False, extra="ignore", hide_input_in_errors=True
    )

    database_url: str = "postgresql://postgres@127.0.0.1:5432/jointcase"
    kafka_bootstrap_servers: str = ""
    local_broker_listen: str = "127.0.0.1:9092"
    topic_prefix: str = "jointcase."
    topic_partitions: int = Field(default=12, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1)
    # "local" = tansu semantics (no idempotence, short group timeouts, see DESIGN §8).
    kafka_profile: Literal["local", "kafka"] = "local"
    # How every internal Kafka client connects (services/kafka.py, KafkaSecurity).
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    # TLS: the CA that signed the brokers' certificates (empty = the system's CAs), and a client
    # certificate for brokers that require one (the key may be in the certificate file).
    kafka_ssl_cafile: str = ""
    kafka_ssl_certfile: str = ""
    kafka_ssl_keyfile: str = ""

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # HTTP processes sharing the port (`jointcase serve --workers`); one serves ~1,500 req/s.
    http_workers: int = Field(default=1, ge=1, le=64)
    max_batch_events: int = Field(default=1000, ge=1)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    clock_skew_seconds: float = Field(default=300.0, ge=0)

    relay_batch_size: int = Field(default=2000, ge=1)
    relay_poll_seconds: float = Field(default=1.0, gt=0)

    worker_group: str = ""  # consumer group; empty = "<topic prefix>projector"
    worker_max_batch: int = Field(default=50_000, ge=1)
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)  # Prometheus; 0 = off
    scheduler_interval_seconds: float = Field(default=30.0, gt=0)
    policy_file: str = ""  # JSON policy document; empty = the built-in policy v1
    # JSON: {"detector": {...}, "correlation": {...}, "tipoffs": {...}}; empty = defaults
    rules_file: str = ""

    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _check_kafka_security(self) -> Settings:
        protocol = self.kafka_security_protocol
        if protocol != "PLAINTEXT" and (self.kafka_profile == "local" or self.uses_local_broker):
            # tansu (the local broker) serves PLAINTEXT only: with the memory engine its SASL
            # users cannot be created, and its TLS options do not take effect.
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={protocol} needs an Apache Kafka: set "
                "KAFKA_BOOTSTRAP_SERVERS and KAFKA_PROFILE=kafka (the local tansu broker "
                "serves PLAINTEXT only)"
            )
        credentials = {
            "KAFKA_SASL_USERNAME": self.kafka_sasl_username,
            "KAFKA_SASL_PASSWORD": self.kafka_sasl_password.get_secret_value(),
        }
        if protocol.startswith("SASL_"):
            for name, value in credentials.items():
                if not value:
                    raise ValueError(f"{name} is required with KAFKA_SECURITY_PROTOCOL={protocol}")
        elif any(credentials.values()):
            # Credentials with a protocol that never sends them: most likely a forgotten switch.
            given = [name for name, value in credentials.items() if value]
            raise ValueError(
                f"{' and '.join(given)} set but KAFKA_SECURITY_PROTOCOL={protocol} does not use "
                "SASL (SASL_SSL or SASL_PLAINTEXT does)"
            )
        files = {
            "KAFKA_SSL_CAFILE": self.kafka_ssl_cafile,
            "KAFKA_SSL_CERTFILE": self.kafka_ssl_certfile,
            "KAFKA_SSL_KEYFILE": self.kafka_ssl_keyfile,
        }
        given = [name for name, value in files.items() if value]
        if given and protocol not in ("SSL", "SASL_SSL"):
            # Not silently without TLS: the operator expects an encrypted connection.
            raise ValueError(
                f"{', '.join(given)} set but KAFKA_SECURITY_PROTOCOL={protocol} does not use "
                "TLS (SSL or SASL_SSL does)"
            )
        if self.kafka_ssl_keyfile and not self.kafka_ssl_certfile:
            raise ValueError("KAFKA_SSL_KEYFILE is set without KAFKA_SSL_CERTFILE")
        return self

    @property
    def bootstrap_servers(self) -> str:
        """The Kafka address to use: the configured one, else the embedded broker's."""
        return self.kafka_bootstrap_servers or self.local_broker_listen

    @property
    def projector_group(self) -> str:
        return self.worker_group or f"{self.topic_prefix}projector"

    @property
    def uses_local_broker(self) -> bool:
        return not self.kafka_bootstrap_servers


@lru_cache(maxsize=1)
def load() -> Settings:
    return Settings()


def describe_errors(exc: ValidationError) -> list[str]:
    """One line per problem, naming the variable: `KAFKA_PROFILE: Input should be ...`."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        names = ".".join(str(part) for part in error["loc"]).upper()
        lines.append(f"{names}: {message}" if names else message)
    return lines
