"""Read API latency and publish-to-visible delay, each beside its plain asyncpg or aiokafka path.

    python -m bench.bench_api [--enterprises 10000] [--rate 2000] [--seconds 10]
                              [--connections 32] [--client aiohttp|httpx] [--bulk 10000]
                              [--bulk-runs 10] [--publish-rate 1000] [--publish-seconds 10]
                              [--publish-batch 10] [--seed 0]

The service (`jointcase serve`, relay included) and a worker (`jointcase worker`) run as their
own processes on a scratch database and a fresh topic prefix. First, three findings from three
agencies for each of E enterprises are published (raw aiokafka) and projected, so the stored
statuses are a mix of CLEAR, WATCH and BLACKLISTED (three serious findings make R3 list it).

1. Single-code lookups, `GET /v1/blacklist/{uscc}` with a bank token, open loop at a fixed
   rate over keep-alive connections; latency counts from each request's scheduled send time,
   so queueing in the client or the service shows. Beside it the same load shape running the
   route's SQL through an asyncpg pool. Target: p99 <= 5 ms at 2,000 requests/s.
2. `POST /v1/blacklist/bulk` with 10,000 codes, beside the route's `uscc = ANY($1)` query.
   Target: <= 100 ms.
3. Publish to visible: batches of events POSTed to `/v1/events` at a steady rate, each event
   timed from its POST until its enterprise's `case_file.event_count` shows it (one
   connection polls every pending enterprise every 20 ms). Beside it the same events produced
   straight to the topics with aiokafka, timed the same way. Target: p99 <= 500 ms at
   1,000 events/s.

The load runs on uvloop with aiohttp: httpx spends about ten times more CPU per request, which
at 2,000 requests/s on a small machine saturates the client before the service (`--client
httpx` shows it). Uses the broker at KAFKA_BOOTSTRAP_SERVERS, else starts a local one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import httpx
import orjson
import uvloop
from aiokafka import AIOKafkaProducer

from bench.bench_gateway import scratch_database, service
from bench.bench_worker import batches, worker_process
from bench.findings import FINDING_MIX
from events.uscc import complete
from services import auth, db
from services.broker import ensure_topics, external_or_local
from services.kafka import producer_kwargs
from services.logging import configure
from services.topics import topic_for

FINDINGS_PER_ENTERPRISE = 3
POLL_SECONDS = 0.02
DRAIN_SECONDS = 60.0  # how long a published event may take to show before it counts as lost
CLIENT_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_read=60)

# The SQL of the routes, run bare: the baselines.
STATUS_SQL = (
    "SELECT body::text AS body, (SELECT coalesce(max(cursor), 0) FROM blacklist_change) AS v "
    "FROM blacklist_status WHERE uscc = $1"
)
BULK_SQL = """
SELECT uscc, status, since, publication_ends_at, body->'measures' AS measures,
       jsonb_path_query_array(body, '$.listings[*].basis.rule_id') AS rule_ids
FROM blacklist_status WHERE uscc = ANY($1::text[])
"""
COUNTS_SQL = "SELECT uscc, event_count FROM case_file WHERE uscc = ANY($1::text[])"

# Weights give about 22 % CLEAR (no serious finding), 72 % WATCH and 6 % BLACKLISTED (all
# three serious, from three agencies).
_SEVERITIES = ("info", "minor", "serious", "critical")
_SEVERITY_WEIGHTS = (0.30, 0.30, 0.25, 0.15)


def enterprise_codes(n: int) -> list[str]:
    return [complete(f"91{130100 + (e % 7) * 100}{e:09d}") for e in range(n)]


def finding(
    rng: random.Random, code: str, stream: str, dimension: str, occurred: datetime, lag: timedelta
) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "FindingRecorded",
        "stream": stream,
        "enterprise": code,
        "occurred_at": occurred.isoformat(),
        "recorded_at": (occurred + lag).isoformat(),
        "actor": f"officer-{rng.randrange(97)}",
        "payload": {
            "dimension": dimension,
            "severity": rng.choices(_SEVERITIES, _SEVERITY_WEIGHTS)[0],
            "violation_code": f"V-{rng.randrange(50)}",
            "description": "现场检查发现问题，责令限期整改",
        },
    }


def load_records(codes: list[str], prefix: str, seed: int) -> Iterator[tuple[str, bytes, bytes]]:
    """(topic, key, value): three findings per enterprise from three agencies, all within a
    few weeks of each other in the past year."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    for code in codes:
        first = now - timedelta(days=rng.uniform(30, 330))
        for stream, dimension in rng.sample(FINDING_MIX, FINDINGS_PER_ENTERPRISE):
            occurred = first + timedelta(days=rng.uniform(0, 20))
            doc = finding(rng, code, stream, dimension, occurred, timedelta(hours=2))
            yield topic_for(stream, prefix), code.encode(), orjson.dumps(doc)


