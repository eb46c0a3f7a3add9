"""`jointcase run`: everything on one machine — local broker, PostgreSQL schema, the HTTP
service with its relay, a projection worker — then the demonstration scenario loaded through
the write path, who is listed and why, and where to look next."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import uvicorn

from projections import worker
from services import auth, db, demo, scenario
from services.broker import LocalBroker, ensure_topics_for
from services.config import Settings
from services.gateway import create_app
from services.logging import get_logger

log = get_logger(__name__)


@contextlib.asynccontextmanager
async def _broker(settings: Settings) -> AsyncIterator[Settings]:
    if not settings.uses_local_broker:
        yield settings
        return
    async with LocalBroker(settings.local_broker_listen) as broker:
        yield settings.model_copy(update={"kafka_bootstrap_servers": broker.bootstrap})


class _QuietServer(uvicorn.Server):
    """Leaves signals to the embedded runner, which stops the parts in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def _service(settings: Settings) -> AsyncIterator[str]:
    server = _QuietServer(
        uvicorn.Config(
            create_app(settings),
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the HTTP service stopped during start-up")
        await asyncio.sleep(0.05)
    try:
        yield f"http://{settings.http_host}:{settings.http_port}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def _worker(settings: Settings) -> AsyncIterator[None]:
    app, _ = worker.create_app(settings)
    await app.start()
    try:
        yield
    finally:
        await app.stop()


async def run(settings: Settings, keep_running: bool) -> int:
    await db.upgrade(settings.database_url)
    async with _broker(settings) as settings:
        await ensure_topics_for(settings)
        async with _service(settings) as url, _worker(settings):
            pool = await db.create_pool(settings.database_url, max_size=2)
            try:
                now = datetime.now(UTC)
                events = scenario.events(now)
                roles = {demo.role_for(e.stream) for e in events}
                tokens = await demo.issue_tokens(pool, roles, "demonstration scenario")
                loaded = await demo.publish(url, tokens, events)
                print(
                    f"\nscenario: {len(events)} events through {url}/v1/events: "
                    f"{loaded.accepted} accepted, {loaded.duplicate} already stored, "
                    f"{len(loaded.rejected)} rejected"
                )
                for line in loaded.rejected[:10]:
                    print(f"  rejected {line}")
                if loaded.rejected:
                    print("  (a scenario loaded on an earlier day keeps its own dates)")
                await demo.wait_projected(pool, events)
                demo.print_report(await demo.report(pool, list(scenario.NAMES)), now)
                users = {
                    role: await auth.issue(pool, role, "jointcase run")
                    for role in ("taskforce", "admin", "bank:demo")
                }
            finally:
                await pool.close()
            print(f"\njointcase is running: {url}   (API docs: {url}/docs)")
            print(f"task-force console: {url}/console/   (sign in with the taskforce token)")
            print(f"broker: {settings.bootstrap_servers}   database: {settings.database_url}")
            print("tokens (send as 'Authorization: Bearer <token>'):")
            for role, token in {
                **users,
                "agency:environment": tokens["agency:environment"],
            }.items():
                print(f"  {role:<20} {token}")
            print("read models: psql " + settings.database_url)
            print("  SELECT uscc, name, credit_status, max_severity, agencies FROM case_file;")
            print("  SELECT * FROM blacklist_change ORDER BY cursor;")
            if keep_running:
                print("\nCtrl-C stops everything.")
                await _until_signal()
    return 0


async def _until_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def main(settings: Settings, port: int | None, keep_running: bool) -> int:
    if port is not None:
        settings = settings.model_copy(update={"http_port": port})
    return asyncio.run(run(settings, keep_running))
