"""Hostile requests: each gets a 4xx with a reason, none a 5xx, and the store is unchanged."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from services import eventstore
from tests.factories import finding, uscc
from tests.fixtures_http import Service

pytestmark = pytest.mark.integration

Case = tuple[str, bytes, dict[str, str]]
JSON = {"Content-Type": "application/json"}


def _valid() -> dict[str, Any]:
    return finding(uscc(777))


def _with(mutate: Callable[[dict[str, Any]], None]) -> bytes:
    e = _valid()
    mutate(e)
    return orjson.dumps(e)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(e: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        target = e
        for p in parents:
            target = target[p]
        target[leaf] = value

    return mutate


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(e: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        target = e
        for p in parents:
            target = target[p]
        del target[leaf]

    return mutate


def corpus(max_body: int) -> list[Case]:
    cases: list[Case] = []

    def add(name: str, body: bytes, headers: dict[str, str] = JSON) -> None:
        cases.append((name, body, headers))

    # malformed JSON and wrong shapes
    for i, raw in enumerate(
        [
            b"{",
            b"[",
            b'{"a":}',
            b"nul",
            b'{"event_id": 1} trailing',
            b"\xff\xfe\x00",
            b'"\\ud800"',
            b"\xef\xbb\xbf{}",
            b"NaN",
            b"[" * 5000 + b"]" * 5000,
            b"",
            b"   ",
            b"{'single': 'quotes'}",
            b'{"a": 1,}',
            b"0x10",
        ]
    ):
        add(f"malformed-{i}", raw)
    for i, raw in enumerate(
        [b"1", b'"event"', b"null", b"true", b"[]", b"[1, 2]", b"[[]]", b"[null]", b"{}", b"[{}]"]
    ):
        add(f"shape-{i}", raw)

    # wrong types and values in the envelope
    for path, value in [
        ("event_id", 1),
        ("event_id", "not-a-uuid"),
        ("event_id", None),
        ("event_id", ""),
        ("event_type", None),
        ("event_type", "FindingDeleted"),
        ("event_type", 5),
        ("event_type", "findingrecorded"),
        ("stream", "police"),
        ("stream", None),
        ("stream", "ENVIRONMENT"),
        ("schema_version", "1"),
        ("schema_version", 0),
        ("schema_version", 99),
        ("schema_version", True),
        ("schema_version", 1.5),
        ("occurred_at", "yesterday"),
        ("occurred_at", 12345),
        ("occurred_at", "2026-01-01T00:00:00"),
        ("recorded_at", "2026-13-01T00:00:00Z"),
        ("actor", 5),
        ("actor", ""),
        ("actor", "   "),
        ("actor", "x" * 201),
        ("correlation_id", "nope"),
        ("payload", None),
        ("payload", []),
        ("payload", "x"),
        ("extra_field", 1),
    ]:
        add(f"envelope-{path}={value!r}"[:60], _with(_set(path, value)))

    # wrong types and values in the payload
    for path, value in [
        ("payload.severity", "SERIOUS"),
        ("payload.severity", None),
        ("payload.dimension", "morals"),
        ("payload.evidence", "one string"),
        ("payload.evidence", [1]),
        ("payload.evidence", ["x"] * 101),
        ("payload.description", ""),
        ("payload.description", "x" * 10_001),
        ("payload.violation_code", {"a": 1}),
        ("payload.location", 3.5),
        ("payload.bonus", True),
    ]:
        add(f"payload-{path}={str(value)[:20]}", _with(_set(path, value)))

    # missing fields
    for path in [
        "event_id",
        "event_type",
        "stream",
        "enterprise",
        "occurred_at",
        "recorded_at",
        "actor",
        "payload",
        "payload.dimension",
        "payload.severity",
        "payload.violation_code",
        "payload.description",
    ]:
        add(f"missing-{path}", _with(_drop(path)))

    # bad USCCs
    good = uscc(777)
    for bad in [
        good.lower(),
        good[:17],
        good + "0",
        good[:-1] + ("0" if good[-1] != "0" else "1"),
        "I" + good[1:],
        "O" + good[1:],
        "S" + good[1:],
        "V" + good[1:],
        "Z" + good[1:],
        "",
        " " + good[1:],
        "９１" + good[2:],
        good[:9] + "\u200b" + good[10:],
        913501001,
        "91350100M000100Y43' OR '1'='1",
        None,
    ]:
        add(f"uscc-{bad!r}"[:40], _with(_set("enterprise", bad)))

    # clocks
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    add("future-recorded_at", _with(_set("recorded_at", future)))
    add("occurred-after-recorded", _with(_set("occurred_at", future)))

    # odd unicode and SQL-looking values in fields where they are invalid
    for text in ["nul\u0000byte", "esc\u001b[31m", "bell\u0007", "del\u007f"]:
        add(f"control-{text[:4]}", _with(_set("payload.description", text)))
    add("lone-surrogate", b'{"event_type": "FindingRecorded", "actor": "\\udc00"}')
    for sql in [
        "environment'; DROP TABLE event_store; --",
        "1; DELETE FROM outbox",
        "' OR 1=1 --",
        "environment\u0000",
    ]:
        add(f"sql-stream-{sql[:10]}", _with(_set("stream", sql)))
        add(f"sql-type-{sql[:10]}", _with(_set("event_type", sql)))
        add(f"sql-id-{sql[:10]}", _with(_set("event_id", sql)))

    # payload rules
    add(
        "amend-nothing",
        orjson.dumps(
            {
                **_valid(),
                "event_type": "FindingAmended",
                "payload": {"finding_id": "5b1f4d3e-1f4b-4c39-9d1e-0f3f7e0a1b2c", "reason": "typo"},
            }
        ),
    )
    add(
        "fine-without-amount",
        orjson.dumps(
            {
                **_valid(),
                "event_type": "PenaltyImposed",
                "payload": {"kind": "fine", "legal_basis": "环境保护法第六十条"},
            }
        ),
    )
    add("wrong-stream-for-type", orjson.dumps({**_valid(), "event_type": "PowerReading"}))

    # sizes and content types
    add("oversize-body", b'{"pad": "' + b"x" * (max_body + 10) + b'"}')
    add("too-many-events", orjson.dumps([_valid() for _ in range(1001)]))
    add("text-plain", orjson.dumps(_valid()), {"Content-Type": "text/plain"})
    add("form", b"a=1&b=2", {"Content-Type": "application/x-www-form-urlencoded"})
    add("batch-all-bad", orjson.dumps([copy.deepcopy(_valid()) | {"stream": "??"}] * 3))
    return cases


async def test_hostile_corpus_gets_4xx_with_reason_and_changes_nothing(service: Service) -> None:
    cases = corpus(service.settings.max_body_bytes)
    assert len(cases) >= 100
    before = await eventstore.count(service.pool)
    outbox_before = await service.pool.fetchval("SELECT count(*) FROM outbox")
    failures = []
    async with service.client(await service.token("agency:environment")) as client:
        for name, body, headers in cases:
            response = await client.post("/v1/events", content=body, headers=headers)
            ok = 400 <= response.status_code < 500
            reason = ""
            if ok:
                payload = response.json()
                reason = (
                    payload.get("error")
                    or orjson.dumps([r.get("errors") for r in payload.get("results", [])]).decode()
                )
                ok = bool(reason) and "null" not in reason[:6]
            if not ok:
                failures.append((name, response.status_code, response.text[:200]))
    assert not failures, failures
    assert await eventstore.count(service.pool) == before
    assert await service.pool.fetchval("SELECT count(*) FROM outbox") <= outbox_before