async def publish_load(bootstrap: str, prefix: str, codes: list[str], seed: int) -> None:
    producer = AIOKafkaProducer(**producer_kwargs(bootstrap, "local", linger_ms=20))
    await producer.start()
    try:
        pending = []
        for topic, key, value in load_records(codes, prefix, seed):
            pending.append(await producer.send(topic, value, key=key))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def wait_projected(conn: asyncpg.Connection, n: int, worker: int, log: Path) -> None:
    while await conn.fetchval("SELECT coalesce(sum(event_count), 0) FROM case_file") < n:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            raise RuntimeError(f"the worker has exited; its log: {log}") from None
        await asyncio.sleep(0.1)


# --- open-loop load -------------------------------------------------------------------


@dataclass(slots=True)
class Figures:
    """Latencies in seconds of the calls that succeeded, and the rate actually achieved."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    rate: float = 0.0

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies)
        return xs[max(0, math.ceil(q * len(xs)) - 1)] if xs else math.nan

    @property
    def worst(self) -> float:
        return max(self.latencies, default=math.nan)


async def open_loop(call: Callable[[], Awaitable[bool]], rate: float, seconds: float) -> Figures:
    """Start `call` at a fixed rate whatever the earlier calls are doing, and time each from
    the moment it was due (not from when it started), so a backlog anywhere counts."""
    out = Figures()
    n = max(1, round(rate * seconds))
    tasks: set[asyncio.Task[None]] = set()
    last = 0.0

    async def one(due: float) -> None:
        nonlocal last
        try:
            ok = await call()
        except Exception:
            ok = False
        done = time.perf_counter()
        last = max(last, done)
        if ok:
            out.latencies.append(done - due)
        else:
            out.errors += 1

    start = time.perf_counter()
    i = 0
    while i < n:
        now = time.perf_counter()
        while i < n and start + i / rate <= now:
            task = asyncio.create_task(one(start + i / rate))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
        await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
    await asyncio.gather(*tasks)
    out.rate = n / (last - start)
    return out


# --- lookups --------------------------------------------------------------------------

Get = Callable[[str], Awaitable[int]]


@contextlib.asynccontextmanager
async def getter(kind: str, url: str, token: str, connections: int) -> AsyncIterator[Get]:
    """GET a path and answer its status, over at most `connections` keep-alive connections.
    Waiting for a free connection has no time limit: an overloaded service shows as latency,
    not as client-side errors."""
    headers = {"Authorization": f"Bearer {token}"}
    if kind == "httpx":
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        timeout = httpx.Timeout(30, pool=None)
        async with httpx.AsyncClient(
            base_url=url, headers=headers, limits=limits, timeout=timeout
        ) as client:

            async def httpx_get(path: str) -> int:
                return (await client.get(path)).status_code

            yield httpx_get
        return
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(
        url, headers=headers, connector=connector, timeout=CLIENT_TIMEOUT
    ) as session:

        async def aiohttp_get(path: str) -> int:
            async with session.get(path) as response:
                await response.read()
                return response.status

        yield aiohttp_get


async def lookups(
    url: str, pool: asyncpg.Pool, token: str, codes: list[str], args: argparse.Namespace
) -> tuple[Figures, Figures]:
    rng = random.Random(args.seed)
    async with getter(args.client, url, token, args.connections) as get:

        async def route() -> bool:
            return await get(f"/v1/blacklist/{rng.choice(codes)}") == 200

        async def query() -> bool:
            return await pool.fetchrow(STATUS_SQL, rng.choice(codes)) is not None

        # A second of each first: connections, token cache, plans and buffers warm up.
        await open_loop(route, args.rate, 1)
        await open_loop(query, args.rate, 1)
        return (
            await open_loop(route, args.rate, args.seconds),
            await open_loop(query, args.rate, args.seconds),
        )


async def bulk(
    http: aiohttp.ClientSession,
    pool: asyncpg.Pool,
    token: str,
    codes: list[str],
    args: argparse.Namespace,
) -> tuple[list[float], list[float]]:
    chosen = random.Random(args.seed).choices(codes, k=args.bulk)
    body = orjson.dumps({"codes": chosen})
    headers = {"Authorization": f"Bearer {token}"}
    http_times: list[float] = []
    sql_times: list[float] = []
    for i in range(args.bulk_runs + 1):  # the first of each is a warm-up
        start = time.perf_counter()
        async with http.post("/v1/blacklist/bulk", data=body, headers=headers) as response:
            answer = await response.read()
        elapsed = time.perf_counter() - start
        if response.status != 200:
            raise RuntimeError(f"bulk: {response.status}: {answer[:300]!r}")
        if len(orjson.loads(answer)["answers"]) != len(chosen):
            raise RuntimeError("bulk: an answer is missing")
        if i:
            http_times.append(elapsed)
        start = time.perf_counter()
        await pool.fetch(BULK_SQL, chosen)
        if i:
            sql_times.append(time.perf_counter() - start)
    return http_times, sql_times


# --- publish to visible ---------------------------------------------------------------


class Visibility:
    """Events sent and not yet seen in `case_file`, by enterprise, in the order sent.

    An enterprise's n-th event is visible once its event count reaches n. Each enterprise is
    sent at most one event per pass over them, so two events of one enterprise are rarely in
    flight together and the count names which one arrived."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts
        self.pending: dict[str, deque[tuple[int, float]]] = {}
        self.delays: list[float] = []

    def expect(self, code: str, sent: float) -> tuple[int, float]:
        self.counts[code] = self.counts.get(code, 0) + 1
        entry = (self.counts[code], sent)
        self.pending.setdefault(code, deque()).append(entry)
        return entry

    def forget(self, code: str, entry: tuple[int, float]) -> None:
        queue = self.pending.get(code)
        if queue is not None and entry in queue:
            queue.remove(entry)
            if not queue:
                del self.pending[code]

    async def watch(self, conn: asyncpg.Connection, sending: asyncio.Event) -> int:
        """Poll until sending is over and everything sent is visible (or DRAIN_SECONDS have
        passed since); returns how many events never showed."""
        deadline = math.inf
        while True:
            asked = time.perf_counter()
            if self.pending:
                for row in await conn.fetch(COUNTS_SQL, list(self.pending)):
                    queue = self.pending[row["uscc"]]
                    while queue and queue[0][0] <= row["event_count"]:
                        # The snapshot was taken just after `asked`: visible by then.
                        self.delays.append(asked - queue.popleft()[1])
                    if not queue:
                        del self.pending[row["uscc"]]
            if sending.is_set():
                deadline = min(deadline, asked + DRAIN_SECONDS)
                if not self.pending or asked > deadline:
                    return sum(len(q) for q in self.pending.values())
            await asyncio.sleep(max(0.0, asked + POLL_SECONDS - time.perf_counter()))


