"""Recomputing enterprises: the one handler behind the worker, the scheduler and `rebuild`.

Load each enterprise's full event history from the event store, fold it with the pure
functions, emit the deadline notices that are due, and write the read models, all inside the
caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from events import Event
from projections import readmodels
from projections.blacklist import BlacklistStatus, evaluate, evaluate_case_file
from projections.casefile import CaseFile, build_case_file
from projections.deadlines import overdue_notices
from projections.policy import Policy
from services import eventstore
from services.db import Connection

CHUNK = 500  # enterprises loaded and folded at a time


@dataclass(frozen=True, slots=True)
class Recomputed:
    enterprises: int
    changes: int  # change-feed rows written
    notices: int  # deadline events emitted


def project(
    uscc: str, events: Sequence[Event], now: datetime, policy: Policy
) -> readmodels.Projection:
    """The read models of one enterprise (pure)."""
    cf = build_case_file(events, uscc=uscc, include_timeline=False)
    return readmodels.Projection(cf, _status(cf, events, now, policy))


def _status(
    cf: CaseFile, events: Sequence[Event], now: datetime, policy: Policy
) -> BlacklistStatus:
    # An event may legitimately occur slightly ahead of this clock (allowed skew): then the
    # evaluation has to leave it out, which only the event-level function does.
    if cf.last_occurred_at is not None and cf.last_occurred_at > now:
        return evaluate(events, now, policy, uscc=cf.uscc)
    return evaluate_case_file(cf, now, policy)


async def recompute(
    conn: Connection,
    usccs: Sequence[str],
    *,
    now: datetime,
    policy: Policy,
    known: Mapping[UUID, Event] | None = None,
) -> Recomputed:
    """Recompute and write these enterprises; the caller holds the transaction. `known`: events
    the caller has decoded already (a batch's), so their stored copies are not decoded again."""
    if not usccs:
        return Recomputed(0, 0, 0)
    await readmodels.lock_enterprises(conn, usccs)
    changes = notices = 0
    # In chunks, so memory holds a chunk's histories and case files, not the whole batch's.
    for i in range(0, len(usccs), CHUNK):
        chunk = usccs[i : i + CHUNK]
        histories = await readmodels.histories(conn, chunk, known or {})
        projections = []
        due_notices: list[Event] = []
        for uscc in chunk:
            events = histories[uscc]
            p = project(uscc, events, now, policy)
            due = overdue_notices(p.case_file, now)
            if due:
                due_notices.extend(due)
                p = project(uscc, [*events, *due], now, policy)
            projections.append(p)
        if due_notices:
            # Through the outbox, so the notices reach Kafka and every reader like any event.
            await eventstore.append(conn, due_notices, outbox=True)
        changes += await readmodels.save(conn, projections)
        notices += len(due_notices)
    return Recomputed(len(usccs), changes, notices)
