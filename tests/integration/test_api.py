"""The read API end to end on the real broker and PostgreSQL: events published by agencies over
HTTP, projected by the worker, read back by the task force and by banks."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.factories import NOW, event, finding, uscc
from tests.fixtures_api import ROLES, Api
from tests.fixtures_http import fast_lookup_of

pytestmark = pytest.mark.integration


async def post(api: Api, events: list[dict[str, Any]]) -> None:
    for e in events:
        async with api.client(f"agency:{e['stream']}") as c:
            r = await c.post("/v1/events", json=e)
            assert r.status_code == 202, r.text


async def until(api: Api, path: str, ok: Any, role: str = "taskforce") -> dict[str, Any]:
    async with api.client(role) as c, asyncio.timeout(30):
        while True:
            r = await c.get(path)
            if r.status_code == 200 and ok(r.json()):
                return dict(r.json())
            await asyncio.sleep(0.1)


def three_agencies(firm: str) -> list[dict[str, Any]]:
    return [
        finding(
            firm,
            "environment",
            "environmental_protection",
            "serious",
            occurred_at=NOW - timedelta(days=30),
        ),
        finding(firm, "safety", "work_safety", "critical", occurred_at=NOW - timedelta(days=20)),
        finding(
            firm, "quality", "product_quality", "serious", occurred_at=NOW - timedelta(days=10)
        ),
    ]


async def test_published_events_show_in_the_case_file_and_the_blacklist(api: Api) -> None:
    firm = uscc(31_001)
    events = three_agencies(firm)
    await post(api, events)

    case = await until(api, f"/v1/cases/{firm}", lambda b: len(b["findings"]) == 3)
    assert {f["stream"] for f in case["findings"]} == {"environment", "safety", "quality"}
    assert [t["event_id"] for t in case["timeline"]] == [e["event_id"] for e in events]

    status = await until(
        api, f"/v1/blacklist/{firm}", lambda b: b["status"] == "BLACKLISTED", role="bank:b1"
    )
    assert [x["basis"]["rule_id"] for x in status["listings"]] == ["R3"]
    assert sorted(status["listings"][0]["basis"]["agencies"]) == [
        "environment",
        "quality",
        "safety",
    ]
    assert status["measures"] and status["data_version"] >= 1

    # As of before the third finding was recorded, it was not listed.
    third_recorded = datetime.fromisoformat(events[2]["recorded_at"])
    before = (third_recorded - timedelta(seconds=1)).isoformat()
    async with api.client("bank:b1") as c:
        r = await c.get(f"/v1/blacklist/{firm}", params={"as_of": before})
        assert r.status_code == 200 and r.json()["status"] == "WATCH"
    async with api.client("taskforce") as c:
        r = await c.get(f"/v1/cases/{firm}", params={"as_of": before})
        assert len(r.json()["findings"]) == 2
        r = await c.get(
            f"/v1/cases/{firm}", params={"as_of": (NOW - timedelta(days=400)).isoformat()}
        )
        assert r.status_code == 404


async def test_a_bank_never_sees_investigation_details(api: Api) -> None:
    firm = uscc(31_002)
    events = three_agencies(firm)
    await post(api, events)
    await until(api, f"/v1/blacklist/{firm}", lambda b: b["status"] == "BLACKLISTED", "bank:b1")
    async with api.client("bank:b1") as c:
        bodies = [
            (await c.get(f"/v1/blacklist/{firm}")).text,
            (await c.get(f"/v1/blacklist/{firm}/explain")).text,
            (await c.post("/v1/blacklist/bulk", json={"codes": [firm]})).text,
            (await c.get("/v1/blacklist/changes")).text,
        ]
    for body in bodies:
        assert "夜间超标排放" not in body and "监测报告" not in body  # description, evidence
        for e in events:
            assert e["event_id"] not in body


async def test_bulk_answers_every_code_and_reports_invalid_ones(api: Api) -> None:
    listed = uscc(31_003)
    await post(api, three_agencies(listed))
    await until(api, f"/v1/blacklist/{listed}", lambda b: b["status"] == "BLACKLISTED", "bank:b1")
    never = uscc(31_999)
    codes = [listed, "91350100M000100Y44", never, "short"]
    async with api.client("bank:b1") as c:
        r = await c.post("/v1/blacklist/bulk", json={"codes": codes})
    assert r.status_code == 200
    answers = r.json()["answers"]
    assert [a["uscc"] for a in answers] == codes
    assert answers[0]["status"] == "BLACKLISTED" and answers[0]["rule_ids"] == ["R3"]
    assert "check character" in answers[1]["error"]
    assert answers[2]["status"] == "CLEAR" and answers[2]["no_record"] is True
    assert "18 characters" in answers[3]["error"]

    async with api.client("bank:b1") as c:
        too_many = await c.post("/v1/blacklist/bulk", json={"codes": [never] * 10_001})
    assert too_many.status_code == 413

    # Every bank query is audited, readable by admin only.
    async with api.client("admin") as c:
        r = await c.get("/v1/audit/bank-queries", params={"bank": "b1", "limit": 1000})
    rows = r.json()["queries"]
    bulk = [q for q in rows if q["route"] == "bulk" and q["codes"] == codes]
    assert {q["route"] for q in rows} >= {"bulk", "status"}
    assert bulk and bulk[-1]["answers"] == ["BLACKLISTED", "INVALID", "CLEAR", "INVALID"]
    assert bulk[-1]["data_version"] >= 1


async def test_change_feed_pages_by_cursor(api: Api) -> None:
    firm = uscc(31_004)
    await post(api, three_agencies(firm))
    await until(api, f"/v1/blacklist/{firm}", lambda b: b["status"] == "BLACKLISTED", "bank:b1")
    seen: list[dict[str, Any]] = []
    after = 0
    async with api.client("bank:b1") as c:
        while True:
            page = (
                await c.get("/v1/blacklist/changes", params={"after": after, "limit": 2})
            ).json()
            if not page["changes"]:
                break
            seen += page["changes"]
            after = page["next_after"]
    cursors = [x["cursor"] for x in seen]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)
    assert [x["status"] for x in seen if x["uscc"] == firm][-1] == "BLACKLISTED"


async def test_case_actions_become_taskforce_events(api: Api) -> None:
    firm = uscc(31_005)
    await post(api, [finding(firm)])
    await until(api, f"/v1/cases/{firm}", lambda b: len(b["findings"]) == 1)
    async with api.client("taskforce") as c:
        r = await c.post(
            f"/v1/cases/{firm}/open",
            json={"case_id": "JC-2026-001", "title": "联合调查", "reason": "多部门线索"},
        )
        assert r.status_code == 202 and r.json()["status"] == "accepted"
        r = await c.post(
            f"/v1/cases/{firm}/assign", json={"case_id": "JC-2026-001", "assignee": "王组长"}
        )
        assert r.status_code == 202
        bad = await c.post(f"/v1/cases/{firm}/close", json={"case_id": "JC-2026-001"})
        assert bad.status_code == 422 and "outcome" in bad.text
    case = await until(
        api, f"/v1/cases/{firm}", lambda b: b["cases"] and b["cases"][0]["assignee"] == "王组长"
    )
    assert case["cases"][0]["state"] == "open"
    async with api.client("taskforce") as c:
        trail = (await c.get(f"/v1/cases/{firm}/events", params={"stream": "taskforce"})).json()
    assert [x["event"]["event_type"] for x in trail["events"]] == ["CaseOpened", "CaseAssigned"]
    listed = await until(
        api,
        "/v1/cases?case_state=open&limit=500",
        lambda b: any(x["uscc"] == firm for x in b["cases"]),
    )
    assert any(x["uscc"] == firm for x in listed["cases"])


async def test_search_filters_and_keyset_pagination(api: Api) -> None:
    firms = [uscc(32_000 + i, region="360681") for i in range(5)]
    await post(api, [finding(f, "land", "land_approval", "critical") for f in firms])
    page = await until(api, "/v1/cases?region=360681&limit=500", lambda b: len(b["cases"]) >= 5)
    assert {x["uscc"] for x in page["cases"]} >= set(firms)
    got: list[str] = []
    after = None
    async with api.client("taskforce") as c:
        while True:
            params: dict[str, Any] = {
                "region": "3606",
                "dimension": "land_approval",
                "min_severity": "serious",
                "agency": "land",
                "limit": 2,
            }
            if after:
                params["after"] = after
            body = (await c.get("/v1/cases", params=params)).json()
            got += [x["uscc"] for x in body["cases"]]
            after = body["next_after"]
            if after is None:
                break
        assert got == sorted(got) and set(firms) <= set(got)
        none = (
            await c.get(
                "/v1/cases",
                params={"region": "3606", "min_severity": "critical", "status": "BLACKLISTED"},
            )
        ).json()
        assert not set(firms) & {x["uscc"] for x in none["cases"]}


async def test_invalid_uscc_is_422_with_the_reason(api: Api) -> None:
    async with api.client("bank:b1") as c:
        r = await c.get("/v1/blacklist/91350100M000100Y44")
    assert r.status_code == 422 and "check character" in r.json()["error"]
    async with api.client("taskforce") as c:
        r = await c.get("/v1/cases/9135010")
    assert r.status_code == 422 and "18 characters" in r.json()["error"]


# --- authorization matrix -------------------------------------------------------------


def _routes(firm: str) -> list[tuple[str, str, dict[str, Any] | None, set[str]]]:
    """(method, path, json body, roles allowed)."""
    readers = {"taskforce", "admin"}
    bank_readers = {"bank:b1", "taskforce", "admin"}
    return [
        ("GET", "/v1/cases", None, readers),
        ("GET", f"/v1/cases/{firm}", None, readers),
        ("GET", f"/v1/cases/{firm}/events", None, readers),
        (
            "POST",
            f"/v1/cases/{firm}/open",
            {"case_id": "M-1", "title": "t", "reason": "r"},
            {"taskforce"},
        ),
        ("POST", f"/v1/cases/{firm}/assign", {"case_id": "M-1", "assignee": "a"}, {"taskforce"}),
        (
            "POST",
            f"/v1/cases/{firm}/escalate",
            {"case_id": "M-1", "level": "province", "reason": "r"},
            {"taskforce"},
        ),
        ("POST", f"/v1/cases/{firm}/close", {"case_id": "M-1", "outcome": "o"}, {"taskforce"}),
        ("GET", f"/v1/blacklist/{firm}", None, bank_readers),
        ("GET", f"/v1/blacklist/{firm}/explain", None, bank_readers),
        ("POST", "/v1/blacklist/bulk", {"codes": [firm]}, bank_readers),
        ("GET", "/v1/blacklist/changes", None, bank_readers),
        ("GET", "/v1/audit/bank-queries", None, {"admin"}),
        ("GET", "/v1/regions", None, readers),
        ("GET", "/v1/alerts", None, readers),
        ("GET", "/v1/watchlist", None, {"bank:b1"}),
        ("PUT", "/v1/watchlist", {"codes": [firm]}, {"bank:b1"}),
        ("POST", "/v1/events", finding(firm), {"agency:environment"}),
    ]


async def test_authorization_matrix(api: Api) -> None:
    firm = uscc(31_010)
    await post(api, [finding(firm)])
    await until(api, f"/v1/cases/{firm}", lambda b: len(b["findings"]) == 1)
    wrong = "jc_000000000000_" + "x" * 43
    answered_in_front = fast_lookup_of(api.service.app).served
    failures = []
    for method, path, body, allowed in _routes(firm):
        for who in (None, "wrong", *ROLES):
            if who is None:
                client = api.service.client()
            elif who == "wrong":
                client = api.service.client(wrong)
            else:
                client = api.client(who)
            async with client as c:
                r = await c.request(method, path, json=body)
            expected = {401} if who in (None, "wrong") else {200, 202} if who in allowed else {403}
            if r.status_code not in expected:
                failures.append((method, path, who, r.status_code, r.text[:200]))
    assert not failures, failures
    # The status lookup went through the fast lookup in front of the framework, for everyone.
    assert fast_lookup_of(api.service.app).served == answered_in_front + len(ROLES) + 2


async def test_health_needs_no_token(api: Api) -> None:
    async with api.service.client() as c:
        assert (await c.get("/healthz")).status_code == 200


async def test_readiness_and_metrics(api: Api) -> None:
    async with api.service.client() as c:
        ready = await c.get("/readyz")
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert body["database"] == "ok" and body["broker"] == "ok"
        assert isinstance(body["worker_lag"], int) and body["worker_lag"] >= 0
        await c.get("/healthz")
        metrics = (await c.get("/metrics")).text
    assert 'jointcase_http_requests_total{method="GET",route="/healthz",status="200"}' in metrics
    assert "jointcase_change_feed_cursor" in metrics


async def test_overdue_tipoffs_raise_alerts(api: Api) -> None:
    firm = uscc(31_020)
    long_ago = NOW - timedelta(days=100)
    received = event(
        "TipOffReceived",
        "environment",
        firm,
        {"tipoff_id": "JB-9", "channel": "12369", "summary": "夜间偷排"},
        occurred_at=long_ago,
        recorded_at=long_ago,
    )
    await post(api, [received])
    body = await until(
        api, "/v1/alerts?prefix=1301", lambda b: any(a["uscc"] == firm for a in b["alerts"])
    )
    alert = next(a for a in body["alerts"] if a["uscc"] == firm)
    assert alert["tipoffs_overdue"] == 1 and alert["targets_missed"] == 0
    counties = await until(
        api, "/v1/regions?level=county&prefix=130100", lambda b: bool(b["regions"])
    )
    assert sum(r["tipoffs_overdue"] for r in counties["regions"]) >= 1