@dataclass(slots=True)
class Visible:
    acks: Figures  # POST answered or produce acknowledged, from its due time
    delays: Figures  # each event, from its send until visible
    lost: int
    worker_batches: list[dict[str, Any]]


Send = Callable[[str, list[dict[str, Any]]], Awaitable[None]]


async def publish_to_visible(
    dsn: str, codes: list[str], send: Send, args: argparse.Namespace, seconds: float, log: Path
) -> Visible:
    conn = await asyncpg.connect(dsn)
    try:
        counts = {r["uscc"]: r["event_count"] for r in await conn.fetch(COUNTS_SQL, codes)}
        seen = Visibility(counts)
        rng = random.Random(args.seed)

        def passes() -> Iterator[str]:
            while True:
                order = codes[:]
                rng.shuffle(order)
                yield from order

        order = passes()

        async def call() -> bool:
            stream, dimension = rng.choice(FINDING_MIX)
            batch = [next(order) for _ in range(args.publish_batch)]
            now = datetime.now(UTC)
            docs = [finding(rng, c, stream, dimension, now, timedelta()) for c in batch]
            sent = time.perf_counter()
            entries = [seen.expect(c, sent) for c in batch]
            try:
                await send(stream, docs)
            except Exception:
                for c, entry in zip(batch, entries, strict=True):
                    seen.forget(c, entry)
                raise
            return True

        sending = asyncio.Event()
        watcher = asyncio.create_task(seen.watch(conn, sending))
        began = time.time()
        try:
            acks = await open_loop(call, args.publish_rate / args.publish_batch, seconds)
        finally:
            sending.set()
        lost = await watcher
        ended = time.time()
    finally:
        await conn.close()
    acks.rate *= args.publish_batch
    delays = Figures(seen.delays, acks.errors * args.publish_batch, acks.rate)
    during = [b for b in batches(log) if began <= b["started"] <= ended]
    return Visible(acks, delays, lost, during)


