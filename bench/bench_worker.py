"""Projection worker: events/s from topic to committed read models, beside a bare Faust agent.

    python -m bench.bench_worker [--events 100000] [--enterprises 10000] [--rss-events 1000000]
                                 [--rebuild-events 1000000]

1. Publishes N events over E enterprises to the stream topics (raw aiokafka).
2. A bare Faust agent over the same topics that does no work: events/s (the baseline).
   Beside it the worker's storage floor: an aiokafka batch consumer that validates each event
   and appends it to the event store, committing offsets after each batch, and projects
   nothing. No projecting worker can be faster than that on the same machine.
3. The worker (`jointcase worker`, its own process) from the first batch to the last committed
   read model: events/s, and its peak RSS.
4. Peak RSS again with --rss-events, to show it does not grow with the event count.
5. `jointcase rebuild` over --rebuild-events stored events, beside the replay floor
   (`bench.bench_rebuild`, which also runs alone).
Uses the broker at KAFKA_BOOTSTRAP_SERVERS, else starts a local one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import faust
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench import bench_rebuild
from bench.bench_gateway import scratch_database
from bench.findings import records
from projections.rebuild import default_jobs
from projections.worker import APPEND_CHUNK, decode
from services import eventstore
from services.broker import ensure_topics, external_or_local
from services.kafka import consumer_kwargs, faust_broker_settings, producer_kwargs
from services.logging import configure
from services.topics import stream_topics


async def publish(bootstrap: str, prefix: str, n: int, enterprises: int, start: int = 0) -> None:
    producer = AIOKafkaProducer(**producer_kwargs(bootstrap, "local", linger_ms=20))
    await producer.start()
    try:
        pending = []
        for topic, key, value in records(n, enterprises, prefix, start):
            pending.append(await producer.send(topic, value, key=key))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def bare_faust(bootstrap: str, prefix: str, n: int) -> float:
    """Events/s of a Faust agent that only counts, from its first event to its n-th."""
    app = faust.App(
        f"{prefix}bare-{uuid.uuid4().hex[:6]}",
        autodiscover=False,
        web_enabled=False,
        **faust_broker_settings(bootstrap, "local"),
    )
    topic = app.topic(*stream_topics(prefix), value_serializer="raw", key_serializer="raw")
    seen = {"n": 0, "first": 0.0, "last": 0.0}
    done = asyncio.Event()

    @app.agent(topic)
    async def count(stream: Any) -> None:
        async for _ in stream:
            if not seen["n"]:
                seen["first"] = time.perf_counter()
            seen["n"] += 1
            if seen["n"] >= n:
                seen["last"] = time.perf_counter()
                done.set()

    await app.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=600)
    finally:
        await app.stop()
    return n / (seen["last"] - seen["first"])


async def storage_floor(bootstrap: str, prefix: str, n: int, dsn: str) -> float:
    """Events/s of consume, validate and append (the worker's own decode and append), from
    the first fetch to the last committed batch, without any projection."""
    consumer = AIOKafkaConsumer(
        *stream_topics(prefix),
        **consumer_kwargs(bootstrap, "local", group_id=f"{prefix}floor"),
        max_partition_fetch_bytes=256 * 1024,
        fetch_max_bytes=16 * 1024 * 1024,
    )
    conn = await asyncpg.connect(dsn)
    await consumer.start()
    try:
        seen = 0
        first = 0.0
        while seen < n:
            batch = await consumer.getmany(timeout_ms=200, max_records=50_000)
            if not batch:
                continue
            first = first or time.perf_counter()
            valid, _ = decode([r for rs in batch.values() for r in rs], prefix)
            async with conn.transaction():
                for i in range(0, len(valid), APPEND_CHUNK):
                    chunk = [v.row for v in valid[i : i + APPEND_CHUNK]]
                    await eventstore.append_rows(conn, chunk, outbox=False)
            await consumer.commit({tp: rs[-1].offset + 1 for tp, rs in batch.items()})
            seen += sum(len(rs) for rs in batch.values())
        return n / (time.perf_counter() - first)
    finally:
        await consumer.stop()
        await conn.close()


@contextlib.asynccontextmanager
async def worker_process(dsn: str, bootstrap: str, prefix: str, log: Path) -> AsyncIterator[int]:
    env = os.environ | {
        "DATABASE_URL": dsn,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "TOPIC_PREFIX": prefix,
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
    }
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.cli", "worker", env=env, stdout=out, stderr=out
        )
        try:
            yield proc.pid
        finally:
            proc.terminate()
            await proc.wait()


def log_lines(log: Path, event: str) -> list[dict[str, Any]]:
    """The worker's JSON log lines of one event."""
    out = []
    for line in log.read_bytes().splitlines():
        if f'"{event}"'.encode() in line:
            # A terminal control sequence may precede the JSON on a line.
            with contextlib.suppress(orjson.JSONDecodeError):
                out.append(orjson.loads(line[line.find(b"{") :]))
    return out


def batches(log: Path) -> list[dict[str, Any]]:
    return log_lines(log, "batch projected")


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def project(bootstrap: str, prefix: str, n: int, dsn: str) -> tuple[float, float]:
    """(events/s from the start of the first batch to the end of the last, peak RSS in MB).

    The worker's start-up (Faust, group join) is left out: it logs when each batch started
    and how long it took. Progress is read from that log, not polled from the database, where
    the query would take CPU from the worker."""
    conn = await asyncpg.connect(dsn)
    log = Path(tempfile.mkdtemp()) / "worker.log"
    try:
        async with worker_process(dsn, bootstrap, prefix, log) as pid:
            while sum(b["consumed"] for b in batches(log)) < n:
                await asyncio.sleep(0.2)
            rss = peak_rss_mb(pid)
        projected = await conn.fetchval("SELECT coalesce(sum(event_count), 0) FROM case_file")
        if projected != n:
            raise RuntimeError(f"{n:,} events consumed but {projected:,} in the case files")
        done = batches(log)
        first = min(b["started"] for b in done)
        last = max(b["started"] + b["seconds"] for b in done)
        return n / (last - first), rss
    finally:
        await conn.close()


async def run(bootstrap: str, args: argparse.Namespace) -> dict[str, float]:
    out: dict[str, float] = {}
    prefix = f"benchw{uuid.uuid4().hex[:6]}."
    await ensure_topics(bootstrap, prefix, 12, 1)
    await publish(bootstrap, prefix, args.events, args.enterprises)
    out["bare_faust_events_per_s"] = await bare_faust(bootstrap, prefix, args.events)
    async with scratch_database() as dsn:
        out["floor_events_per_s"] = await storage_floor(bootstrap, prefix, args.events, dsn)
    async with scratch_database() as dsn:
        rate, rss = await project(bootstrap, prefix, args.events, dsn)
    out["worker_events_per_s"], out["worker_peak_rss_mb"] = rate, rss

    if args.rss_events:
        prefix = f"benchw{uuid.uuid4().hex[:6]}."
        await ensure_topics(bootstrap, prefix, 12, 1)
        await publish(bootstrap, prefix, args.rss_events, args.rss_events // 10)
        async with scratch_database() as dsn:
            rate, rss = await project(bootstrap, prefix, args.rss_events, dsn)
            out["large_worker_events_per_s"], out["large_worker_peak_rss_mb"] = rate, rss
    return out


async def _main(args: argparse.Namespace) -> dict[str, float]:
    async with external_or_local() as bootstrap:
        return await run(bootstrap, args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--enterprises", type=int, default=10_000)
    parser.add_argument("--rss-events", type=int, default=1_000_000, help="0 to skip")
    parser.add_argument("--rebuild-events", type=int, default=1_000_000, help="0 to skip")
    args = parser.parse_args(argv)
    configure(level="WARNING")
    f = asyncio.run(_main(args))
    w = sys.stdout.write
    w(f"events: {args.events:,} over {args.enterprises:,} enterprises\n")
    w(f"bare Faust agent (no work):      {f['bare_faust_events_per_s']:>10,.0f} events/s\n")
    w(f"worker, topic -> read models:    {f['worker_events_per_s']:>10,.0f} events/s\n")
    w(f"storage floor (validate+append): {f['floor_events_per_s']:>10,.0f} events/s\n")
    ratio = f["worker_events_per_s"] / f["bare_faust_events_per_s"]
    w(f"worker / bare Faust:             {ratio:>10.2f}\n")
    ratio = f["worker_events_per_s"] / f["floor_events_per_s"]
    w(f"worker / storage floor:          {ratio:>10.2f}\n")
    w(f"worker peak RSS at {args.events:,}:   {f['worker_peak_rss_mb']:>10,.0f} MB\n")
    if "large_worker_peak_rss_mb" in f:
        rate = f["large_worker_events_per_s"]
        w(f"worker at {args.rss_events:,} events:   {rate:>10,.0f} events/s\n")
        w(f"worker peak RSS at {args.rss_events:,}: {f['large_worker_peak_rss_mb']:>10,.0f} MB\n")
    if args.rebuild_events:
        n, jobs = args.rebuild_events, default_jobs()
        sys.stdout.flush()
        rebuilt = asyncio.run(bench_rebuild.measure(n, n // 10, jobs))
        bench_rebuild.report(rebuilt, n, n // 10, jobs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
