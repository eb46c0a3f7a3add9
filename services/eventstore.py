"""The event store of record in PostgreSQL (append-only, idempotent by event_id)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

import orjson
from pydantic import ValidationError

from events import CURRENT_VERSION, EVENT_ADAPTER, Event, InvalidEvent, parse_event, to_json
from services.db import Executor


class AppendOutcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # the same event was stored before: nothing changes
    CONFLICT = "conflict"  # the event_id is taken by a different event


@dataclass(frozen=True, slots=True)
class StoredEvent:
    position: int
    event: Event


_COLUMNS = """event_id, event_type, schema_version, stream, enterprise,
              occurred_at, recorded_at, body"""

_UNNEST = """unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::text[],
                     $6::timestamptz[], $7::timestamptz[], $8::text[])
             AS t(event_id, event_type, schema_version, stream, enterprise,
                  occurred_at, recorded_at, body)"""

# One statement, so one transaction: events and outbox rows commit together or not at all.
_APPEND_WITH_OUTBOX = f"""
WITH inserted AS (
    INSERT INTO event_store ({_COLUMNS})
    SELECT event_id, event_type, schema_version, stream, enterprise,
           occurred_at, recorded_at, body::jsonb
    FROM {_UNNEST}
    ON CONFLICT (event_id) DO NOTHING
    RETURNING position, event_id
), queued AS (
    INSERT INTO outbox (position) SELECT position FROM inserted
)
SELECT event_id FROM inserted
"""

_APPEND = f"""
INSERT INTO event_store ({_COLUMNS})
SELECT event_id, event_type, schema_version, stream, enterprise,
       occurred_at, recorded_at, body::jsonb
FROM {_UNNEST}
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id
"""


@dataclass(frozen=True, slots=True)
class Row:
    """An event as a row of the store: its indexed columns and its canonical JSON. Made once
    when the event is validated, so appending it needs no second decode."""

    event_id: UUID
    event_type: str
    schema_version: int
    stream: str
    enterprise: str
    occurred_at: datetime
    recorded_at: datetime
    body: bytes


def row_of(event: Event) -> Row:
    return Row(
        event.event_id,
        event.event_type,
        event.schema_version,
        event.stream.value,
        event.enterprise,
        event.occurred_at,
        event.recorded_at,
        to_json(event),
    )


def _columns(rows: Sequence[Row]) -> list[list[object]]:
    return [
        [r.event_id for r in rows],
        [r.event_type for r in rows],
        [r.schema_version for r in rows],
        [r.stream for r in rows],
        [r.enterprise for r in rows],
        [r.occurred_at for r in rows],
        [r.recorded_at for r in rows],
        [r.body.decode() for r in rows],
    ]


async def append(conn: Executor, events: Sequence[Event], *, outbox: bool) -> list[AppendOutcome]:
    """Append `events` (distinct event ids) and return one outcome per event, in order.

    With `outbox`, newly stored events are also queued for the relay to publish to Kafka, in
    the same statement. A resent event is a duplicate; a different event under a known id is a
    conflict and changes nothing.
    """
    return await append_rows(conn, [row_of(e) for e in events], outbox=outbox)


async def append_rows(conn: Executor, rows: Sequence[Row], *, outbox: bool) -> list[AppendOutcome]:
    """`append` for events already made into rows (`row_of`)."""
    if not rows:
        return []
    inserted = {
        r["event_id"]
        for r in await conn.fetch(_APPEND_WITH_OUTBOX if outbox else _APPEND, *_columns(rows))
    }
    outcomes = [AppendOutcome.ACCEPTED] * len(rows)
    missing = [i for i, r in enumerate(rows) if r.event_id not in inserted]
    if missing:
        same = await _compare(conn, [rows[i] for i in missing])
        for i in missing:
            if not same.get(rows[i].event_id, False):
                outcomes[i] = AppendOutcome.CONFLICT
            else:
                outcomes[i] = AppendOutcome.DUPLICATE
    return outcomes


async def _compare(conn: Executor, rows: list[Row]) -> dict[UUID, bool]:
    """For events whose id is taken: is the stored event the same one?"""
    found = await conn.fetch(
        """
        SELECT e.event_id, e.body = t.body::jsonb AS same,
               CASE WHEN e.body = t.body::jsonb THEN NULL ELSE e.body::text END AS stored
        FROM event_store e JOIN unnest($1::uuid[], $2::text[]) AS t(id, body)
             ON e.event_id = t.id
        """,
        [r.event_id for r in rows],
        [r.body.decode() for r in rows],
    )
    by_id = {r.event_id: r for r in rows}
    # jsonb equality settles nearly every resend; a differently written but equal event
    # (another UTC offset for the same instant, say) is compared as an event.
    return {
        f["event_id"]: bool(f["same"]) or _same_event(f["stored"], by_id[f["event_id"]])
        for f in found
    }


def _same_event(stored_body: str | None, row: Row) -> bool:
    if stored_body is None:
        return False
    try:
        return decode(stored_body) == decode(row.body)
    except InvalidEvent:
        return False


def decode(body: str | bytes) -> Event:
    """An event as stored (upcast to the current schema version).

    A stored event was valid when it was appended, and is nearly always at its type's current
    version: then the validator reads the JSON itself, ~25% faster than parsing it first. Any
    other body takes the general path, with its upcasting and its errors."""
    try:
        event = EVENT_ADAPTER.validate_json(body)
    except ValidationError:
        return parse_event(orjson.loads(body))
    if event.schema_version != CURRENT_VERSION[event.event_type]:
        return parse_event(orjson.loads(body))
    return event


async def count(conn: Executor) -> int:
    value = await conn.fetchval("SELECT count(*) FROM event_store")
    return int(value)


async def events_of(conn: Executor, enterprise: str) -> list[StoredEvent]:
    rows = await conn.fetch(
        "SELECT position, body::text AS body FROM event_store WHERE enterprise = $1 "
        "ORDER BY position",
        enterprise,
    )
    return [StoredEvent(r["position"], decode(r["body"])) for r in rows]
