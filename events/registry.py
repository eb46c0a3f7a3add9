"""Parsing any event: the discriminated union, schema-version upcasting, and readable errors."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeAlias

import orjson
from pydantic import Field, TypeAdapter, ValidationError

from events import envelope as e

Event: TypeAlias = Annotated[
    e.FindingRecorded
    | e.FindingAmended
    | e.FindingRetracted
    | e.PenaltyImposed
    | e.RectificationVerified
    | e.IllegalSteelConfirmed
    | e.EquipmentRegistered
    | e.EquipmentDismantled
    | e.CapacityReductionTargetSet
    | e.CapacityReductionOverdue
    | e.CapacityReplacementApproved
    | e.EnterpriseRegistered
    | e.EnterpriseUpdated
    | e.TipOffReceived
    | e.TipOffVerified
    | e.TipOffClosed
    | e.PowerReading
    | e.PowerAnomalyDetected
    | e.CaseOpened
    | e.CaseAssigned
    | e.CaseEscalated
    | e.CaseClosed
    | e.CreditRepairApproved,
    Field(discriminator="event_type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

EVENT_TYPES: dict[str, type[e.Envelope]] = {
    cls.__name__: cls for cls in e.Envelope.__subclasses__()
}

# --- schema versions 版本演进 ---------------------------------------------------------
# A new version of an event type is added, never edited in place. Stored and incoming events of
# an older version are upcast, one step at a time, to the current one before validation.

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

CURRENT_VERSION: dict[str, int] = dict.fromkeys(EVENT_TYPES, 1)
_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def register_upcaster(event_type: str, from_version: int, fn: Upcaster) -> None:
    """`fn` turns the raw dict of version `from_version` into version `from_version + 1`."""
    _UPCASTERS[(event_type, from_version)] = fn
    CURRENT_VERSION[event_type] = max(CURRENT_VERSION.get(event_type, 1), from_version + 1)


def unregister_upcaster(event_type: str, from_version: int) -> None:
    _UPCASTERS.pop((event_type, from_version), None)
    versions = [v for (t, v) in _UPCASTERS if t == event_type]
    CURRENT_VERSION[event_type] = max(versions, default=0) + 1


# --- errors ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldError:
    """One reason an event was refused: `path` is the dotted field ("payload.severity")."""

    path: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


class InvalidEvent(ValueError):
    """An event that does not satisfy the contract; `errors` name every bad field."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{x.path or '(event)'}: {x.reason}" for x in errors))


def _path(loc: tuple[int | str, ...], tag: object) -> str:
    parts = list(loc)
    # The discriminated union puts the event type first in the location: drop it.
    if parts and parts[0] == tag:
        parts = parts[1:]
    return ".".join(str(x) for x in parts)


def _reason(err: Mapping[str, Any]) -> str:
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if err["type"] == "union_tag_invalid":
        msg = f"unknown event_type; known types: {', '.join(sorted(EVENT_TYPES))}"
    elif err["type"] == "union_tag_not_found":
        msg = "event_type is required"
    elif err["type"] == "extra_forbidden":
        msg = "unknown field"
    return msg


def _from_validation_error(exc: ValidationError, tag: object) -> InvalidEvent:
    errors = []
    for err in exc.errors(include_url=False, include_input=False):
        path = _path(err["loc"], tag)
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            path = "event_type"
        errors.append(FieldError(path, _reason(err)))
    return InvalidEvent(errors)


# --- parsing --------------------------------------------------------------------------


def _upcast(data: dict[str, Any]) -> dict[str, Any]:
    event_type = data.get("event_type")
    version = data.get("schema_version", 1)
    if not isinstance(event_type, str) or event_type not in CURRENT_VERSION:
        return data
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return data  # validation reports it
    current = CURRENT_VERSION[event_type]
    if version > current:
        raise InvalidEvent(
            [
                FieldError(
                    "schema_version",
                    f"{event_type} version {version} is newer than the latest known ({current})",
                )
            ]
        )
    while version < current:
        step = _UPCASTERS.get((event_type, version))
        if step is None:
            raise InvalidEvent(
                [FieldError("schema_version", f"no upcaster from {event_type} v{version}")]
            )
        data = step(copy.deepcopy(data))
        version += 1
        data["schema_version"] = version
    return data


def parse_event(data: object) -> Event:
    """Validate one event given as JSON-like data; raise `InvalidEvent` naming each bad field."""
    if not isinstance(data, dict):
        raise InvalidEvent([FieldError("", "an event must be a JSON object")])
    data = _upcast(data)
    try:
        return EVENT_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise _from_validation_error(exc, data.get("event_type")) from None


def parse_event_json(raw: bytes | str) -> Event:
    """Parse one event from JSON text."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent([FieldError("", f"malformed JSON: {exc}")]) from None
    return parse_event(data)


def to_json(event: Event) -> bytes:
    return event.__pydantic_serializer__.to_json(event)


def to_dict(event: Event) -> dict[str, Any]:
    return event.model_dump(mode="json")


def check_clock(event: Event, now: datetime, skew: timedelta) -> list[FieldError]:
    """Ingest-time checks against the receiver's clock: nothing recorded in the future, and
    nothing that happened after it was recorded (beyond the allowed clock skew)."""
    errors: list[FieldError] = []
    if event.recorded_at > now + skew:
        errors.append(
            FieldError("recorded_at", f"is in the future (receiver time {now.isoformat()})")
        )
    if event.occurred_at > event.recorded_at + skew:
        errors.append(FieldError("occurred_at", "is after recorded_at"))
    return errors
