"""Loading the demonstration scenario through the real write path (HTTP gateway → event store →
relay → Kafka → worker → read models), then reporting who is listed and why."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import httpx
import orjson

from events import Event, Stream, to_dict
from projections.readmodels import UNSHAPING_TYPES
from services import auth, scenario

BATCH = 500


def role_for(stream: Stream) -> str:
    return "taskforce" if stream is Stream.TASKFORCE else f"agency:{stream.value}"


@dataclass(frozen=True, slots=True)
class Loaded:
    accepted: int
    duplicate: int
    rejected: list[str]  # one line per rejected event


async def publish(url: str, tokens: dict[str, str], events: list[Event]) -> Loaded:
    """POST the events, each stream with its own agency's token, in batches."""
    by_role: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        by_role[role_for(e.stream)].append(e)
    accepted = duplicate = 0
    rejected: list[str] = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for role, evs in by_role.items():
            headers = {"Authorization": f"Bearer {tokens[role]}"}
            for i in range(0, len(evs), BATCH):
                body = orjson.dumps([to_dict(e) for e in evs[i : i + BATCH]])
                r = await client.post(
                    "/v1/events",
                    content=body,
                    headers=headers | {"Content-Type": "application/json"},
                )
                if r.status_code not in (202, 422):
                    raise RuntimeError(f"the gateway answered {r.status_code}: {r.text[:300]}")
                report = r.json()
                accepted += report["accepted"]
                duplicate += report["duplicate"]
                rejected += [
                    f"{x['event_id']}: {x['errors']}"
                    for x in report["results"]
                    if x["status"] == "rejected"
                ]
    return Loaded(accepted, duplicate, rejected)


async def issue_tokens(pool: asyncpg.Pool, roles: set[str], note: str) -> dict[str, str]:
    return {role: await auth.issue(pool, role, note) for role in sorted(roles)}


async def wait_projected(pool: asyncpg.Pool, events: list[Event]) -> None:
    """Until every enterprise's case file holds at least its scenario events."""
    want: dict[str, int] = defaultdict(int)
    for e in events:
        if e.event_type not in UNSHAPING_TYPES:
            want[e.enterprise] += 1
    async with asyncio.timeout(120):
        while True:
            rows = await pool.fetch(
                "SELECT uscc, event_count FROM case_file WHERE uscc = ANY($1::text[])",
                list(want),
            )
            have = {r["uscc"]: r["event_count"] for r in rows}
            if all(have.get(u, 0) >= n for u, n in want.items()):
                return
            await asyncio.sleep(0.2)


@dataclass(frozen=True, slots=True)
class Row:
    uscc: str
    name: str
    status: str
    rules: list[str]
    measures: list[str]
    reasons: list[str]


async def report(pool: asyncpg.Pool, usccs: list[str]) -> list[Row]:
    rows = await pool.fetch(
        "SELECT uscc, body::text AS body FROM blacklist_status WHERE uscc = ANY($1::text[])",
        usccs,
    )
    out = []
    for r in rows:
        body = orjson.loads(r["body"])
        listings = body["listings"]
        out.append(
            Row(
                uscc=r["uscc"],
                name=scenario.NAMES.get(r["uscc"], ""),
                status=body["status"],
                rules=sorted(x["rule_id"] for x in listings),
                measures=[_measure(m) for m in body["measures"]],
                reasons=[
                    f"{x['rule_id']} {x['basis']['rule_title_zh']}"
                    f" ({', '.join(x['basis']['agencies'])})"
                    for x in listings
                ],
            )
        )
    order = {"BLACKLISTED": 0, "CREDIT_RESTRICTED": 1, "WATCH": 2, "CLEAR": 3}
    return sorted(out, key=lambda x: (order.get(x.status, 9), x.uscc))


def _measure(m: dict[str, str]) -> str:
    return f"{m['zh']} ({m['en']})"


def print_report(rows: list[Row], now: datetime) -> None:
    print(f"\n信用状态 credit status of the scenario's enterprises at {now:%Y-%m-%d %H:%M %Z}:")
    for x in rows:
        print(f"  {x.status:<18} {x.uscc}  {x.name}")
        for reason in x.reasons:
            print(f"  {'':<18}   · {reason}")
        for m in x.measures:
            print(f"  {'':<18}   → {m}")
