"""Prometheus metrics of a projection worker, served on WORKER_METRICS_PORT (0 = off)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

REGISTRY = CollectorRegistry()
CONSUMED = Counter("jointcase_worker_consumed_total", "messages consumed", registry=REGISTRY)
APPLIED = Counter("jointcase_worker_applied_total", "events newly stored", registry=REGISTRY)
DUPLICATES = Counter(
    "jointcase_worker_duplicates_total", "events already stored (redelivery, relay)",
    registry=REGISTRY,
)  # fmt: skip
DEAD_LETTERED = Counter(
    "jointcase_worker_dead_lettered_total", "messages sent to the dead-letter topic",
    registry=REGISTRY,
)  # fmt: skip
RECOMPUTED = Counter(
    "jointcase_worker_recomputed_total", "enterprises recomputed", registry=REGISTRY
)
BATCH_SECONDS = Histogram(
    "jointcase_worker_batch_seconds",
    "time from a batch's arrival to its committed offsets",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
VISIBLE_SECONDS = Histogram(
    "jointcase_worker_publish_to_visible_seconds",
    "from an event's Kafka timestamp to its read models' commit",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
LAG = Gauge(
    "jointcase_worker_partition_lag",
    "messages on the partition not yet consumed",
    ["topic", "partition"],
    registry=REGISTRY,
)


def serve(port: int) -> None:
    if port:
        start_http_server(port, addr="0.0.0.0", registry=REGISTRY)
