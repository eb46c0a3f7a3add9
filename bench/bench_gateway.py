"""Gateway throughput: HTTP batches of 500 into the event store, beside raw aiokafka produce.

    python -m bench.bench_gateway [--events N] [--batch 500] [--clients 4]

The service runs as its own process (`jointcase serve`, relay included) on a scratch database;
this process posts pre-serialised batches from a few concurrent clients and counts events per
second until the last `202`, which means committed to the event store. It then waits until the
relay has published everything to Kafka (end-to-end figure). The baseline is raw aiokafka
producing the same events, pre-serialised, to the same broker in the same run.
Uses the broker at KAFKA_BOOTSTRAP_SERVERS, else starts a local one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import orjson

import events
from bench.bench_producer import _raw, event_dicts
from services import auth, db
from services.broker import ensure_topics, external_or_local, free_port
from services.logging import configure
from services.topics import topic_for

SERVER = os.environ.get("BENCH_POSTGRES_SERVER", "postgresql://postgres@127.0.0.1:5432")


@contextlib.asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    name = f"jointcase_bench_{uuid.uuid4().hex[:8]}"
    dsn = f"{SERVER}/{name}"
    await db.upgrade(dsn)
    try:
        yield dsn
    finally:
        admin = await asyncpg.connect(f"{SERVER}/postgres")
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@contextlib.asynccontextmanager
async def service(dsn: str, bootstrap: str, prefix: str, workers: int = 1) -> AsyncIterator[str]:
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": dsn,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "TOPIC_PREFIX": prefix,
        "LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "services.cli", "serve", "--port", str(port)),
        *("--workers", str(workers)),
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            for _ in range(200):
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/healthz")).status_code == 200:
                        await asyncio.sleep(0.5 * (workers - 1))  # the others start alike
                        break
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError("the service did not start")
        yield url
    finally:
        proc.terminate()
        await proc.wait()


async def _post_all(url: str, token: str, bodies: list[bytes], clients: int) -> float:
    queue = list(reversed(bodies))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:
            while queue:
                body = queue.pop()
                response = await http.post("/v1/events", content=body)
                if response.status_code != 202 or response.json()["rejected"]:
                    raise RuntimeError(f"{response.status_code}: {response.text[:300]}")

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - start


async def _outbox_drained(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        while await conn.fetchval("SELECT count(*) FROM outbox"):
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


def _one_stream(dicts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # One agency's token may write only its own stream.
    return [d | {"stream": "environment"} for d in dicts]


async def run(bootstrap: str, n: int, batch: int, clients: int) -> dict[str, float]:
    prefix = f"benchgw{uuid.uuid4().hex[:8]}."
    await ensure_topics(bootstrap, prefix, 12, 1)
    dicts = _one_stream(event_dicts(n))
    bodies = [orjson.dumps(dicts[i : i + batch]) for i in range(0, n, batch)]
    parsed = [events.parse_event(d) for d in dicts]
    records = [
        (
            topic_for(e.stream, prefix),
            e.enterprise.encode(),
            events.to_json(e),
            [("event_type", e.event_type.encode()), ("event_id", str(e.event_id).encode())],
        )
        for e in parsed
    ]
    await _raw(bootstrap, records[:1000])  # warm-up
    raw = await _raw(bootstrap, records)

    async with scratch_database() as dsn, service(dsn, bootstrap, prefix) as url:
        token = await _issue(dsn)
        warm = _one_stream(event_dicts(batch))
        await _post_all(url, token, [orjson.dumps(warm)], 1)
        start = time.perf_counter()
        gateway = await _post_all(url, token, bodies, clients)
        await _outbox_drained(dsn)
        end_to_end = time.perf_counter() - start
    return {
        "raw_events_per_s": n / raw,
        "gateway_events_per_s": n / gateway,
        "end_to_end_events_per_s": n / end_to_end,
        "ratio": raw / gateway,
    }


async def _issue(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        return await auth.issue(conn, "agency:environment", "benchmark")
    finally:
        await conn.close()


async def _main(n: int, batch: int, clients: int) -> dict[str, float]:
    async with external_or_local() as bootstrap:
        return await run(bootstrap, n, batch, clients)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500, help="events per request")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    args = parser.parse_args(argv)
    configure(level="WARNING")
    f = asyncio.run(_main(args.events, args.batch, args.clients))
    out = sys.stdout
    out.write(f"events: {args.events:,} in batches of {args.batch}, {args.clients} clients\n")
    out.write(f"raw aiokafka produce:          {f['raw_events_per_s']:>10,.0f} events/s\n")
    out.write(f"gateway (202 = committed):     {f['gateway_events_per_s']:>10,.0f} events/s\n")
    out.write(f"gateway + relay to Kafka:      {f['end_to_end_events_per_s']:>10,.0f} events/s\n")
    out.write(f"gateway / raw:                 {f['ratio']:>10.2f}\n")
    return 0 if f["gateway_events_per_s"] >= 20_000 else 1


if __name__ == "__main__":
    raise SystemExit(main())
