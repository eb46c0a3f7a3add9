"""The outbox relay: publishes events the gateway committed to PostgreSQL onto their Kafka topics.

At least once: rows leave the outbox only after Kafka acknowledged them, so a crash between
publish and delete publishes them again (consumers are idempotent by event_id). Woken by
LISTEN/NOTIFY, with a periodic poll as a safety net; several relays may run (SKIP LOCKED).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from services import db
from services.broker import BrokerError, ensure_topics_for
from services.config import Settings
from services.kafka import producer_kwargs_for
from services.logging import get_logger
from services.topics import topic_for

log = get_logger(__name__)

_CLAIM = """
SELECT o.position, e.event_id, e.event_type, e.stream, e.enterprise, e.body::text AS body
FROM outbox o JOIN event_store e USING (position)
ORDER BY o.position
LIMIT $1
FOR UPDATE OF o SKIP LOCKED
"""


class Relay:
    def __init__(self, settings: Settings, pool: asyncpg.Pool) -> None:
        self._settings = settings
        self._pool = pool
        self._wake = asyncio.Event()
        self._stopping = False
        self.published = 0

    async def publish_pending(self, producer: AIOKafkaProducer) -> int:
        """Publish one claimed batch from the outbox; returns how many were published."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(_CLAIM, self._settings.relay_batch_size)
            if not rows:
                return 0
            futures = [
                await producer.send(
                    topic_for(r["stream"], self._settings.topic_prefix),
                    value=r["body"].encode(),
                    key=r["enterprise"].encode(),
                    headers=[
                        ("event_type", r["event_type"].encode()),
                        ("event_id", str(r["event_id"]).encode()),
                    ],
                )
                for r in rows
            ]
            await asyncio.gather(*futures)
            await conn.execute(
                "DELETE FROM outbox WHERE position = ANY($1::bigint[])",
                [r["position"] for r in rows],
            )
        self.published += len(rows)
        return len(rows)

    async def run(self) -> None:
        """Run until cancelled, surviving database and broker outages with backoff."""
        backoff = 0.2
        while not self._stopping:
            try:
                await self._run_connected()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not (db.is_unavailable(exc) or _is_broker_error(exc)):
                    log.exception("relay error")
                else:
                    log.warning("relay waiting for dependency", error=repr(exc))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            else:
                backoff = 0.2

    async def _run_connected(self) -> None:
        # Producing to a missing topic would auto-create it with the broker's default
        # partition count; provision first so every topic has the one configured count.
        await ensure_topics_for(self._settings)
        producer = AIOKafkaProducer(
            **producer_kwargs_for(self._settings, client_id="jointcase-relay")
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()  # a failed start still holds its client
            raise
        listener = await self._pool.acquire()
        try:
            await listener.add_listener("jointcase_outbox", self._on_notify)
            log.info("relay started")
            while not listener.is_closed():
                self._wake.clear()
                while await self.publish_pending(producer):
                    pass
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._settings.relay_poll_seconds)
            raise ConnectionError("the LISTEN connection closed")
        finally:
            with contextlib.suppress(Exception):
                await listener.remove_listener("jointcase_outbox", self._on_notify)
            with contextlib.suppress(Exception):
                await self._pool.release(listener)
            await producer.stop()

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def pending(self) -> int:
        return int(await self._pool.fetchval("SELECT count(*) FROM outbox"))


def _is_broker_error(exc: BaseException) -> bool:
    return isinstance(exc, BrokerError) or type(exc).__module__.startswith("aiokafka")