def gateway_sender(http: aiohttp.ClientSession, tokens: dict[str, str]) -> Send:
    async def send(stream: str, docs: list[dict[str, Any]]) -> None:
        headers = {"Authorization": f"Bearer {tokens[stream]}"}
        async with http.post("/v1/events", data=orjson.dumps(docs), headers=headers) as response:
            answer = await response.read()
        if response.status != 202 or orjson.loads(answer)["accepted"] != len(docs):
            raise RuntimeError(f"{response.status}: {answer[:300]!r}")

    return send


def raw_sender(producer: AIOKafkaProducer, prefix: str) -> Send:
    async def send(stream: str, docs: list[dict[str, Any]]) -> None:
        topic = topic_for(stream, prefix)
        futures = [
            await producer.send(
                topic,
                orjson.dumps(d),
                key=d["enterprise"].encode(),
                headers=[("event_type", b"FindingRecorded"), ("event_id", d["event_id"].encode())],
            )
            for d in docs
        ]
        await asyncio.gather(*futures)

    return send


# --- the run --------------------------------------------------------------------------


@dataclass(slots=True)
class Results:
    projection_seconds: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    get: Figures = field(default_factory=Figures)
    fetch: Figures = field(default_factory=Figures)
    bulk_http: list[float] = field(default_factory=list)
    bulk_sql: list[float] = field(default_factory=list)
    gateway: Visible | None = None
    raw: Visible | None = None


async def _issue(dsn: str, roles: list[str]) -> dict[str, str]:
    conn = await asyncpg.connect(dsn)
    try:
        return {role: await auth.issue(conn, role, "benchmark") for role in roles}
    finally:
        await conn.close()


