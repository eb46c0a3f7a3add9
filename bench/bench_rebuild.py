"""`jointcase rebuild` over a large event store, beside the replay floor in the same run.

    python -m bench.bench_rebuild [--events 1000000] [--enterprises 100000] [--jobs N]

(`bench.bench_worker` runs it too, as its last part.)

1. Fills a scratch event store with N `FindingRecorded` events over E enterprises (the worker
   benchmark's events, copied in with COPY: no worker needed).
2. The replay floor: the same processes and chunks as the rebuild, each reading its
   enterprises' events and decoding them, folding and writing nothing. No rebuild that replays
   the events can beat it.
3. `rebuild` into empty read models, then again over the read models it wrote (rows updated
   in place, as when the policy changes).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import asyncpg

from bench.bench_gateway import scratch_database
from bench.findings import records
from projections import readmodels
from projections.rebuild import default_jobs, plan, rebuild
from projections.recompute import Rules
from services import eventstore
from services.logging import configure
from services.memory import tune_gc

_COPY_COLUMNS = (
    "event_id",
    "event_type",
    "schema_version",
    "stream",
    "enterprise",
    "occurred_at",
    "recorded_at",
    "body",
)


async def seed(dsn: str, n: int, enterprises: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        rows = []
        for _, _, value in records(n, enterprises, ""):
            r = eventstore.row_of(eventstore.decode(value))
            rows.append(
                (
                    r.event_id,
                    r.event_type,
                    r.schema_version,
                    r.stream,
                    r.enterprise,
                    r.occurred_at,
                    r.recorded_at,
                    r.body.decode(),
                )
            )
            if len(rows) == 50_000:
                await conn.copy_records_to_table("event_store", records=rows, columns=_COPY_COLUMNS)
                rows.clear()
        await conn.copy_records_to_table("event_store", records=rows, columns=_COPY_COLUMNS)
        await conn.execute("VACUUM ANALYZE event_store")
    finally:
        await conn.close()


# --- the replay floor: one process per job, as the rebuild runs ---------------------------

_floor: tuple[asyncio.AbstractEventLoop, asyncpg.Connection] | None = None


def _start(dsn: str) -> None:
    global _floor
    loop = asyncio.new_event_loop()
    _floor = (loop, loop.run_until_complete(asyncpg.connect(dsn)))
    tune_gc()


def _replay(usccs: list[str]) -> None:
    assert _floor is not None
    loop, conn = _floor
    histories = loop.run_until_complete(readmodels.histories(conn, usccs))
    for bodies in histories.values():
        for body in bodies:
            eventstore.decode(body)


async def replay_floor(dsn: str, jobs: int) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        usccs = [
            r["enterprise"]
            for r in await conn.fetch("SELECT DISTINCT enterprise FROM event_store ORDER BY 1")
        ]
    finally:
        await conn.close()
    start = time.perf_counter()
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(
        jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_start, initargs=(dsn,)
    ) as pool:

        async def job(chunks: list[list[str]]) -> None:
            for chunk in chunks:  # one at a time per job, as the rebuild runs them
                await loop.run_in_executor(pool, _replay, chunk)

        await asyncio.gather(*(job(chunks) for chunks in plan(usccs, jobs)))
    return time.perf_counter() - start


async def measure(events: int, enterprises: int, jobs: int) -> dict[str, float]:
    async with scratch_database() as dsn:
        start = time.perf_counter()
        await seed(dsn, events, enterprises)
        out = {"seed_seconds": time.perf_counter() - start}
        out["floor_seconds"] = await replay_floor(dsn, jobs)
        out["empty_seconds"] = (await rebuild(dsn, Rules(), jobs=jobs)).seconds
        out["again_seconds"] = (await rebuild(dsn, Rules(), jobs=jobs)).seconds
    return out


def report(f: dict[str, float], events: int, enterprises: int, jobs: int) -> None:
    w = sys.stdout.write
    w(f"rebuild: {events:,} stored events over {enterprises:,} enterprises, {jobs} jobs\n")
    w(f"  store filled (COPY) in:           {f['seed_seconds']:>8.1f} s\n")
    w(f"  replay floor (read + decode):     {f['floor_seconds']:>8.1f} s\n")
    w(f"  rebuild into empty read models:   {f['empty_seconds']:>8.1f} s\n")
    w(f"  rebuild over its own read models: {f['again_seconds']:>8.1f} s\n")
    w(f"  rebuild (again) / replay floor:   {f['again_seconds'] / f['floor_seconds']:>8.2f}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--enterprises", type=int, default=0, help="default: events / 10")
    parser.add_argument("--jobs", type=int, default=0, help="default: as `jointcase rebuild`")
    args = parser.parse_args(argv)
    enterprises = args.enterprises or max(1, args.events // 10)
    jobs = args.jobs or default_jobs()
    configure(level="WARNING")
    tune_gc()
    report(asyncio.run(measure(args.events, enterprises, jobs)), args.events, enterprises, jobs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
