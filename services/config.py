"""Configuration from the environment (one place; every entrypoint reads it through `load()`)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting can be given as an environment variable of the same name, upper-cased.

    `KAFKA_BOOTSTRAP_SERVERS` empty means "run the embedded local broker"; set it to use an
    external Apache Kafka.
    """

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:5432/jointcase"
    kafka_bootstrap_servers: str = ""
    local_broker_listen: str = "127.0.0.1:9092"
    topic_prefix: str = "jointcase."
    topic_partitions: int = Field(default=12, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1)
    # "local" = tansu semantics (no idempotence, short group timeouts, see DESIGN §8).
    kafka_profile: Literal["local", "kafka"] = "local"

    http_host: str = "127.0.0.1"
    http_port: int = 8000
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
