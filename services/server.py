"""Process runners: the HTTP service under uvicorn, and the relay on its own."""

from __future__ import annotations

import asyncio
import os
import tempfile

import uvicorn
from fastapi import FastAPI

from services import config, db, logging
from services.config import Settings
from services.gateway import create_app
from services.memory import tune_gc
from services.relay import Relay

# Read by each HTTP process when there are several (they build the app from the environment).
_RUN_RELAY = "JOINTCASE_HTTP_RUN_RELAY"


def serve(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    run_relay: bool = True,
    workers: int | None = None,
) -> None:
    """`workers` processes share the port (each with its own pools, and its own relay: relays
    share the outbox safely); BENCHMARKS.md has the rates of one."""
    workers = workers or settings.http_workers
    options = {
        "host": host or settings.http_host,
        "port": port or settings.http_port,
        "log_config": None,  # structlog owns logging
        "access_log": False,
        # Open watch-list streams would otherwise hold shutdown; clients resume with
        # Last-Event-ID and lose nothing.
        "timeout_graceful_shutdown": 5,
    }
    if workers == 1:
        app = create_app(settings, run_relay=run_relay)
        tune_gc()
        uvicorn.run(app, **options)  # type: ignore[arg-type]
        return
    os.environ[_RUN_RELAY] = "1" if run_relay else "0"
    # Each process writes its metrics there; /metrics in any of them reports all of them. The
    # directory must start empty: what is in it counts.
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="jointcase-metrics-")
    uvicorn.run(
        "services.server:app_from_environment",
        factory=True,
        workers=workers,
        **options,  # type: ignore[arg-type]
    )


def app_from_environment() -> FastAPI:
    """The app of one of several HTTP processes."""
    settings = config.load()
    logging.configure(settings.log_format, settings.log_level)
    app = create_app(settings, run_relay=os.environ.get(_RUN_RELAY, "1") == "1")
    tune_gc()
    return app


def run_relay(settings: Settings) -> None:
    async def go() -> None:
        pool = await db.create_pool(settings.database_url, max_size=2)
        try:
            await Relay(settings, pool).run()
        finally:
            await pool.close()

    asyncio.run(go())
