"""The projection worker against the real broker and PostgreSQL: read models, dead letters,
poison events, SIGKILL convergence, two workers in one group, and one of them frozen."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from events import parse_event
from projections import metrics
from projections.rebuild import rebuild
from projections.recompute import Rules
from projections.worker import MAX_REFUSED_PER_BATCH, Projector, SystemicFailure
from services import db
from services.config import Settings
from services.producer import Accepted, EventProducer
from services.topics import dead_letter_topic, topic_for
from tests.factories import NOW, event, finding, uscc
from tests.fixtures_api import running
from tests.fixtures_db import DatabaseFactory
from tests.fixtures_http import free_port

pytestmark = pytest.mark.integration


def settings_for(dsn: str, bootstrap: str, prefix: str, **kw: Any) -> Settings:
    return Settings(
        database_url=dsn,
        kafka_bootstrap_servers=bootstrap,
        topic_prefix=prefix,
        scheduler_interval_seconds=3600,
        **kw,
    )


async def publish(bootstrap: str, prefix: str, items: list[dict[str, Any]]) -> list[Accepted]:
    async with EventProducer(bootstrap, topic_prefix=prefix) as producer:
        results = await producer.send_batch(items)
    accepted = [r for r in results if isinstance(r, Accepted)]
    assert len(accepted) == len(results), [r for r in results if not r.ok][:3]
    return accepted


async def projected(pool: asyncpg.Pool, events: int, timeout: float = 60) -> None:
    """Wait until every one of `events` (shaping) events is reflected in a case file."""
    async with asyncio.timeout(timeout):
        while True:
            total = await pool.fetchval("SELECT coalesce(sum(event_count), 0) FROM case_file")
            if total >= events:
                assert total == events
                return
            await asyncio.sleep(0.1)


def r3_events(enterprise: str) -> list[dict[str, Any]]:
    """Serious findings from three agencies within a year: rule R3 lists the enterprise."""
    return [
        finding(enterprise, "environment", "environmental_protection", "serious"),
        finding(enterprise, "safety", "work_safety", "critical"),
        finding(enterprise, "quality", "product_quality", "serious"),
    ]


async def test_published_events_become_case_files_and_blacklist_rows(
    new_database: DatabaseFactory, kafka_bootstrap: str, topic_prefix: str
) -> None:
    dsn = await new_database()
    listed, watched = uscc(9001), uscc(9002)
    await publish(
        kafka_bootstrap, topic_prefix, [*r3_events(listed), finding(watched, severity="serious")]
    )
    pool = await db.create_pool(dsn)
    consumed = metrics.REGISTRY.get_sample_value("jointcase_worker_consumed_total") or 0
    try:
        async with running(settings_for(dsn, kafka_bootstrap, topic_prefix)) as projector:
            await projected(pool, 4)
            async with asyncio.timeout(20):
                while projector.stats.consumed < 4:
                    await asyncio.sleep(0.05)
        # Prometheus: counted, and served over HTTP.
        after = metrics.REGISTRY.get_sample_value("jointcase_worker_consumed_total")
        assert after == consumed + 4
        port = free_port()
        metrics.serve(port)
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
        assert "jointcase_worker_batch_seconds_bucket" in text
        assert "jointcase_worker_publish_to_visible_seconds_count" in text
        rows = {r["uscc"]: r for r in await pool.fetch("SELECT * FROM blacklist_status")}
        assert rows[listed]["status"] == "BLACKLISTED"
        body = orjson.loads(rows[listed]["body"])
        assert [x["rule_id"] for x in body["listings"]] == ["R3"]
        assert sorted(body["listings"][0]["basis"]["agencies"]) == [
            "environment",
            "quality",
            "safety",
        ]
        assert rows[watched]["status"] == "WATCH"

        case = await pool.fetchrow("SELECT * FROM case_file WHERE uscc = $1", listed)
        assert case is not None
        assert case["credit_status"] == "BLACKLISTED"
        assert case["max_severity"] == "critical"
        assert sorted(case["agencies"]) == ["environment", "quality", "safety"]
        assert len(orjson.loads(case["body"])["findings"]) == 3

        changes = await pool.fetch("SELECT * FROM blacklist_change ORDER BY cursor")
        assert {(c["uscc"], c["previous_status"], c["status"]) for c in changes} == {
            (listed, "CLEAR", "BLACKLISTED"),
            (watched, "CLEAR", "WATCH"),
        }
        assert rows[listed]["data_version"] == max(
            c["cursor"] for c in changes if c["uscc"] == listed
        )
        # The summary in the feed is for banks: no descriptions or evidence.
        summary = orjson.loads(next(c for c in changes if c["uscc"] == listed)["summary"])
        assert summary["rule_ids"] == ["R3"]
        assert "description" not in str(summary) and "监测报告" not in str(summary)
    finally:
        await pool.close()


async def dead_letters(bootstrap: str, prefix: str, n: int, timeout: float = 20) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        topic = dead_letter_topic(prefix)
        await consumer.topics()
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        got: list[Any] = []
        async with asyncio.timeout(timeout):
            while len(got) < n:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    got.extend(records)
        return got
    finally:
        await consumer.stop()


async def test_malformed_messages_go_to_dead_letter_topic_and_the_worker_goes_on(
    new_database: DatabaseFactory, kafka_bootstrap: str, topic_prefix: str
) -> None:
    dsn = await new_database()
    good = uscc(9101)
    topic = topic_for("environment", topic_prefix)
    wrong_key = finding(uscc(9102))
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        poison = [
            (good.encode(), b"{not json"),
            (good.encode(), orjson.dumps({"event_type": "FindingRecorded", "stream": "env"})),
            (good.encode(), orjson.dumps(wrong_key)),  # keyed by another enterprise
            (uscc(9103).encode(), orjson.dumps(finding(uscc(9103), stream="tax"))),
        ]
        for key, value in poison:
            await producer.send_and_wait(topic, value, key=key)
        await producer.send_and_wait(topic, orjson.dumps(finding(good)), key=good.encode())
    finally:
        await producer.stop()

    pool = await db.create_pool(dsn)
    try:
        async with running(settings_for(dsn, kafka_bootstrap, topic_prefix)) as projector:
            await projected(pool, 1)
            # Dead letters are sent after the batch's transaction, before its offsets commit.
            async with asyncio.timeout(20):
                while projector.stats.consumed < 5:
                    await asyncio.sleep(0.05)
            assert projector.stats.dead_lettered == 4
        letters = await dead_letters(kafka_bootstrap, topic_prefix, 4)
        reasons = {dict(m.headers)["reason"].decode() for m in letters}
        assert any(r.startswith("malformed JSON") for r in reasons)
        assert any("invalid event" in r and "stream" in r for r in reasons)
        assert any("is not the enterprise's USCC" in r for r in reasons)
        assert any("published on topic" in r for r in reasons)
        for m in letters:
            headers = dict(m.headers)
            assert headers["source_topic"].decode() == topic
            assert int(headers["source_offset"]) in range(4)
        assert await pool.fetchval("SELECT count(*) FROM event_store") == 1
    finally:
        await pool.close()


async def refuse_in_database(dsn: str, event_id: str) -> None:
    """A real fault: PostgreSQL itself refuses to store this one (valid) event."""
    refused = uuid.UUID(event_id)  # a uuid, so safe to write into the function's body
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            f"""
            CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.event_id = '{refused}'::uuid THEN
                    RAISE EXCEPTION 'refused by test trigger';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_poison BEFORE INSERT ON event_store
                FOR EACH ROW EXECUTE FUNCTION refuse_poison();
            """
        )
    finally:
        await conn.close()


async def event_counts(pool: asyncpg.Pool) -> dict[str, int]:
    return {r["uscc"]: r["event_count"] for r in await pool.fetch("SELECT * FROM case_file")}


async def test_a_poison_event_is_dead_lettered_and_the_rest_of_its_batch_is_projected(
    new_database: DatabaseFactory, kafka_bootstrap: str, topic_prefix: str
) -> None:
    dsn = await new_database()
    items = load(enterprises=40, per_enterprise=5)
    # In the middle of the load, with more events of its enterprise after it.
    index = len(items) // 2
    poison = items[index]
    assert [e for e in items[index + 1 :] if e["enterprise"] == poison["enterprise"]]
    await refuse_in_database(dsn, poison["event_id"])
    sent = await publish(kafka_bootstrap, topic_prefix, items)
    assert len({a.partition for a in sent}) > 1
    others = [e for e in items if e is not poison]

    dead_before = metrics.REGISTRY.get_sample_value("jointcase_worker_dead_lettered_total") or 0
    pool = await db.create_pool(dsn)
    try:
        async with running(settings_for(dsn, kafka_bootstrap, topic_prefix)) as projector:
            await projected(pool, len(others))
            async with asyncio.timeout(20):
                while projector.stats.consumed < len(items):
                    await asyncio.sleep(0.05)
            assert projector.stats.dead_lettered == 1
            assert await event_counts(pool) == Counter(e["enterprise"] for e in others)
            stored = await pool.fetchval(
                "SELECT count(*) FROM event_store WHERE event_id = $1",
                uuid.UUID(poison["event_id"]),
            )
            assert stored == 0

            # Still consuming: the poison's enterprise and another one, published afterwards.
            later = [finding(poison["enterprise"]), finding(uscc(9301))]
            await publish(kafka_bootstrap, topic_prefix, later)
            await projected(pool, len(others) + len(later))
            assert not projector.crashed and not projector.should_stop
            assert projector.stats.dead_lettered == 1
        dead_after = metrics.REGISTRY.get_sample_value("jointcase_worker_dead_lettered_total")
        assert dead_after == dead_before + 1

        [letter] = await dead_letters(kafka_bootstrap, topic_prefix, 1)
        assert orjson.loads(letter.value)["event_id"] == poison["event_id"]
        headers = {k: v.decode() for k, v in letter.headers}
        assert headers["reason"].startswith("processing failed: ")
        assert "refused by test trigger" in headers["reason"]
        source = sent[index]
        assert (headers["source_topic"], headers["source_partition"], headers["source_offset"]) == (
            source.topic,
            str(source.partition),
            str(source.offset),
        )
    finally:
        await pool.close()


async def test_when_every_event_is_refused_the_worker_stops_instead_of_dead_lettering_them(
    new_database: DatabaseFactory, kafka_bootstrap: str, topic_prefix: str
) -> None:
    """Not a poison event but a fault of every event (here a trigger refusing them all, as a
    fold bug or a schema change would): the worker halts with nothing dead-lettered or
    committed, and once the fault is gone, a restart projects every event."""
    dsn = await new_database()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """
            CREATE FUNCTION refuse_all() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'refused by test trigger'; END $$;
            CREATE TRIGGER refuse_all BEFORE INSERT ON event_store
                FOR EACH ROW EXECUTE FUNCTION refuse_all();
            """
        )
    finally:
        await conn.close()
    items = load(enterprises=MAX_REFUSED_PER_BATCH + 50, per_enterprise=1)
    await publish(kafka_bootstrap, topic_prefix, items)
    settings = settings_for(dsn, kafka_bootstrap, topic_prefix)
    pool = await db.create_pool(dsn)
    try:
        async with running(settings) as projector:
            async with asyncio.timeout(60):
                while not projector.crashed:
                    await asyncio.sleep(0.05)
            assert isinstance(projector.crash_reason, SystemicFailure)
            assert projector.stats.dead_lettered == 0
        await pool.execute("DROP TRIGGER refuse_all ON event_store")
        async with running(settings):
            await projected(pool, len(items))
        assert await event_counts(pool) == Counter(e["enterprise"] for e in items)
    finally:
        await pool.close()
    # Nothing reached the dead-letter topic.
    with pytest.raises(TimeoutError):
        await dead_letters(kafka_bootstrap, topic_prefix, 1, timeout=3)


# --- worker processes -----------------------------------------------------------------


async def start_worker(settings: Settings, log: Any) -> asyncio.subprocess.Process:
    env = os.environ | {
        "DATABASE_URL": settings.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "TOPIC_PREFIX": settings.topic_prefix,
        "WORKER_MAX_BATCH": str(settings.worker_max_batch),
        "WORKER_GROUP": settings.projector_group,
        "SCHEDULER_INTERVAL_SECONDS": "3600",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "worker", env=env, stderr=log, stdout=log
    )


async def read_models(pool: asyncpg.Pool) -> dict[str, Any]:
    """Everything the read models say, without the times of writing and evaluation."""
    cases = {
        r["uscc"]: orjson.loads(r["body"])
        for r in await pool.fetch("SELECT uscc, body::text AS body FROM case_file")
    }
    statuses = {}
    for r in await pool.fetch("SELECT uscc, body::text AS body FROM blacklist_status"):
        body = orjson.loads(r["body"])
        body.pop("evaluated_at")
        statuses[r["uscc"]] = body
    changes = sorted(
        (r["uscc"], r["previous_status"], r["status"])
        for r in await pool.fetch("SELECT * FROM blacklist_change")
    )
    return {"cases": cases, "statuses": statuses, "changes": changes}


def load(enterprises: int, per_enterprise: int) -> list[dict[str, Any]]:
    streams = ["environment", "safety", "quality", "land", "tax", "customs"]
    dims = {
        "environment": "environmental_protection",
        "safety": "work_safety",
        "quality": "product_quality",
        "land": "land_approval",
        "tax": "tax_compliance",
        "customs": "export_supervision",
    }
    out = []
    for i in range(per_enterprise):
        for n in range(enterprises):
            s = streams[(n + i) % len(streams)]
            out.append(
                finding(
                    uscc(20_000 + n),
                    s,
                    dims[s],
                    ("minor", "serious", "critical")[(n * 7 + i) % 3],
                    occurred_at=NOW - timedelta(days=30 * i + 1),
                )
            )
    return out


async def test_worker_killed_mid_batch_converges_to_a_clean_rebuild(
    new_database: DatabaseFactory, kafka_bootstrap: str, topic_prefix: str, tmp_path: Any
) -> None:
    dsn = await new_database()
    items = load(enterprises=300, per_enterprise=10)
    await publish(kafka_bootstrap, topic_prefix, items)
    settings = settings_for(dsn, kafka_bootstrap, topic_prefix, worker_max_batch=100)
    pool = await db.create_pool(dsn)
    try:
        with open(tmp_path / "worker.log", "wb") as log:
            worker = await start_worker(settings, log)
            async with asyncio.timeout(60):
                while await pool.fetchval("SELECT count(*) FROM event_store") < 600:
                    await asyncio.sleep(0.02)
            worker.send_signal(signal.SIGKILL)
            await worker.wait()
            stored = await pool.fetchval("SELECT count(*) FROM event_store")
            assert stored < len(items), "the worker must die before the end"

            worker = await start_worker(settings, log)
            try:
                await projected(pool, len(items), timeout=120)
            finally:
                worker.terminate()
                await worker.wait()
        incremental = await read_models(pool)
        assert await pool.fetchval("SELECT count(*) FROM event_store") == len(items)

        await rebuild(dsn, Rules())
        assert await read_models(pool) == incremental

        # And the same as a rebuild into empty read models (whose change feed then holds one
        # change per listed enterprise instead of the history of how it got there).
        await pool.execute("TRUNCATE case_file, blacklist_status, blacklist_change")
        await rebuild(dsn, Rules())
        fresh = await read_models(pool)
        assert (fresh["cases"], fresh["statuses"]) == (
            incremental["cases"],
            incremental["statuses"],
        )
        listed = {u: st["status"] for u, st in fresh["statuses"].items() if st["status"] != "CLEAR"}
        assert {u: status for u, _, status in fresh["changes"]} == listed
    finally:
        await pool.close()


async def test_two_workers_split_the_partitions_and_agree_with_one(
    new_database: DatabaseFactory, kafka_bootstrap: str, topic_prefix: str, tmp_path: Any
) -> None:
    items = load(enterprises=200, per_enterprise=6)
    await publish(kafka_bootstrap, topic_prefix, items)

    two_dsn, one_dsn = await new_database(), await new_database()
    two = settings_for(two_dsn, kafka_bootstrap, topic_prefix, worker_group=f"g{uuid.uuid4()}")
    one = settings_for(one_dsn, kafka_bootstrap, topic_prefix, worker_group=f"g{uuid.uuid4()}")
    two_pool, one_pool = await db.create_pool(two_dsn), await db.create_pool(one_dsn)
    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    try:
        with open(logs[0], "wb") as log1, open(logs[1], "wb") as log2:
            workers = [await start_worker(two, log1), await start_worker(two, log2)]
            try:
                async with running(one):
                    await projected(one_pool, len(items), timeout=120)
                await projected(two_pool, len(items), timeout=120)
            finally:
                for w in workers:
                    w.terminate()
                for w in workers:
                    await w.wait()
        assert await read_models(two_pool) == await read_models(one_pool)

        # Both took part: each one's last assignment is half of the 14 x 12 partitions.
        for path in logs:
            counts = [
                orjson.loads(line)["count"]
                for line in path.read_bytes().splitlines()
                if b'"partitions assigned"' in line
            ]
            assert counts and counts[-1] == 14 * Settings().topic_partitions // 2
    finally:
        await two_pool.close()
        await one_pool.close()


def assignments(path: Any) -> list[int]:
    """The partition counts a worker process logged, one per assignment, in order."""
    counts = []
    for line in path.read_bytes().splitlines():
        if b'"partitions assigned"' in line:
            with contextlib.suppress(orjson.JSONDecodeError):  # a line still being written
                counts.append(orjson.loads(line)["count"])
    return counts


async def test_a_slow_consumer_never_stalls_other_partitions(
    new_database: DatabaseFactory,
    kafka_bootstrap: str,
    topic_prefix: str,
    topic_partitions: int,
    tmp_path: Any,
) -> None:
    dsn = await new_database()
    settings = settings_for(dsn, kafka_bootstrap, topic_prefix, worker_group=f"g{uuid.uuid4()}")
    everything = 14 * topic_partitions  # every stream topic's partitions
    pool = await db.create_pool(dsn)
    logs = [tmp_path / "live.log", tmp_path / "frozen.log"]
    try:
        with open(logs[0], "wb") as log1, open(logs[1], "wb") as log2:
            live = await start_worker(settings, log1)
            frozen = await start_worker(settings, log2)
            try:
                async with asyncio.timeout(30):
                    while any(assignments(p)[-1:] != [everything // 2] for p in logs):
                        await asyncio.sleep(0.1)
                frozen.send_signal(signal.SIGSTOP)

                # Promptly, well before the frozen one's session (6 s) expires, the live
                # worker's half of the partitions is visible, and nothing of the other half.
                items = load(enterprises=60, per_enterprise=2)
                async with asyncio.timeout(5):
                    sent = await publish(kafka_bootstrap, topic_prefix, items)
                    partition_of = {
                        e["enterprise"]: a.partition for e, a in zip(items, sent, strict=True)
                    }
                    on_partition = Counter(partition_of[e["enterprise"]] for e in items)
                    assert set(on_partition) == set(range(topic_partitions))
                    while True:
                        counts = await event_counts(pool)
                        visible = {partition_of[u] for u in counts}
                        if len(visible) == topic_partitions // 2 and sum(counts.values()) == sum(
                            on_partition[p] for p in visible
                        ):
                            break
                        await asyncio.sleep(0.05)
                # Range assignment, one partition count everywhere: one half of each topic.
                half = topic_partitions // 2
                assert visible in ({*range(half)}, {*range(half, topic_partitions)})

                # After the session timeout its partitions move to the live worker.
                await projected(pool, len(items), timeout=30)
                assert assignments(logs[0])[-1] == everything
                assert await pool.fetchval("SELECT count(*) FROM event_store") == len(items)

                # Resumed, the frozen one rejoins the group; then both stop cleanly. Stopped
                # mid-rejoin, a worker can hang: on_stop holds the batch lock while the
                # consumer's close waits for the revocation listener, which wants that lock.
                rejoined = len(assignments(logs[1])) + 1
                frozen.send_signal(signal.SIGCONT)
                async with asyncio.timeout(20):
                    while len(assignments(logs[1])) < rejoined:
                        await asyncio.sleep(0.1)
                assert live.returncode is None and frozen.returncode is None
                frozen.terminate()
                live.terminate()
                async with asyncio.timeout(20):
                    assert [await frozen.wait(), await live.wait()] == [0, 0]
            finally:
                for w in (frozen, live):
                    if w.returncode is None:  # only when the test failed
                        w.kill()
                        await w.wait()
    finally:
        await pool.close()


async def test_scheduler_emits_one_overdue_notice_when_a_deadline_passes(
    new_database: DatabaseFactory, kafka_bootstrap: str, topic_prefix: str
) -> None:
    """R2 turns on at the deadline with no new event; the notice is emitted once."""
    dsn = await new_database()
    firm = uscc(9201)
    target = event(
        "CapacityReductionTargetSet",
        "miit",
        firm,
        {
            "target_id": "SJZ-2026-01",
            "iron_tonnes": 500_000,
            "steel_tonnes": 0,
            "deadline": (NOW + timedelta(days=10)).isoformat(),
            "basis": "石家庄市钢铁产业结构调整方案",
        },
        occurred_at=NOW - timedelta(days=100),
    )
    await publish(kafka_bootstrap, topic_prefix, [target])
    clock = {"now": NOW}
    pool = await db.create_pool(dsn)
    try:
        settings = settings_for(dsn, kafka_bootstrap, topic_prefix)
        projector = Projector(settings, Rules(), clock=lambda: clock["now"])
        await projector.start()
        try:
            await projected(pool, 1)
            assert await pool.fetchval("SELECT status FROM blacklist_status") == "CLEAR"
            assert await projector.reevaluate_due() == 0  # nothing due yet

            clock["now"] = NOW + timedelta(days=10, seconds=1)
            assert await projector.reevaluate_due() == 1
            assert await projector.reevaluate_due() == 0  # re-evaluated, nothing pending
        finally:
            await projector.stop()
        status = await pool.fetchrow("SELECT * FROM blacklist_status")
        assert status is not None
        assert status["status"] == "CREDIT_RESTRICTED"
        notices = await pool.fetch(
            "SELECT body::text AS body FROM event_store "
            "WHERE event_type = 'CapacityReductionOverdue'"
        )
        assert len(notices) == 1
        notice = parse_event(orjson.loads(notices[0]["body"]))
        assert notice.payload.iron_tonnes_missing == 500_000  # type: ignore[union-attr]
        # Queued for the relay, like any accepted event.
        assert await pool.fetchval("SELECT count(*) FROM outbox") == 1
        change = await pool.fetchrow("SELECT * FROM blacklist_change ORDER BY cursor DESC")
        assert change is not None
        assert (change["previous_status"], change["status"]) == ("CLEAR", "CREDIT_RESTRICTED")
    finally:
        await pool.close()
