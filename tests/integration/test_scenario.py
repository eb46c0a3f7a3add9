"""The demonstration scenario through the real write path: HTTP gateway → event store → relay
→ broker → worker → read models, then the statuses the seed's story implies."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import orjson
import pytest

from services import auth, db, demo, scenario
from services.config import Settings
from tests.fixtures_api import running
from tests.fixtures_db import DatabaseFactory
from tests.fixtures_http import free_port, start_service

pytestmark = pytest.mark.integration


async def test_scenario_loaded_over_http_gives_the_expected_statuses(
    new_database: DatabaseFactory, kafka_bootstrap: str, topic_prefix: str
) -> None:
    dsn = await new_database()
    settings = Settings(
        database_url=dsn,
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=topic_prefix,
        http_port=free_port(),
        relay_poll_seconds=0.2,
        scheduler_interval_seconds=3600,
    )
    now = datetime.now(UTC)
    events = scenario.events(now)
    server, task = await start_service(settings, run_relay=True)
    pool = await db.create_pool(dsn)
    try:
        async with running(settings):
            tokens = await demo.issue_tokens(
                pool, {demo.role_for(e.stream) for e in events}, "test"
            )
            url = f"http://127.0.0.1:{settings.http_port}"
            loaded = await demo.publish(url, tokens, events)
            assert (loaded.accepted, loaded.rejected) == (len(events), [])
            await demo.wait_projected(pool, events)

            # Loading it again changes nothing.
            again = await demo.publish(url, tokens, events)
            assert (again.accepted, again.duplicate) == (0, len(events))

            # The regional roll-up adds up, and 石鹿's county missed its target (区域限批).
            taskforce = await auth.issue(pool, "taskforce")
            headers = {"Authorization": f"Bearer {taskforce}"}
            async with httpx.AsyncClient(base_url=url, headers=headers) as client:
                provinces = (await client.get("/v1/regions")).json()["regions"]
                counties = (
                    await client.get("/v1/regions", params={"level": "county", "prefix": "1301"})
                ).json()["regions"]
            assert sum(r["enterprises"] for r in provinces) == len(scenario.NAMES)
            hebei = next(r for r in provinces if r["code"] == "130000")
            assert hebei["name_zh"] == "河北省" and hebei["regional_restriction"]
            assert sum(r["enterprises"] for r in counties) == sum(
                1 for u in scenario.NAMES if u[2:6] == "1301"
            )
            restricted = {r["code"] for r in counties if r["regional_restriction"]}
            assert restricted == {"130110"}

        rows = await demo.report(pool, list(scenario.NAMES))
        got = {r.uscc: (r.status, frozenset(r.rules)) for r in rows}
        assert got == {
            u: (status.value, frozenset(r.value for r in rules))
            for u, (status, rules) in scenario.EXPECTED.items()
        }
        # Every status of the policy shows up, with measures for the listed ones.
        assert {r.status for r in rows} == {"CLEAR", "WATCH", "CREDIT_RESTRICTED", "BLACKLISTED"}
        assert all(r.measures for r in rows if r.status in ("BLACKLISTED", "CREDIT_RESTRICTED"))

        # The repaired foundry's ended listing is in its history.
        histories = {
            r["uscc"]: orjson.loads(r["body"])["history"]
            for r in await pool.fetch("SELECT uscc, body::text AS body FROM blacklist_status")
        }
        assert any(h["ended_by"] == "repair" for hs in histories.values() for h in hs)
    finally:
        await pool.close()
        server.should_exit = True
        await task
