"""Fault suite: the system under crashes and outages, against the real broker and PostgreSQL.

    python -m bench.faults [--kills 20] [--enterprises 400] [--per-enterprise 10]

1. Worker crashes: a load is published; a worker process is SIGKILLed at random points of the
   load (`--kills` times) and restarted; at the end the read models must equal a clean rebuild
   from the event store, with every event stored exactly once.
2. PostgreSQL outage under load: a private PostgreSQL server (initdb on a free port, so no other
   database is disturbed) is stopped and started again while clients post events to the gateway
   and a worker projects them. The gateway must answer only 202 or 503 (never 500, never hang),
   recover by itself, and every acknowledged event must be in the event store and in the read
   models at the end; the worker resumes without a restart.
3. Broker outage under load, the broker frozen and then restarted: ingest goes on (202),
   /readyz says 503, and the relay and the worker resume by themselves; no acknowledged event
   is lost (after a restart of the memory-only local broker, a rebuild projects what was lost
   with it from the event store).
The CI runs both with small parameters (tests/integration/test_faults.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

from bench.findings import FINDING_MIX
from events.uscc import complete
from projections.rebuild import rebuild
from projections.recompute import Rules
from services import auth, db
from services.broker import LocalBroker, ensure_topics, external_or_local, free_port
from services.config import Settings
from services.logging import configure
from services.producer import EventProducer

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
SERVER = os.environ.get("BENCH_POSTGRES_SERVER", "postgresql://postgres@127.0.0.1:5432")

_STREAMS = FINDING_MIX[:6]


def findings(enterprises: int, per_enterprise: int, seed: int = 0) -> list[dict[str, Any]]:
    """Findings spread over six agencies, so that many enterprises end up listed (R3)."""
    rng = random.Random(seed)
    base = datetime.now(UTC) - timedelta(days=200)
    out = []
    for i in range(per_enterprise):
        for n in range(enterprises):
            stream, dimension = _STREAMS[(n + i) % len(_STREAMS)]
            occurred = base + timedelta(days=i * 15, minutes=n)
            out.append(
                {
                    "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                    "event_type": "FindingRecorded",
                    "stream": stream,
                    "enterprise": complete(f"91130100{70_000 + n:09d}"),
                    "occurred_at": occurred.isoformat(),
                    "recorded_at": (occurred + timedelta(hours=1)).isoformat(),
                    "actor": "inspector",
                    "payload": {
                        "dimension": dimension,
                        "severity": rng.choice(["minor", "serious", "critical"]),
                        "violation_code": f"V-{i}",
                        "description": "现场检查发现问题",
                    },
                }
            )
    return out


async def read_models(dsn: str) -> dict[str, Any]:
    """The read models without the times of writing and evaluation."""
    conn = await asyncpg.connect(dsn)
    try:
        cases = {
            r["uscc"]: r["body"]
            for r in await conn.fetch("SELECT uscc, body::text AS body FROM case_file")
        }
        statuses = {}
        for r in await conn.fetch("SELECT uscc, body::text AS body FROM blacklist_status"):
            body = orjson.loads(r["body"])
            body.pop("evaluated_at")
            statuses[r["uscc"]] = body
        return {"cases": cases, "statuses": statuses}
    finally:
        await conn.close()


def _worker(settings: Settings, log: Any) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "DATABASE_URL": settings.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "TOPIC_PREFIX": settings.topic_prefix,
        "WORKER_MAX_BATCH": str(settings.worker_max_batch),
        "SCHEDULER_INTERVAL_SECONDS": "3600",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "worker"], env=env, stdout=log, stderr=log
    )


async def _count(conn: asyncpg.Connection, sql: str) -> int:
    return int(await conn.fetchval(sql))


@dataclass
class KillReport:
    events: int
    kills: int
    stored: int
    seconds: float
    identical_to_rebuild: bool
    kill_points: list[int] = field(default_factory=list)  # events stored at each kill


async def worker_kills(
    bootstrap: str, kills: int, enterprises: int, per_enterprise: int, seed: int = 1
) -> KillReport:
    start = time.perf_counter()
    rng = random.Random(seed)
    prefix = f"fault{uuid.uuid4().hex[:6]}."
    await ensure_topics(bootstrap, prefix, 12, 1)
    items = findings(enterprises, per_enterprise, seed)
    async with EventProducer(bootstrap, topic_prefix=prefix) as producer:
        results = await producer.send_batch(items)
    if not all(r.ok for r in results):
        raise RuntimeError("the load was not published")
    name = f"jointcase_fault_{uuid.uuid4().hex[:8]}"
    dsn = f"{SERVER}/{name}"
    await db.upgrade(dsn)
    settings = Settings(
        database_url=dsn, kafka_bootstrap_servers=bootstrap, topic_prefix=prefix,
        worker_max_batch=50,
    )  # fmt: skip
    # Kill points: random numbers of stored events, increasing, inside the load.
    points = sorted(rng.sample(range(len(items) // 20, len(items) * 9 // 10), kills))
    conn = await asyncpg.connect(dsn)
    try:
        with tempfile.TemporaryFile() as log:
            for point in points:
                worker = _worker(settings, log)
                try:
                    async with asyncio.timeout(120):
                        while await _count(conn, "SELECT count(*) FROM event_store") < point:
                            await asyncio.sleep(0.01)
                finally:
                    worker.send_signal(signal.SIGKILL)
                    worker.wait()
            worker = _worker(settings, log)
            try:
                async with asyncio.timeout(300):
                    while await _count(
                        conn, "SELECT coalesce(sum(event_count), 0) FROM case_file"
                    ) < len(items):
                        await asyncio.sleep(0.1)
            finally:
                worker.terminate()
                worker.wait()
        stored = await _count(conn, "SELECT count(*) FROM event_store")
        projected = await read_models(dsn)
        await rebuild(dsn, Rules())
        identical = projected == await read_models(dsn)
        return KillReport(len(items), kills, stored, time.perf_counter() - start, identical, points)
    finally:
        await conn.close()
        admin = await asyncpg.connect(f"{SERVER}/postgres")
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


# --- PostgreSQL outage ----------------------------------------------------------------


class PrivatePostgres:
    """A throwaway PostgreSQL server of our own, so stopping it disturbs nobody else."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="jc-pg-"))
        self.data = self.dir / "data"
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/jointcase"

    def _pg(self, *args: str) -> None:
        # initdb and pg_ctl refuse to run as root.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *args], check=True, capture_output=True)

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self._pg(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def start(self) -> None:
        self._pg(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-l", str(self.dir / "log"),
            "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._pg(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.asynccontextmanager
async def private_postgres() -> AsyncIterator[PrivatePostgres]:
    pg = PrivatePostgres()
    await asyncio.to_thread(pg.init)
    await asyncio.to_thread(pg.start)
    try:
        yield pg
    finally:
        await asyncio.to_thread(pg.remove)


@contextlib.asynccontextmanager
async def _service_and_worker(dsn: str, bootstrap: str, prefix: str) -> AsyncIterator[Settings]:
    """The HTTP service (uvicorn, its relay included) and a projector, in this process."""
    import uvicorn

    from projections.worker import Projector
    from services.gateway import create_app

    settings = Settings(
        database_url=dsn, kafka_bootstrap_servers=bootstrap, topic_prefix=prefix,
        http_port=free_port(), relay_poll_seconds=0.2, scheduler_interval_seconds=3600,
    )  # fmt: skip
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=settings.http_port,
            log_config=None, timeout_graceful_shutdown=2,
        )
    )  # fmt: skip
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    projector = Projector(settings, Rules())
    await projector.start()
    try:
        yield settings
    finally:
        await projector.stop()
        server.should_exit = True
        await serving


