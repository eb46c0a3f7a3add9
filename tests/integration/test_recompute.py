"""`recompute` over several chunks: each chunk is folded while the one before is written, and
the result is the same as recomputing every enterprise on its own."""

from __future__ import annotations

from datetime import timedelta

import pytest

from events import parse_event
from projections import recompute as rc
from projections.recompute import Rules, recompute
from services import db, eventstore
from tests.factories import NOW, event, finding, uscc
from tests.fixtures_db import DatabaseFactory

pytestmark = pytest.mark.integration

READ_MODELS = (
    "SELECT c.uscc, c.event_count, c.credit_status, c.body::text AS case_file, b.status, "
    "b.since, b.next_change_at FROM case_file c JOIN blacklist_status b USING (uscc) "
    "ORDER BY c.uscc"
)


def _history(n: int) -> list[dict[str, object]]:
    code = uscc(9300 + n)
    streams = [
        ("environment", "environmental_protection"),
        ("tax", "tax_compliance"),
        ("safety", "work_safety"),
    ][: 1 + n % 3]
    out = [finding(code, s, d, severity="serious") for s, d in streams]
    if n % 4 == 0:  # a target already past its deadline: its overdue notice is derived
        out.append(
            event(
                "CapacityReductionTargetSet",
                "miit",
                code,
                {
                    "target_id": f"T-{n}",
                    "iron_tonnes": 1000.0,
                    "deadline": (NOW - timedelta(days=1)).isoformat(),
                    "basis": "压减方案",
                },
                occurred_at=NOW - timedelta(days=30),
            )
        )
    return out


async def test_chunks_folded_in_a_pipeline_equal_one_enterprise_at_a_time(
    new_database: DatabaseFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rc, "CHUNK", 3)  # 10 enterprises: four chunks, the last one short
    events = [parse_event(e) for n in range(10) for e in _history(n)]
    codes = sorted({e.enterprise for e in events})
    results = []
    for together in (True, False):
        pool = await db.create_pool(await new_database())
        try:
            await eventstore.append(pool, events, outbox=False)
            async with pool.acquire() as conn, conn.transaction():
                if together:
                    done = await recompute(conn, codes, now=NOW, rules=Rules())
                    assert (done.enterprises, done.notices) == (10, 3)
                else:
                    for code in codes:
                        await recompute(conn, [code], now=NOW, rules=Rules())
            results.append([dict(r) for r in await pool.fetch(READ_MODELS)])
            notices = await pool.fetchval(
                "SELECT count(*) FROM event_store WHERE event_type = 'CapacityReductionOverdue'"
            )
            assert notices == 3
        finally:
            await pool.close()
    together_rows, alone_rows = results
    assert [r["uscc"] for r in together_rows] == codes
    assert together_rows == alone_rows
    assert {r["credit_status"] for r in together_rows} >= {"WATCH", "CREDIT_RESTRICTED"}
