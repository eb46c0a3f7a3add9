"""`jointcase run`: everything on one machine — local broker, PostgreSQL schema, the HTTP
service with its relay — then the demonstration, and where to look next."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Iterator

import uvicorn

from services import auth, db
from services.broker import LocalBroker, ensure_topics
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


async def run(settings: Settings, keep_running: bool) -> int:
    await db.upgrade(settings.database_url)
    async with _broker(settings) as settings:
        await ensure_topics(
            settings.bootstrap_servers,
            settings.topic_prefix,
            settings.topic_partitions,
            settings.topic_replication_factor,
        )
        async with _service(settings) as url:
            pool = await db.create_pool(settings.database_url, max_size=2)
            try:
                tokens = {
                    role: await auth.issue(pool, role, "jointcase run")
                    for role in ("taskforce", "admin", "bank:demo", "agency:environment")
                }
            finally:
                await pool.close()
            print(f"\njointcase is running: {url}   (API docs: {url}/docs)")
            print(f"broker: {settings.bootstrap_servers}   database: {settings.database_url}")
            print("demo tokens (send as 'Authorization: Bearer <token>'):")
            for role, token in tokens.items():
                print(f"  {role:<20} {token}")
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
