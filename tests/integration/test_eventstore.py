"""The event store's append: idempotent by event_id, and a taken id never overwritten."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import pytest

from events import parse_event
from services import eventstore
from services.eventstore import AppendOutcome
from tests.factories import finding, uscc

pytestmark = pytest.mark.integration

ACCEPTED, DUPLICATE, CONFLICT = (
    AppendOutcome.ACCEPTED,
    AppendOutcome.DUPLICATE,
    AppendOutcome.CONFLICT,
)


async def test_resend_is_a_duplicate_and_a_different_event_under_a_taken_id_a_conflict(
    pool: asyncpg.Pool,
) -> None:
    code = uscc(7101)
    first = parse_event(finding(code, severity="minor"))
    second = parse_event(finding(code))
    assert await eventstore.append(pool, [first, second], outbox=False) == [ACCEPTED, ACCEPTED]

    # The same instants written with another UTC offset are the same event.
    beijing = timezone(timedelta(hours=8))
    reworded = first.model_copy(
        update={
            "occurred_at": first.occurred_at.astimezone(beijing),
            "recorded_at": first.recorded_at.astimezone(beijing),
        }
    )
    assert eventstore.row_of(reworded).body != eventstore.row_of(first).body
    changed = second.model_copy(update={"actor": "someone else"})
    fresh = parse_event(finding(code, stream="tax", dimension="tax_compliance"))
    rows = [eventstore.row_of(e) for e in (first, reworded, changed, fresh)]
    outcomes = await eventstore.append_rows(pool, rows, outbox=False)
    assert outcomes == [DUPLICATE, DUPLICATE, CONFLICT, ACCEPTED]

    stored = {s.event.event_id: s.event for s in await eventstore.events_of(pool, code)}
    assert stored == {e.event_id: e for e in (first, second, fresh)}  # the conflict changed nothing


def test_a_row_carries_the_columns_and_the_canonical_json_of_its_event() -> None:
    event = parse_event(finding(uscc(7102), occurred_at=datetime(2026, 3, 1, tzinfo=UTC)))
    row = eventstore.row_of(event)
    assert (row.event_id, row.event_type, row.stream, row.enterprise) == (
        event.event_id,
        "FindingRecorded",
        "environment",
        event.enterprise,
    )
    assert (row.occurred_at, row.recorded_at) == (event.occurred_at, event.recorded_at)
    assert eventstore.decode(row.body) == event