@dataclass
class OutageReport:
    acknowledged: int
    unavailable_answers: int  # 503 while PostgreSQL was down
    other_answers: dict[int, int]  # anything but 202 / 503: must stay empty
    stored: int
    projected: int
    recovered_after_seconds: float


async def postgres_outage(
    bootstrap: str, outage_seconds: float = 3.0, clients: int = 4, batch: int = 20
) -> OutageReport:
    """Clients post batches to the gateway (a real uvicorn server) while a worker projects;
    PostgreSQL goes down for a while and comes back."""
    async with private_postgres() as pg:
        await db.upgrade(pg.dsn)
        prefix = f"outage{uuid.uuid4().hex[:6]}."
        await ensure_topics(bootstrap, prefix, 12, 1)
        conn = await asyncpg.connect(pg.dsn)
        token = await auth.issue(conn, "agency:environment")
        await conn.close()
        async with _service_and_worker(pg.dsn, bootstrap, prefix) as settings:
            return await _postgres_outage(pg, settings, token, outage_seconds, clients, batch)


async def _postgres_outage(
    pg: PrivatePostgres,
    settings: Settings,
    token: str,
    outage_seconds: float,
    clients: int,
    batch: int,
) -> OutageReport:
    acknowledged: set[str] = set()
    answers: dict[int, int] = {}
    stop = asyncio.Event()
    down_since: list[float] = []
    recovered: list[float] = []

    async def client() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        url = f"http://127.0.0.1:{settings.http_port}"
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as http:
            while not stop.is_set():
                items = [
                    e | {"stream": "environment"}
                    for e in findings(25, 1, seed=random.getrandbits(32))[:batch]
                ]
                r = await http.post("/v1/events", content=orjson.dumps(items))
                answers[r.status_code] = answers.get(r.status_code, 0) + 1
                if r.status_code == 202:
                    acknowledged.update(x["event_id"] for x in items)
                    if down_since and not recovered:
                        recovered.append(time.perf_counter() - down_since[0])
                elif r.status_code == 503:
                    await asyncio.sleep(float(r.headers.get("retry-after", "1")) / 4)
                else:
                    await asyncio.sleep(0.1)

    workers = [asyncio.create_task(client()) for _ in range(clients)]
    await asyncio.sleep(2)
    await asyncio.to_thread(pg.stop)
    down_since.append(time.perf_counter())
    await asyncio.sleep(outage_seconds)
    await asyncio.to_thread(pg.start)
    async with asyncio.timeout(60):
        while not recovered:
            await asyncio.sleep(0.1)
    await asyncio.sleep(2)
    stop.set()
    await asyncio.gather(*workers)

    conn = await asyncpg.connect(pg.dsn)
    try:
        stored_ids = {
            str(r["event_id"]) for r in await conn.fetch("SELECT event_id FROM event_store")
        }
        async with asyncio.timeout(120):
            while await _count(conn, "SELECT coalesce(sum(event_count), 0) FROM case_file") < len(
                stored_ids
            ):
                await asyncio.sleep(0.1)
        projected = await _count(conn, "SELECT coalesce(sum(event_count), 0) FROM case_file")
    finally:
        await conn.close()
    return OutageReport(
        acknowledged=len(acknowledged),
        unavailable_answers=answers.get(503, 0),
        other_answers={c: k for c, k in answers.items() if c not in (202, 503)},
        stored=len(acknowledged & stored_ids),
        projected=projected,
        recovered_after_seconds=recovered[0],
    )


