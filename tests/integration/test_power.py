"""The power-use detector and the cross-agency correlation in the worker, end to end: meter
readings on the `power` topic become one PowerAnomalyDetected per anomalous window (never
twice), and a foundry with night-time melting and a land-approval finding is escalated."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg
import orjson
import pytest

from services import db
from services.config import Settings
from tests.factories import event, finding, uscc
from tests.fixtures_api import running
from tests.fixtures_db import DatabaseFactory
from tests.integration.test_worker import publish

pytestmark = pytest.mark.integration

CST = timezone(timedelta(hours=8))


def readings(firm: str, days: int, first_day: datetime) -> list[dict[str, Any]]:
    """Hourly readings: a small daytime load, furnaces melting at night (22:00–06:00)."""
    out = []
    for d in range(days):
        for h in range(24):
            start = first_day + timedelta(days=d, hours=h)
            night = h >= 22 or h < 6
            out.append(
                event(
                    "PowerReading",
                    "power",
                    firm,
                    {
                        "meter_id": "M-1",
                        "period_start": start.isoformat(),
                        "period_end": (start + timedelta(hours=1)).isoformat(),
                        "kwh": 3000.0 if night else 400.0,
                        "night_share": 1.0 if night else 0.0,
                    },
                    occurred_at=start + timedelta(hours=1),
                    recorded_at=start + timedelta(hours=1, minutes=5),
                )
            )
    return out


async def of_type(pool: asyncpg.Pool, firm: str, event_type: str) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT body::text AS body FROM event_store WHERE enterprise = $1 AND event_type = $2",
        firm,
        event_type,
    )
    return [orjson.loads(r["body"]) for r in rows]


async def test_night_melting_is_detected_once_per_window_and_escalated(
    new_database: DatabaseFactory, kafka_bootstrap: str, topic_prefix: str
) -> None:
    dsn = await new_database()
    firm = uscc(40_001, region="360681")
    today = datetime.now(CST).replace(hour=0, minute=0, second=0, microsecond=0)
    first_day = today - timedelta(days=6)
    registration = event(
        "EnterpriseRegistered",
        "market",
        firm,
        {
            "name": "贵溪市某铸造有限公司",
            "legal_representative": "张某",
            "registered_address": "江西省贵溪市",
            "business_scope": "铸件生产",
            "industry": "foundry",
        },
        occurred_at=first_day - timedelta(days=300),
    )
    land = finding(
        firm, "land", "land_approval", "serious", occurred_at=first_day + timedelta(days=2)
    )
    series = readings(firm, 3, first_day)
    settings = Settings(
        database_url=dsn,
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=topic_prefix,
        scheduler_interval_seconds=3600,
    )
    pool = await db.create_pool(dsn)
    try:
        await publish(kafka_bootstrap, topic_prefix, [registration, land, *series])
        async with running(settings) as projector:
            async with asyncio.timeout(60):
                while await pool.fetchval("SELECT count(*) FROM event_store") < len(series) + 2:
                    await asyncio.sleep(0.1)
                while projector.stats.consumed < len(series) + 2:
                    await asyncio.sleep(0.1)
            anomalies = await of_type(pool, firm, "PowerAnomalyDetected")
            night = [a for a in anomalies if a["payload"]["kind"] == "night_use"]
            # Three days of night melting: one anomaly per daily window, each judged once.
            assert len(night) == 3
            starts = sorted(datetime.fromisoformat(a["payload"]["window_start"]) for a in night)
            assert starts == [first_day + timedelta(days=d) for d in range(3)]

            escalations = await of_type(pool, firm, "CaseEscalated")
            assert len(escalations) == 1
            cited = set(escalations[0]["payload"]["cited_event_ids"])
            assert land["event_id"] in cited
            assert "地条钢" in escalations[0]["payload"]["reason"]

            # The same readings again (a redelivery, a replaying agency): nothing new.
            before = projector.stats.consumed
            await publish(kafka_bootstrap, topic_prefix, series)
            async with asyncio.timeout(60):
                while projector.stats.consumed < before + len(series):
                    await asyncio.sleep(0.1)
        assert len(await of_type(pool, firm, "PowerAnomalyDetected")) == len(anomalies)
        assert len(await of_type(pool, firm, "CaseEscalated")) == 1
        case = orjson.loads(
            await pool.fetchval("SELECT body::text FROM case_file WHERE uscc = $1", firm)
        )
        assert len(case["power_anomalies"]) == len(anomalies)
    finally:
        await pool.close()
