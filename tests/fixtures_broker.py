"""Broker fixtures: one real broker per test session, fresh topics per test (no mocks).

`KAFKA_BOOTSTRAP_SERVERS` set: use that broker (CI starts it beforehand). Otherwise a local
tansu broker is started on a free port for the session and stopped at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from services.broker import ensure_topics, external_or_local
from services.config import Settings


@pytest.fixture(scope="session")
async def kafka_bootstrap() -> AsyncIterator[str]:
    async with external_or_local() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def topic_partitions() -> int:
    """The configured count (TOPIC_PARTITIONS, default 12): processes a test starts read the
    same setting, and refuse topics with another count."""
    return Settings().topic_partitions


@pytest.fixture
async def topic_prefix(kafka_bootstrap: str, topic_partitions: int) -> str:
    """A prefix of this test's own, with every stream topic and the dead-letter topic created."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    await ensure_topics(kafka_bootstrap, prefix, topic_partitions, 1)
    return prefix