@dataclass(frozen=True, slots=True)
class BrokerOutageReport:
    acknowledged: int
    answers: dict[int, int]  # the gateway's answers to posts, outage included: only 202
    ready_during: dict[int, int]  # /readyz while the broker was down: 503, promptly
    slowest_ready_seconds: float
    stored: int  # acknowledged events in the event store
    projected: int  # events in the read models at the end (after a rebuild, for a restart)
    resumed_after_seconds: float  # from the broker's return until the worker caught up
    projected_after_return: int  # events the worker projected once the broker was back


async def broker_outage(
    outage_seconds: float = 3.0, clients: int = 2, *, restart: bool = False
) -> BrokerOutageReport:
    """Clients post to the gateway while a worker projects; the broker stops answering for a
    while, then comes back: frozen (SIGSTOP, as in a network partition or a hung broker), or
    with `restart` stopped and started again.

    Ingest does not need the broker (events go to the event store and its outbox), so the
    gateway keeps answering 202; /readyz answers 503 within its time limit; the relay and the
    worker carry on by themselves once the broker is back. The local broker keeps everything in
    memory, so after a restart it is empty: the topics are declared again as it starts, the worker
    starts over on them, and what was on the old broker and not yet projected is only in the
    event store, from which `jointcase rebuild` projects it (the report's `projected` is after
    one). Apache Kafka keeps its log across a restart."""
    from bench.bench_gateway import scratch_database

    async with LocalBroker(f"127.0.0.1:{free_port()}") as broker, scratch_database() as dsn:
        prefix = f"brokerout{uuid.uuid4().hex[:6]}."
        await ensure_topics(broker.bootstrap, prefix, 12, 1)
        conn = await asyncpg.connect(dsn)
        try:
            token = await auth.issue(conn, "agency:environment")
            async with _service_and_worker(dsn, broker.bootstrap, prefix) as settings:
                return await _broker_outage(
                    broker, conn, settings, token, outage_seconds, clients, restart
                )
        finally:
            await conn.close()