async def run(bootstrap: str, args: argparse.Namespace) -> Results:
    out = Results()
    prefix = f"benchapi{uuid.uuid4().hex[:6]}."
    await ensure_topics(bootstrap, prefix, 12, 1)
    codes = enterprise_codes(args.enterprises)
    log = Path(tempfile.mkdtemp()) / "worker.log"
    async with (
        scratch_database() as dsn,
        service(dsn, bootstrap, prefix, args.http_workers) as url,
        worker_process(dsn, bootstrap, prefix, log) as worker,
    ):
        streams = sorted({s for s, _ in FINDING_MIX})
        tokens = await _issue(dsn, ["bank:benchmark", *(f"agency:{s}" for s in streams)])
        conn = await asyncpg.connect(dsn)
        try:
            start = time.perf_counter()
            await publish_load(bootstrap, prefix, codes, args.seed)
            async with asyncio.timeout(600):
                await wait_projected(conn, len(codes) * FINDINGS_PER_ENTERPRISE, worker, log)
            out.projection_seconds = time.perf_counter() - start
            rows = await conn.fetch("SELECT status, count(*) AS n FROM blacklist_status GROUP BY 1")
            out.statuses = {r["status"]: r["n"] for r in rows}
        finally:
            await conn.close()

        headers = {"Content-Type": "application/json"}
        http = aiohttp.ClientSession(url, headers=headers, timeout=CLIENT_TIMEOUT)
        pool = await db.create_pool(dsn)  # what the service uses: 10 connections at most
        try:
            bank = tokens["bank:benchmark"]
            out.get, out.fetch = await lookups(url, pool, bank, codes, args)
            out.bulk_http, out.bulk_sql = await bulk(http, pool, bank, codes, args)

            send = gateway_sender(http, {s: tokens[f"agency:{s}"] for s in streams})
            await publish_to_visible(dsn, codes, send, args, 1, log)
            out.gateway = await publish_to_visible(
                dsn, codes, send, args, args.publish_seconds, log
            )
        finally:
            await pool.close()
            await http.close()
        producer = AIOKafkaProducer(**producer_kwargs(bootstrap, "local", client_id="bench-api"))
        await producer.start()
        try:
            send = raw_sender(producer, prefix)
            await publish_to_visible(dsn, codes, send, args, 1, log)
            out.raw = await publish_to_visible(dsn, codes, send, args, args.publish_seconds, log)
        finally:
            await producer.stop()
    return out


async def _main(args: argparse.Namespace) -> Results:
    async with external_or_local() as bootstrap:
        return await run(bootstrap, args)


# --- report ---------------------------------------------------------------------------


def _ms(seconds: float) -> float:
    return seconds * 1000


