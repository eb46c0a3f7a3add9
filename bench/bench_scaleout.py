"""Scale-out: throughput with 1, 2 and 3 workers on 12 partitions, and the rebalance when one
of three stops.

    python -m bench.bench_scaleout [--events 60000] [--enterprises 6000]

For each worker count: a fresh database and consumer group over the same published load; the
rate runs from the first batch's start to the last batch's end over all workers (their logs).
Then, with three workers running, one is stopped (SIGTERM) while more events arrive: the
rebalance time is from the stop to the moment the other two hold all partitions, and every
event must still be projected. Uses the broker at KAFKA_BOOTSTRAP_SERVERS, else a local one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from bench.bench_gateway import scratch_database
from bench.bench_worker import log_lines, publish
from services.broker import ensure_topics, external_or_local
from services.logging import configure
from services.topics import stream_topics

PARTITIONS = 12


async def start_workers(
    dsn: str, bootstrap: str, prefix: str, group: str, logs: list[Path]
) -> list[Any]:
    """One worker per log, a second apart: Faust declares its leader-election topic at start,
    and three processes declaring it at the same instant on the local broker all stalled."""
    procs = []
    for i, log in enumerate(logs):
        if i:
            await asyncio.sleep(1)
        procs.append(start_worker(dsn, bootstrap, prefix, group, log))
    return procs


def start_worker(dsn: str, bootstrap: str, prefix: str, group: str, log: Path) -> Any:
    env = os.environ | {
        "DATABASE_URL": dsn,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "TOPIC_PREFIX": prefix,
        "WORKER_GROUP": group,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "SCHEDULER_INTERVAL_SECONDS": "3600",
    }
    out = log.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "worker"], env=env, stdout=out, stderr=out
    )


async def projected(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT coalesce(sum(event_count), 0) FROM case_file"))


async def wait_projected(conn: asyncpg.Connection, n: int) -> None:
    # Seldom: the sum is a scan that takes CPU from the workers. Rates come from their logs.
    async with asyncio.timeout(900):
        while await projected(conn) < n:
            await asyncio.sleep(1.0)


async def throughput(bootstrap: str, prefix: str, n: int, workers: int) -> float:
    logs = [Path(tempfile.mkdtemp()) / f"w{i}.log" for i in range(workers)]
    group = f"scale-{uuid.uuid4().hex[:6]}"
    async with scratch_database() as dsn:
        procs = await start_workers(dsn, bootstrap, prefix, group, logs)
        conn = await asyncpg.connect(dsn)
        try:
            await wait_projected(conn, n)
        finally:
            await conn.close()
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait()
    batches = [b for log in logs for b in log_lines(log, "batch projected")]
    first = min(b["started"] for b in batches)
    last = max(b["started"] + b["seconds"] for b in batches)
    return float(n / (last - first))


def _ts(line: dict[str, Any]) -> float:
    return datetime.fromisoformat(line["timestamp"]).timestamp()


async def rebalance(bootstrap: str, prefix: str, n: int, enterprises: int) -> dict[str, float]:
    """Seconds from stopping one of three workers until the other two hold every partition."""
    logs = [Path(tempfile.mkdtemp()) / f"w{i}.log" for i in range(3)]
    group = f"rebalance-{uuid.uuid4().hex[:6]}"
    total = len(stream_topics(prefix)) * PARTITIONS
    async with scratch_database() as dsn:
        procs = await start_workers(dsn, bootstrap, prefix, group, logs)
        conn = await asyncpg.connect(dsn)
        try:
            await wait_projected(conn, n)
            procs[2].terminate()
            stopped = time.time()
            procs[2].wait()
            # More events while the group rebalances: none may be lost.
            await publish(bootstrap, prefix, n // 4, enterprises, start=n)
            async with asyncio.timeout(300):
                while True:
                    counts = []
                    for log in logs[:2]:
                        assigned = [
                            x for x in log_lines(log, "partitions assigned") if _ts(x) > stopped
                        ]
                        counts.append(assigned[-1]["count"] if assigned else 0)
                    if sum(counts) == total:
                        break
                    await asyncio.sleep(0.2)
            moved = max(
                _ts(x)
                for log in logs[:2]
                for x in log_lines(log, "partitions assigned")
                if _ts(x) > stopped
            )
            await wait_projected(conn, n + n // 4)
            return {"rebalance_seconds": moved - stopped, "projected": await projected(conn)}
        finally:
            await conn.close()
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait()


async def run(bootstrap: str, n: int, enterprises: int) -> dict[str, float]:
    prefix = f"scale{uuid.uuid4().hex[:6]}."
    await ensure_topics(bootstrap, prefix, PARTITIONS, 1)
    await publish(bootstrap, prefix, n, enterprises)
    out: dict[str, float] = {}
    for k in (1, 2, 3):
        out[f"workers_{k}"] = await throughput(bootstrap, prefix, n, k)
    r = await rebalance(bootstrap, prefix, n, enterprises)
    out |= r
    out["expected_after_stop"] = n + n // 4
    return out


async def _main(n: int, enterprises: int) -> dict[str, float]:
    async with external_or_local() as bootstrap:
        return await run(bootstrap, n, enterprises)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--enterprises", type=int, default=6_000)
    args = parser.parse_args(argv)
    configure(level="WARNING")
    f = asyncio.run(_main(args.events, args.enterprises))
    w = sys.stdout.write
    w(f"events: {args.events:,} over {args.enterprises:,} enterprises, {PARTITIONS} partitions\n")
    for k in (1, 2, 3):
        ratio = f[f"workers_{k}"] / f["workers_1"]
        w(f"{k} worker(s):  {f[f'workers_{k}']:>8,.0f} events/s   ({ratio:.2f} x one)\n")
    w(f"rebalance after stopping 1 of 3: {f['rebalance_seconds']:.1f} s\n")
    w(f"projected after the stop: {f['projected']:,.0f} of {f['expected_after_stop']:,.0f}\n")
    return 0 if f["projected"] == f["expected_after_stop"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
