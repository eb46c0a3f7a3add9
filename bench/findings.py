"""The load of the worker and rebuild benchmarks: findings round-robin over enterprises."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson

from events.uscc import complete
from services.topics import topic_for

# (stream, dimension) pairs: findings spread over the agencies and their dimensions.
FINDING_MIX = [
    ("environment", "environmental_protection"),
    ("safety", "work_safety"),
    ("quality", "product_quality"),
    ("land", "land_approval"),
    ("tax", "tax_compliance"),
    ("customs", "export_supervision"),
    ("housing", "construction_permit"),
    ("ndrc", "project_compliance"),
    ("miit", "capacity_replacement"),
    ("market", "registration"),
    ("credit", "bank_credit"),
    ("steel_association", "capacity_replacement"),
]
_SEVERITY = ("info", "minor", "serious", "critical", "minor", "info")


def records(
    n: int, enterprises: int, prefix: str, start: int = 0
) -> Iterator[tuple[str, bytes, bytes]]:
    """(topic, key, value) for n FindingRecorded events, round-robin over the enterprises;
    `start` numbers them on from an earlier load (ids are distinct by number).

    Twenty seconds apart, ending in the past: a million events span 231 days. (Events dated
    after the evaluation time take the slower event-level evaluation, which real data, refused
    when recorded in the future, does not.)"""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    base = today - timedelta(days=240)
    codes = [complete(f"91{130100 + (e % 7) * 100}{e:09d}") for e in range(enterprises)]
    for i in range(start, start + n):
        code = codes[i % enterprises]
        stream, dimension = FINDING_MIX[(i * 7 + i // enterprises) % len(FINDING_MIX)]
        occurred = base + timedelta(seconds=20 * i)
        value = orjson.dumps(
            {
                "event_id": str(uuid.UUID(int=i + 1)),
                "event_type": "FindingRecorded",
                "stream": stream,
                "enterprise": code,
                "occurred_at": occurred.isoformat(),
                "recorded_at": (occurred + timedelta(hours=2)).isoformat(),
                "actor": f"officer-{i % 97}",
                "payload": {
                    "dimension": dimension,
                    "severity": _SEVERITY[i % len(_SEVERITY)],
                    "violation_code": f"V-{i % 50}",
                    "description": "现场检查发现问题，责令限期整改",
                },
            }
        )
        yield topic_for(stream, prefix), code.encode(), value
