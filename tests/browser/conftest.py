"""Fixtures for the console's browser tests: the real service (PostgreSQL, broker, relay and an
in-process projector) with the console mounted, and Debian's Chromium driven by Playwright.

The service is built here rather than taken from `tests.fixtures_http`, so the console's router
can be added to the app before it starts, for as long as the app does not include it itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Browser, BrowserContext, async_playwright

from services import auth, db
from services import console as console_app
from services.broker import ensure_topics
from services.config import Settings
from services.gateway import create_app
from tests.fixtures_api import running
from tests.fixtures_http import free_port

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

ROLES = (
    "taskforce",
    "admin",
    "bank:b1",
    "agency:market",
    "agency:environment",
    "agency:safety",
    "agency:quality",
    "agency:land",
    "agency:miit",
    "agency:steel_association",
    "agency:power",
)


# --- the service ------------------------------------------------------------------------


@dataclass
class ConsoleService:
    url: str
    tokens: dict[str, str]
    published: list[dict[str, Any]] = field(default_factory=list)

    def client(self, role: str) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30)

    async def publish(self, events: list[dict[str, Any]]) -> None:
        """Each event over HTTP with its own stream's token, as the agencies send them."""
        for e in events:
            role = "taskforce" if e["stream"] == "taskforce" else f"agency:{e['stream']}"
            async with self.client(role) as c:
                r = await c.post("/v1/events", json=e)
            assert r.status_code == 202, r.text
            self.published.append(e)

    async def until(self, path: str, ok: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Poll the API until the projection shows what `ok` expects (30 s at most)."""
        async with self.client("taskforce") as c, asyncio.timeout(30):
            while True:
                r = await c.get(path)
                if r.status_code == 200 and ok(r.json()):
                    return dict(r.json())
                await asyncio.sleep(0.1)


def _paths(app: FastAPI) -> set[str]:
    return {str(getattr(route, "path", "")) for route in app.routes}


@contextlib.asynccontextmanager
async def _serve(app: FastAPI, port: int) -> AsyncIterator[None]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        await serving


@pytest.fixture(scope="module")
async def console_service(
    new_database: Callable[[], Awaitable[str]], kafka_bootstrap: str
) -> AsyncIterator[ConsoleService]:
    """A fresh database, so lists and roll-ups hold exactly what the tests publish."""
    dsn = await new_database()
    settings = Settings(
        database_url=dsn,
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=f"con{uuid.uuid4().hex[:6]}.",
        http_port=free_port(),
        relay_poll_seconds=0.1,
        scheduler_interval_seconds=3600,
    )
    await ensure_topics(kafka_bootstrap, settings.topic_prefix, settings.topic_partitions, 1)
    app = create_app(settings)
    if "/console/" not in _paths(app):
        app.include_router(console_app.router)
    pool = await db.create_pool(dsn)
    try:
        tokens = {role: await auth.issue(pool, role) for role in ROLES}
        async with _serve(app, settings.http_port), running(settings):
            yield ConsoleService(f"http://127.0.0.1:{settings.http_port}", tokens)
    finally:
        await pool.close()


# --- the browser --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium: Playwright's own browser downloads are not used."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install -y chromium, or set CHROMIUM_PATH")
    return CHROMIUM


@pytest.fixture(scope="module")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=chromium, headless=True)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(
        viewport={"width": 1440, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    ctx.set_default_timeout(10_000)
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