def _median(xs: list[float]) -> float:
    ys = sorted(xs)
    return (ys[(len(ys) - 1) // 2] + ys[len(ys) // 2]) / 2 if ys else math.nan


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(r: Results, args: argparse.Namespace) -> None:
    w = sys.stdout.write
    mix = ", ".join(f"{s} {n:,}" for s, n in sorted(r.statuses.items()))
    n = args.enterprises * FINDINGS_PER_ENTERPRISE
    w(f"enterprises: {args.enterprises:,}, {n:,} findings projected in ")
    w(f"{r.projection_seconds:.1f} s; statuses: {mix}\n\n")

    w(f"single-code lookup, open loop at {args.rate:,.0f} requests/s for {args.seconds:g} s, ")
    w(f"{args.connections} HTTP connections, {args.http_workers} service process(es), ")
    w("asyncpg pool of 10\n")
    w(f"{'':32}{'achieved/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}\n")
    for label, f in (("GET /v1/blacklist/{uscc}", r.get), ("asyncpg, the route's query", r.fetch)):
        w(f"{label:32}{f.rate:>11,.0f}{_ms(f.pct(0.5)):>9.2f}{_ms(f.pct(0.99)):>9.2f}")
        w(f"{_ms(f.worst):>9.2f}{f.errors:>8,}\n")
    w(f"{'HTTP / asyncpg':32}{'':11}{r.get.pct(0.5) / r.fetch.pct(0.5):>9.1f}")
    w(f"{r.get.pct(0.99) / r.fetch.pct(0.99):>9.1f}{r.get.worst / r.fetch.worst:>9.1f}\n")
    ok = r.get.pct(0.99) <= 0.005 and r.get.rate >= 0.95 * args.rate and not r.get.errors
    w(f"target p99 <= 5 ms at {args.rate:,.0f} requests/s: {_verdict(ok)}\n\n")

    w(f"bulk status of {args.bulk:,} codes, {args.bulk_runs} runs\n")
    w(f"{'':32}{'median ms':>11}{'max ms':>9}\n")
    for label, xs in (("POST /v1/blacklist/bulk", r.bulk_http), ("asyncpg, ANY($1)", r.bulk_sql)):
        w(f"{label:32}{_ms(_median(xs)):>11.1f}{_ms(max(xs)):>9.1f}\n")
    w(f"{'HTTP / asyncpg':32}{_median(r.bulk_http) / _median(r.bulk_sql):>11.1f}")
    w(f"{max(r.bulk_http) / max(r.bulk_sql):>9.1f}\n")
    w(f"target <= 100 ms: median {_verdict(_median(r.bulk_http) <= 0.1)}, ")
    w(f"max {_verdict(max(r.bulk_http) <= 0.1)}\n\n")

    assert r.gateway is not None and r.raw is not None
    w(f"publish to visible in case_file, {args.publish_rate:,.0f} events/s for ")
    w(f"{args.publish_seconds:g} s in batches of {args.publish_batch} (polled every ")
    w(f"{POLL_SECONDS * 1000:.0f} ms)\n")
    w(f"{'':26}{'events/s':>9}{'ack p99':>9}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}")
    w(f"{'errors':>7}{'lost':>6}{'batches':>8}\n")
    rows = (("gateway -> relay -> worker", r.gateway), ("aiokafka -> worker", r.raw))
    for label, v in rows:
        d = v.delays
        w(f"{label:26}{v.acks.rate:>9,.0f}{_ms(v.acks.pct(0.99)):>9.1f}{_ms(d.pct(0.5)):>8.0f}")
        w(f"{_ms(d.pct(0.99)):>8.0f}{_ms(d.worst):>8.0f}{d.errors:>7,}{v.lost:>6,}")
        w(f"{len(v.worker_batches):>8,}\n")
    g, raw = r.gateway.delays, r.raw.delays
    w(f"{'gateway / aiokafka':26}{'':18}{g.pct(0.5) / raw.pct(0.5):>8.1f}")
    w(f"{g.pct(0.99) / raw.pct(0.99):>8.1f}{g.worst / raw.worst:>8.1f}\n")
    for label, v in rows:
        if v.worker_batches:
            sizes = [float(b["consumed"]) for b in v.worker_batches]
            took = [_ms(b["seconds"]) for b in v.worker_batches]
            w(f"worker batches, {label}: median {_median(sizes):,.0f} events in ")
            w(f"{_median(took):.0f} ms, largest {max(sizes):,.0f}, slowest {max(took):.0f} ms\n")
    ok = g.pct(0.99) <= 0.5 and r.gateway.delays.rate >= 0.95 * args.publish_rate
    ok = ok and not (g.errors or r.gateway.lost)
    w(f"target p99 <= 500 ms at {args.publish_rate:,.0f} events/s: {_verdict(ok)}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--enterprises", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=2000, help="lookups per second")
    parser.add_argument("--seconds", type=float, default=10, help="length of each lookup run")
    parser.add_argument("--connections", type=int, default=32, help="HTTP keep-alive pool")
    parser.add_argument(
        "--client",
        choices=("aiohttp", "httpx"),
        default="aiohttp",
        help="HTTP client of the lookups; httpx spends about ten times more CPU per request",
    )
    parser.add_argument(
        "--http-workers",
        type=int,
        default=2,
        help="HTTP processes of the service (serve --workers)",
    )
    parser.add_argument("--bulk", type=int, default=10_000, help="codes per bulk request")
    parser.add_argument("--bulk-runs", type=int, default=10)
    parser.add_argument("--publish-rate", type=float, default=1000, help="events per second")
    parser.add_argument("--publish-seconds", type=float, default=10)
    parser.add_argument("--publish-batch", type=int, default=10, help="events per request")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    configure(level="WARNING")
    # The service runs on uvloop; so does the load, whose own overhead would otherwise sit in
    # every latency it measures.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        results = runner.run(_main(args))
    report(results, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
