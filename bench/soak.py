"""Soak: a worker under a steady load for minutes, its memory and lag sampled, to show that
neither grows.

    python -m bench.soak [--rate 1000] [--minutes 5] [--enterprises 20000] [--every 5]

A realistic mix of events (`bench.loadgen`, registrations first) is published at a steady rate
by raw aiokafka; one worker (`jointcase worker`, its own process) projects it. Every few
seconds: the worker's resident memory, and its lag (events acknowledged by the broker minus the
group's committed offsets). The first minute is warm-up (imports, caches,
the first batches); the rest is split in halves, and "grows" means the second half's peak is
more than 10% (memory) or more than one second of load (lag) above the first half's.
Uses the broker at KAFKA_BOOTSTRAP_SERVERS, else starts a local one.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.bench_gateway import scratch_database
from bench.bench_worker import worker_process
from bench.loadgen import generate
from services.broker import ensure_topics, external_or_local
from services.kafka import consumer_kwargs, producer_kwargs
from services.logging import configure
from services.topics import stream_topics, topic_for

WARM_UP_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Sample:
    seconds: float  # since the load started
    rss_mb: float
    lag: int  # events published and not yet committed by the worker
    published: int


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def steady_load(
    bootstrap: str, prefix: str, rate: float, seconds: float, enterprises: int, sent: list[int]
) -> None:
    """Publish at `rate` events/s for `seconds`, in 20 ms steps; `sent[0]` counts them."""
    producer = AIOKafkaProducer(**producer_kwargs(bootstrap, "local", client_id="soak"))
    await producer.start()
    events = generate(enterprises, int(rate * seconds) + enterprises, now=datetime.now(UTC))
    step = 0.02
    start = time.monotonic()
    try:
        while (elapsed := time.monotonic() - start) < seconds:
            due = int(rate * elapsed) - sent[0]
            futures = []
            for _ in range(max(0, due)):
                doc = next(events)
                futures.append(
                    await producer.send(
                        topic_for(doc["stream"], prefix),
                        orjson.dumps(doc),
                        key=doc["enterprise"].encode(),
                    )
                )
            await asyncio.gather(*futures)
            sent[0] += len(futures)
            await asyncio.sleep(step)
    finally:
        await producer.stop()


async def committed(consumer: AIOKafkaConsumer, parts: list[TopicPartition]) -> int:
    """Events the worker has committed (offsets start at 0 on these fresh topics)."""
    total = 0
    for tp in parts:
        total += await consumer.committed(tp) or 0
    return total


async def run(bootstrap: str, args: argparse.Namespace) -> list[Sample]:
    prefix = f"soak{uuid.uuid4().hex[:6]}."
    await ensure_topics(bootstrap, prefix, 12, 1)
    group = f"{prefix}projector"  # the worker's group under this prefix (WORKER_GROUP unset)
    seconds = args.minutes * 60
    samples: list[Sample] = []
    log = Path(tempfile.mkdtemp()) / "worker.log"
    async with scratch_database() as dsn, worker_process(dsn, bootstrap, prefix, log) as pid:
        observer = AIOKafkaConsumer(**consumer_kwargs(bootstrap, "local", group_id=group))
        await observer.start()
        conn = await asyncpg.connect(dsn)
        try:
            parts = [
                TopicPartition(t, p)
                for t in stream_topics(prefix)
                for p in observer.partitions_for_topic(t) or range(12)
            ]
            sent = [0]
            load = asyncio.create_task(
                steady_load(bootstrap, prefix, args.rate, seconds, args.enterprises, sent)
            )
            start = time.monotonic()
            while not load.done():
                await asyncio.sleep(args.every)
                # Acknowledged minus committed: exact, unlike the local broker's end offsets
                # (sends in flight can put it briefly below zero).
                published = sent[0]
                behind = max(0, published - await committed(observer, parts))
                s = Sample(time.monotonic() - start, rss_mb(pid), behind, published)
                samples.append(s)
                print(
                    f"{s.seconds:7.0f} s  published {s.published:>9,}  worker RSS "
                    f"{s.rss_mb:6.0f} MB  lag {s.lag:>7,}",
                    flush=True,
                )
            await load
        finally:
            await conn.close()
            await observer.stop()
    return samples


def verdict(samples: list[Sample], rate: float) -> tuple[bool, str]:
    steady = [s for s in samples if s.seconds >= WARM_UP_SECONDS]
    if len(steady) < 4:
        return False, "too short: run for more than a minute after the warm-up"
    half = len(steady) // 2
    first, second = steady[:half], steady[half:]
    rss = (max(s.rss_mb for s in first), max(s.rss_mb for s in second))
    lags = (max(s.lag for s in first), max(s.lag for s in second))
    rss_grows = rss[1] > rss[0] * 1.10
    lag_grows = lags[1] > lags[0] + rate
    text = (
        f"peak RSS {rss[0]:.0f} MB then {rss[1]:.0f} MB ({'grows' if rss_grows else 'flat'}); "
        f"peak lag {lags[0]:,} then {lags[1]:,} events ({'grows' if lag_grows else 'flat'})"
    )
    return not (rss_grows or lag_grows), text


async def _main(args: argparse.Namespace) -> list[Sample]:
    async with external_or_local() as bootstrap:
        return await run(bootstrap, args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=1000, help="events per second")
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--enterprises", type=int, default=20_000)
    parser.add_argument("--every", type=float, default=5, help="seconds between samples")
    args = parser.parse_args(argv)
    configure(level="WARNING")
    samples = asyncio.run(_main(args))
    ok, text = verdict(samples, args.rate)
    sys.stdout.write(
        f"soak: {args.rate:,.0f} events/s for {args.minutes:g} min over "
        f"{args.enterprises:,} enterprises (first {WARM_UP_SECONDS:.0f} s are warm-up)\n"
        f"{text}: {'PASS' if ok else 'FAIL'}\n"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
