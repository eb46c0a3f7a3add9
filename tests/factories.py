"""Small builders of valid events for tests (dicts, as an agency would send them)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from events.uscc import complete

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def uscc(n: int, region: str = "130100") -> str:
    """A valid code in `region` (石家庄 by default), distinct for each `n`."""
    return complete(f"91{region}{n:09d}")


def event(
    event_type: str,
    stream: str,
    enterprise: str,
    payload: dict[str, Any],
    *,
    occurred_at: datetime | None = None,
    recorded_at: datetime | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    occurred = occurred_at or NOW - timedelta(days=2)
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "event_type": event_type,
        "schema_version": 1,
        "stream": stream,
        "enterprise": enterprise,
        "occurred_at": occurred.isoformat(),
        "recorded_at": (recorded_at or occurred + timedelta(days=1)).isoformat(),
        "actor": f"officer-{stream}",
        "payload": payload,
    }


def finding(
    enterprise: str,
    stream: str = "environment",
    dimension: str = "environmental_protection",
    severity: str = "serious",
    **kw: Any,
) -> dict[str, Any]:
    return event(
        "FindingRecorded",
        stream,
        enterprise,
        {
            "dimension": dimension,
            "severity": severity,
            "violation_code": f"{stream.upper()}-001",
            "description": "夜间超标排放 emissions over the limit at night",
            "evidence": ["监测报告 2026-031"],
        },
        **kw,
    )
