"""Views of an enterprise's event set: its canonical order, and what was known at a time.

Every read model is a pure function of an event *set*: the same events given in any order, any
number of times, must give the same result. `canonical` turns whatever the caller has into that
set, in one agreed order; `as_of` keeps what had been recorded by a time, so the same functions
answer "what did we know on date X" (as-of view).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from events import Event, to_json


def _key(event: Event) -> tuple[datetime, datetime, UUID]:
    return (event.occurred_at, event.recorded_at, event.event_id)


def _tiebreak(event: Event) -> tuple[datetime, datetime, UUID, bytes]:
    return (*_key(event), to_json(event))


def canonical(events: Iterable[Event]) -> list[Event]:
    """The events once each (by `event_id`), ordered by (occurred_at, recorded_at, event_id).

    Two different events under one id break the idempotency contract and the event store refuses
    them; should they still meet here, the one first in that order (then by its JSON) is kept, so
    the answer does not depend on which copy came first.
    """
    unique: dict[UUID, Event] = {}
    for event in events:
        seen = unique.get(event.event_id)
        if seen is None or (seen != event and _tiebreak(event) < _tiebreak(seen)):
            unique[event.event_id] = event
    return sorted(unique.values(), key=_key)


def require_aware(t: datetime, name: str = "time") -> datetime:
    """Refuse naive datetimes: comparing them with event times would silently guess a zone."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {t.isoformat()}")
    return t


def as_of(events: Iterable[Event], t: datetime) -> list[Event]:
    """The events recorded at or before `t` (``recorded_at <= t``), in canonical order.

    Feeding the result to `build_case_file` or `evaluate` gives the case file or the blacklist
    status as they stood at `t`, with what the agencies had recorded by then.
    """
    require_aware(t, "t")
    return canonical(e for e in events if e.recorded_at <= t)