async def _broker_outage(
    broker: LocalBroker,
    conn: asyncpg.Connection,
    settings: Settings,
    token: str,
    outage_seconds: float,
    clients: int,
    restart: bool,
) -> BrokerOutageReport:
    assert broker.pid is not None
    url = f"http://127.0.0.1:{settings.http_port}"
    acknowledged: set[str] = set()
    answers: dict[int, int] = {}
    ready: dict[int, int] = {}
    slowest_ready = 0.0
    stop = asyncio.Event()

    async def client() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=15) as http:
            while not stop.is_set():
                items = [
                    e | {"stream": "environment"}
                    for e in findings(25, 1, seed=random.getrandbits(32))[:10]
                ]
                r = await http.post("/v1/events", content=orjson.dumps(items))
                answers[r.status_code] = answers.get(r.status_code, 0) + 1
                if r.status_code == 202:
                    acknowledged.update(x["event_id"] for x in items)
                await asyncio.sleep(0.05)

    async def stored_and_projected() -> tuple[int, int]:
        return (
            await _count(conn, "SELECT count(*) FROM event_store"),
            await _count(conn, "SELECT coalesce(sum(event_count), 0) FROM case_file"),
        )

    try:
        posting = [asyncio.create_task(client()) for _ in range(clients)]
        await asyncio.sleep(2)
        if restart:
            await broker.stop()
        else:
            os.kill(broker.pid, signal.SIGSTOP)
        frozen_until = time.monotonic() + outage_seconds
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            while time.monotonic() < frozen_until:
                began = time.perf_counter()
                r = await http.get("/readyz")
                slowest_ready = max(slowest_ready, time.perf_counter() - began)
                ready[r.status_code] = ready.get(r.status_code, 0) + 1
        if restart:
            # As `jointcase broker --prefix` does on start: declared at once, before a client's
            # request for a topic by name makes the empty broker create it with its default
            # partition count.
            await broker.start()
            await ensure_topics(broker.bootstrap, settings.topic_prefix, 12, 1)
        else:
            os.kill(broker.pid, signal.SIGCONT)
        back = time.perf_counter()
        _, projected_at_return = await stored_and_projected()
        await asyncio.sleep(2)
        stop.set()
        await asyncio.gather(*posting)
        async with asyncio.timeout(120):
            while await _count(conn, "SELECT count(*) FROM outbox"):
                await asyncio.sleep(0.1)  # everything relayed to the broker
            while True:
                stored, projected = await stored_and_projected()
                if projected >= stored or (restart and projected > projected_at_return):
                    break
                await asyncio.sleep(0.1)
        resumed = time.perf_counter() - back
        if restart:
            await asyncio.sleep(2)  # the worker finishes what the relay sent
            projected_after_return = projected - projected_at_return
            await rebuild(settings.database_url, Rules(), jobs=1)
            stored, projected = await stored_and_projected()
        else:
            projected_after_return = projected - projected_at_return
        stored_ids = {
            str(r["event_id"]) for r in await conn.fetch("SELECT event_id FROM event_store")
        }
    finally:
        if broker.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(broker.pid, signal.SIGCONT)
    return BrokerOutageReport(
        acknowledged=len(acknowledged),
        answers=answers,
        ready_during=ready,
        slowest_ready_seconds=slowest_ready,
        stored=len(acknowledged & stored_ids),
        projected=projected,
        resumed_after_seconds=resumed,
        projected_after_return=projected_after_return,
    )


