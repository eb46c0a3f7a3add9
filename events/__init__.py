"""The event contract of jointcase: what every agency publishes. Imports nothing from the rest."""

from events.dimensions import DIMENSION_NAMES, SEVERITY_NAMES, Dimension, Severity
from events.envelope import Envelope
from events.registry import (
    CURRENT_VERSION,
    EVENT_ADAPTER,
    EVENT_TYPES,
    Event,
    FieldError,
    InvalidEvent,
    check_clock,
    parse_event,
    parse_event_json,
    register_upcaster,
    to_dict,
    to_json,
    unregister_upcaster,
)
from events.streams import AGENCY_STREAMS, STREAMS, Stream, StreamInfo
from events.uscc import InvalidUscc, Uscc

__all__ = [
    "AGENCY_STREAMS",
    "CURRENT_VERSION",
    "DIMENSION_NAMES",
    "EVENT_ADAPTER",
    "EVENT_TYPES",
    "SEVERITY_NAMES",
    "STREAMS",
    "Dimension",
    "Envelope",
    "Event",
    "FieldError",
    "InvalidEvent",
    "InvalidUscc",
    "Severity",
    "Stream",
    "StreamInfo",
    "Uscc",
    "check_clock",
    "parse_event",
    "parse_event_json",
    "register_upcaster",
    "to_dict",
    "to_json",
    "unregister_upcaster",
]
