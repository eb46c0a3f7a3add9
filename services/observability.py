"""Operations endpoints: readiness (database, broker, worker lag) and Prometheus metrics."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.config import Settings
from services.http import json_response, pool_of
from services.kafka import consumer_kwargs_for
from services.topics import stream_topics

router = APIRouter(tags=["operations"])

REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "jointcase_http_requests_total",
    "HTTP requests by route template, method and status",
    ["route", "method", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "jointcase_http_request_seconds",
    "HTTP request latency by route template",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    registry=REGISTRY,
)
# Read at scrape time by whichever process answers: with several HTTP processes, the latest
# reading of any of them is the answer.
OUTBOX = Gauge(
    "jointcase_outbox_pending",
    "events stored but not yet relayed",
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
CURSOR = Gauge(
    "jointcase_change_feed_cursor",
    "latest change-feed cursor",
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
LAG = Gauge(
    "jointcase_worker_lag",
    "events on the topics not yet projected",
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)


class Metrics:
    """Request counts and latency by route template. Plain ASGI: Starlette's
    BaseHTTPMiddleware would wrap every response in a stream and a task group."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            LATENCY.labels(route).observe(time.perf_counter() - start)
            REQUESTS.labels(route, scope["method"], str(status)).inc()


async def worker_lag(settings: Settings) -> int:
    """Records on the stream topics that the projector group has not committed yet."""
    # A consumer of the group that never subscribes reads its committed offsets without
    # joining it (no rebalance of the workers).
    consumer = AIOKafkaConsumer(
        **consumer_kwargs_for(
            settings, group_id=settings.projector_group, client_id="jointcase-readyz"
        )
    )
    try:
        await consumer.start()
    except BaseException:
        await consumer.stop()  # a failed start (refused credentials, say) still holds its client
        raise
    try:
        await consumer.topics()
        parts = [
            TopicPartition(t, p)
            for t in stream_topics(settings.topic_prefix)
            for p in consumer.partitions_for_topic(t) or ()
        ]
        ends = await consumer.end_offsets(parts)
        committed = await asyncio.gather(*(consumer.committed(tp) for tp in parts))
        return sum(
            max(0, ends[tp] - (done or 0)) for tp, done in zip(parts, committed, strict=True)
        )
    finally:
        await consumer.stop()


async def _check(fn: Awaitable[Any], seconds: float) -> tuple[bool, Any]:
    try:
        async with asyncio.timeout(seconds):
            return True, await fn
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"[:300]


@router.get(
    "/readyz",
    summary="Readiness: database, broker, worker lag",
    responses={503: {"description": "not ready: the body says which dependency and why"}},
)
async def readyz(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    pool = pool_of(request)
    db_ok, db_detail = await _check(pool.fetchval("SELECT 1"), 2)
    lag_ok, lag = await _check(worker_lag(settings), 5)
    if lag_ok:
        LAG.set(lag)
    ready = db_ok and lag_ok
    return json_response(
        200 if ready else 503,
        {
            "ready": ready,
            "database": "ok" if db_ok else db_detail,
            "broker": "ok" if lag_ok else lag,
            "worker_lag": lag if lag_ok else None,
        },
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
async def metrics(request: Request) -> Response:
    pool = pool_of(request)
    ok, row = await _check(
        pool.fetchrow(
            "SELECT (SELECT count(*) FROM outbox) AS outbox, "
            "(SELECT coalesce(max(cursor), 0) FROM blacklist_change) AS cursor"
        ),
        2,
    )
    if ok and row is not None:
        OUTBOX.set(row["outbox"])
        CURSOR.set(row["cursor"])
    return Response(_exposition(), media_type=CONTENT_TYPE_LATEST)


def _exposition() -> bytes:
    """This process's metrics; with several HTTP processes (`serve --workers`), all of theirs,
    from the files each process writes to PROMETHEUS_MULTIPROC_DIR."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)
