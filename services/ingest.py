"""Ingesting events over HTTP: decode, authorise, validate, store. Plain functions, no framework."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import orjson

from events import Event, FieldError, InvalidEvent, Stream, check_clock, parse_event
from services import eventstore
from services.auth import Principal
from services.eventstore import AppendOutcome

_STREAM_NAMES = frozenset(s.value for s in Stream)


class RequestRefused(Exception):
    """The request as a whole is refused; nothing in it was stored."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(reason)


@dataclass(slots=True)
class EventResult:
    index: int
    event_id: str | None
    status: str  # accepted | duplicate | rejected
    errors: list[FieldError] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "index": self.index,
            "event_id": self.event_id,
            "status": self.status,
        }
        if self.errors:
            out["errors"] = [e.as_dict() for e in self.errors]
        return out


@dataclass(slots=True)
class IngestReport:
    results: list[EventResult]

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def http_status(self) -> int:
        # 202 once anything is durable (accepted or already known); 422 when nothing is.
        return 422 if all(r.status == "rejected" for r in self.results) else 202

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.count("accepted"),
            "duplicate": self.count("duplicate"),
            "rejected": self.count("rejected"),
            "results": [r.as_dict() for r in self.results],
        }


def decode_batch(body: bytes, max_events: int) -> list[Any]:
    """The request's events: one JSON object, or an array of up to `max_events` of them."""
    if not body.strip():
        raise RequestRefused(400, "empty body: send one event object or an array of events")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestRefused(400, f"malformed JSON: {exc}") from None
    if isinstance(data, dict):
        return [data]
    if not isinstance(data, list):
        raise RequestRefused(400, "body must be one event object or an array of events")
    if not data:
        raise RequestRefused(400, "empty array: send at least one event")
    if len(data) > max_events:
        raise RequestRefused(413, f"{len(data)} events in one request; the limit is {max_events}")
    return data


def authorise(items: list[Any], principal: Principal) -> None:
    """An agency writes only its own stream: a request naming another stream is refused whole."""
    for i, item in enumerate(items):
        stream = item.get("stream") if isinstance(item, dict) else None
        # Unknown stream names are left to validation, which names them as invalid.
        if isinstance(stream, str) and stream in _STREAM_NAMES and not principal.may_write(stream):
            raise RequestRefused(
                403, f"event {i}: role {principal.role!r} may not write stream {stream!r}"
            )


def _event_id_of(item: Any) -> str | None:
    value = item.get("event_id") if isinstance(item, dict) else None
    return value if isinstance(value, str) and len(value) <= 64 else None


def validate(
    items: list[Any], now: datetime, skew: timedelta
) -> tuple[list[EventResult], list[tuple[int, Event]]]:
    """Per-item results (rejected ones filled in) and the valid events, first of each id."""
    results: list[EventResult] = []
    valid: list[tuple[int, Event]] = []
    seen: set[object] = set()
    for i, item in enumerate(items):
        try:
            event = parse_event(item)
        except InvalidEvent as exc:
            results.append(EventResult(i, _event_id_of(item), "rejected", exc.errors))
            continue
        result = EventResult(i, str(event.event_id), "accepted")
        results.append(result)
        clock_errors = check_clock(event, now, skew)
        if clock_errors:
            result.status, result.errors = "rejected", clock_errors
        elif event.event_id in seen:
            result.status = "duplicate"  # repeated within this request
        else:
            seen.add(event.event_id)
            valid.append((i, event))
    return results, valid


async def ingest(
    pool: asyncpg.Pool,
    principal: Principal,
    body: bytes,
    *,
    now: datetime,
    skew: timedelta,
    max_events: int,
) -> IngestReport:
    """Store the request's valid events in one transaction (with their outbox rows) and report
    on each. Returns only after the commit: accepted means durable."""
    items = decode_batch(body, max_events)
    authorise(items, principal)
    results, valid = validate(items, now, skew)
    outcomes = await eventstore.append(pool, [e for _, e in valid], outbox=True)
    for (i, _), outcome in zip(valid, outcomes, strict=True):
        if outcome is AppendOutcome.DUPLICATE:
            results[i].status = "duplicate"
        elif outcome is AppendOutcome.CONFLICT:
            results[i].status = "rejected"
            results[i].errors = [
                FieldError("event_id", "already used by a different event; choose a new id")
            ]
    return IngestReport(results)
