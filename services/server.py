"""Process runners: the HTTP service under uvicorn, and the relay on its own."""

from __future__ import annotations

import asyncio

import uvicorn

from services import db
from services.config import Settings
from services.gateway import create_app
from services.relay import Relay


def serve(
    settings: Settings, host: str | None = None, port: int | None = None, run_relay: bool = True
) -> None:
    app = create_app(settings, run_relay=run_relay)
    uvicorn.run(
        app,
        host=host or settings.http_host,
        port=port or settings.http_port,
        log_config=None,  # structlog owns logging
        access_log=False,
        # Open watch-list streams would otherwise hold shutdown; clients resume with
        # Last-Event-ID and lose nothing.
        timeout_graceful_shutdown=5,
    )


def run_relay(settings: Settings) -> None:
    async def go() -> None:
        pool = await db.create_pool(settings.database_url, max_size=2)
        try:
            await Relay(settings, pool).run()
        finally:
            await pool.close()

    asyncio.run(go())
