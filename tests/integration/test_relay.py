"""The outbox relay: every committed event reaches Kafka, even when the relay is killed mid-flow."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import asyncpg
import pytest

from events import parse_event
from services import db, eventstore
from tests.factories import finding, uscc
from tests.fixtures_db import DatabaseFactory
from tests.integration.test_gateway import consume_until

pytestmark = pytest.mark.integration


async def _start_relay(dsn: str, bootstrap: str, prefix: str) -> asyncio.subprocess.Process:
    env = os.environ | {
        "DATABASE_URL": dsn,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "TOPIC_PREFIX": prefix,
        "RELAY_BATCH_SIZE": "50",
        "LOG_LEVEL": "WARNING",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "relay", env=env
    )


async def _outbox(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM outbox"))


async def test_relay_killed_mid_flow_delivers_every_event_after_restart(
    new_database: DatabaseFactory, kafka_bootstrap: str, topic_prefix: str
) -> None:
    dsn = await new_database()
    pool = await db.create_pool(dsn)
    try:
        events = [parse_event(finding(uscc(i))) for i in range(6000)]
        await eventstore.append(pool, events[:4000], outbox=True)

        relay = await _start_relay(dsn, kafka_bootstrap, topic_prefix)
        async with asyncio.timeout(60):
            while await _outbox(pool) > 3000:
                await asyncio.sleep(0.01)
        # More events arrive while it runs; then it dies without any chance to clean up.
        await eventstore.append(pool, events[4000:], outbox=True)
        relay.send_signal(signal.SIGKILL)
        await relay.wait()
        left = await _outbox(pool)
        assert 0 < left < 6000, "the relay must have been killed mid-flow"

        relay = await _start_relay(dsn, kafka_bootstrap, topic_prefix)
        try:
            async with asyncio.timeout(60):
                while await _outbox(pool) > 0:
                    await asyncio.sleep(0.05)
        finally:
            relay.terminate()
            await relay.wait()

        wanted = {str(e.event_id) for e in events}
        seen = await consume_until(kafka_bootstrap, [f"{topic_prefix}environment"], wanted)
        assert wanted <= seen.keys()
    finally:
        await pool.close()
