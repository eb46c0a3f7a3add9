"""A real HTTP service (uvicorn on a free port) over the test database and broker."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from services import auth
from services.config import Settings
from services.fast_lookup import FastLookup
from services.gateway import create_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def fast_lookups(app: FastAPI) -> list[FastLookup]:
    """The fast lookups among the app's middleware."""
    if app.middleware_stack is None:  # built on the first request otherwise
        app.middleware_stack = app.build_middleware_stack()
    found = []
    layer: Any = app.middleware_stack
    while layer is not None:
        if isinstance(layer, FastLookup):
            found.append(layer)
        layer = getattr(layer, "app", None)
    return found


def fast_lookup_of(app: FastAPI) -> FastLookup:
    (found,) = fast_lookups(app)
    return found


@dataclass
class Service:
    url: str
    settings: Settings
    pool: asyncpg.Pool
    app: FastAPI

    async def token(self, role: str) -> str:
        return await auth.issue(self.pool, role)

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30)


async def start_service(
    settings: Settings, run_relay: bool
) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    app = create_app(settings, run_relay=run_relay)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=settings.http_port,
            log_config=None,
            lifespan="on",
            timeout_graceful_shutdown=5,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    return server, task


@pytest.fixture(scope="session")
async def service(
    database_url: str, kafka_bootstrap: str, pool: asyncpg.Pool
) -> AsyncIterator[Service]:
    """The HTTP service with its relay, publishing to topics under its own prefix."""
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=f"svc{uuid.uuid4().hex[:6]}.",
        http_port=free_port(),
        relay_poll_seconds=0.2,
    )
    server, task = await start_service(settings, run_relay=True)
    app = server.config.app
    assert isinstance(app, FastAPI)
    yield Service(f"http://127.0.0.1:{settings.http_port}", settings, pool, app)
    server.should_exit = True
    await task