async def _main(args: argparse.Namespace) -> int:
    async with external_or_local() as bootstrap:
        kills = await worker_kills(bootstrap, args.kills, args.enterprises, args.per_enterprise)
        print(
            f"worker SIGKILLed {kills.kills} times over {kills.events:,} events "
            f"({kills.seconds:.0f} s): stored {kills.stored:,}, read models identical to a "
            f"clean rebuild: {kills.identical_to_rebuild}"
        )
        outage = await postgres_outage(bootstrap, args.outage_seconds)
        frozen = await broker_outage(args.outage_seconds)
        restarted = await broker_outage(args.outage_seconds, restart=True)
        print(
            f"PostgreSQL down {args.outage_seconds:.0f} s under load: "
            f"{outage.acknowledged:,} events acknowledged, {outage.stored:,} of them stored, "
            f"{outage.projected:,} projected; {outage.unavailable_answers} answers 503, "
            f"other answers {outage.other_answers or 'none'}; gateway recovered "
            f"{outage.recovered_after_seconds:.1f} s after the outage began"
        )
        print(
            f"broker frozen {args.outage_seconds:.0f} s under load: "
            f"{frozen.acknowledged:,} events acknowledged, {frozen.stored:,} of them stored, "
            f"{frozen.projected:,} projected; gateway answers {frozen.answers}; /readyz during "
            f"the outage {frozen.ready_during} (slowest {frozen.slowest_ready_seconds:.1f} s); "
            f"every stored event visible {frozen.resumed_after_seconds:.1f} s after its return"
        )
        print(
            f"broker restarted (empty: memory only) after {args.outage_seconds:.0f} s under "
            f"load: {restarted.acknowledged:,} events acknowledged, {restarted.stored:,} of "
            f"them stored; gateway answers {restarted.answers}; /readyz during the outage "
            f"{restarted.ready_during}; the worker projected {restarted.projected_after_return:,} "
            f"events from the new broker; after a rebuild {restarted.projected:,} projected"
        )
    ok = (
        kills.identical_to_rebuild
        and kills.stored == kills.events
        and not outage.other_answers
        and outage.stored == outage.acknowledged
        and set(frozen.answers) == {202}
        and frozen.stored == frozen.acknowledged
        and frozen.projected >= frozen.stored
        and restarted.stored == restarted.acknowledged
        and restarted.projected == restarted.stored
    )
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--enterprises", type=int, default=400)
    parser.add_argument("--per-enterprise", type=int, default=10)
    parser.add_argument("--outage-seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    configure(level="WARNING")
    return asyncio.run(_main(args))


if __name__ == "__main__":
    raise SystemExit(main())
