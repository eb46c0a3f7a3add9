"""A running API with a worker projecting into its database (module-scoped: each test module
gets its own enterprises but shares the service)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from projections.recompute import Rules
from projections.worker import Projector
from services.config import Settings
from tests.fixtures_http import Service


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Projector]:
    """A projector in this process (the Faust app's service, without the app around it)."""
    projector = Projector(settings, Rules())
    await projector.start()
    try:
        yield projector
    finally:
        await projector.stop()


ROLES = (
    "agency:environment",
    "agency:safety",
    "agency:quality",
    "agency:land",
    "taskforce",
    "bank:b1",
    "admin",
)


@dataclass
class Api:
    service: Service
    tokens: dict[str, str]

    def client(self, role: str | None = None) -> httpx.AsyncClient:
        return self.service.client(self.tokens[role] if role else None)


@pytest.fixture(scope="module")
async def api(service: Service) -> AsyncIterator[Api]:
    """The service with a worker projecting its topics into its database."""
    settings = Settings(
        database_url=service.settings.database_url,
        kafka_bootstrap_servers=service.settings.kafka_bootstrap_servers,
        topic_prefix=service.settings.topic_prefix,
        scheduler_interval_seconds=3600,
    )
    tokens = {role: await service.token(role) for role in ROLES}
    async with running(settings):
        yield Api(service, tokens)
