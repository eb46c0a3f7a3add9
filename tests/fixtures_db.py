"""PostgreSQL fixtures: a fresh, migrated database per test session (real server, no mocks)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from services import db

SERVER = os.environ.get("TEST_POSTGRES_SERVER", "postgresql://postgres@127.0.0.1:5432")

DatabaseFactory = Callable[[], Awaitable[str]]


@pytest.fixture(scope="session")
async def new_database() -> AsyncIterator[DatabaseFactory]:
    """Creates fresh migrated databases on demand; drops them all at the end of the session."""
    created: list[str] = []

    async def make() -> str:
        name = f"jointcase_test_{uuid.uuid4().hex[:10]}"
        created.append(name)
        dsn = f"{SERVER}/{name}"
        await db.upgrade(dsn)
        return dsn

    yield make
    admin = await asyncpg.connect(f"{SERVER}/postgres")
    try:
        for name in created:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def database_url(new_database: DatabaseFactory) -> str:
    return await new_database()


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    p = await db.create_pool(database_url)
    yield p
    await p.close()
