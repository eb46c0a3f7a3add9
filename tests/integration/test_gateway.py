"""The HTTP ingest gateway against the real PostgreSQL and the real local broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from services import eventstore
from services.config import Settings
from services.topics import topic_for
from tests.factories import event, finding, uscc
from tests.fixtures_http import Service, free_port, start_service

pytestmark = pytest.mark.integration


async def consume_until(
    bootstrap: str, topics: Iterable[str], wanted: set[str], timeout: float = 20.0
) -> dict[str, tuple[str, str, int]]:
    """event_id -> (topic, key, partition) for every wanted event seen on the topics."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # refreshes the cluster metadata
        parts = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or [])
        ]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        seen: dict[str, tuple[str, str, int]] = {}
        deadline = asyncio.get_running_loop().time() + timeout
        while not wanted <= seen.keys():
            if asyncio.get_running_loop().time() > deadline:
                break
            batches = await consumer.getmany(timeout_ms=500)
            for tp, messages in batches.items():
                for m in messages:
                    headers = dict(m.headers)
                    event_id = headers["event_id"].decode()
                    assert m.key is not None
                    seen[event_id] = (tp.topic, m.key.decode(), tp.partition)
        return seen
    finally:
        await consumer.stop()


async def test_batches_land_on_their_stream_topics_keyed_by_uscc(service: Service) -> None:
    sent: dict[str, tuple[str, str]] = {}
    for stream, dimension in [
        ("environment", "environmental_protection"),
        ("land", "land_approval"),
        ("tax", "tax_compliance"),
    ]:
        batch = [finding(uscc(i), stream, dimension) for i in range(200)]
        async with service.client(await service.token(f"agency:{stream}")) as client:
            response = await client.post("/v1/events", json=batch)
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["accepted"] == 200 and body["rejected"] == 0
        assert [r["status"] for r in body["results"]] == ["accepted"] * 200
        sent.update({e["event_id"]: (stream, e["enterprise"]) for e in batch})

    topics = [topic_for(s, service.settings.topic_prefix) for s in ("environment", "land", "tax")]
    seen = await consume_until(service.settings.bootstrap_servers, topics, set(sent))
    assert set(seen) >= set(sent)
    partition_of_key: dict[str, set[int]] = {}
    for event_id, (stream, enterprise) in sent.items():
        topic, key, partition = seen[event_id]
        assert topic == topic_for(stream, service.settings.topic_prefix)
        assert key == enterprise
        partition_of_key.setdefault(key, set()).add(partition)
    # Co-partitioning: one enterprise, one partition number, whatever the stream.
    assert all(len(p) == 1 for p in partition_of_key.values())


async def test_resend_is_duplicate_and_stored_once(service: Service) -> None:
    e = finding(uscc(1001))
    async with service.client(await service.token("agency:environment")) as client:
        first = await client.post("/v1/events", json=e)
        second = await client.post("/v1/events", json=[e, e])
    assert first.status_code == 202
    assert first.json()["results"][0]["status"] == "accepted"
    assert second.status_code == 202
    assert [r["status"] for r in second.json()["results"]] == ["duplicate", "duplicate"]
    stored = await service.pool.fetchval(
        "SELECT count(*) FROM event_store WHERE event_id = $1", uuid.UUID(e["event_id"])
    )
    assert stored == 1


async def test_same_id_for_a_different_event_is_rejected(service: Service) -> None:
    e = finding(uscc(1002))
    changed = {**e, "payload": {**e["payload"], "severity": "critical"}}
    async with service.client(await service.token("agency:environment")) as client:
        assert (await client.post("/v1/events", json=e)).status_code == 202
        response = await client.post("/v1/events", json=changed)
    assert response.status_code == 422
    result = response.json()["results"][0]
    assert result["status"] == "rejected"
    assert result["errors"][0]["path"] == "event_id"
    stored = await eventstore.events_of(service.pool, e["enterprise"])
    assert [s.event.payload.severity for s in stored] == ["serious"]  # type: ignore[union-attr]


async def test_mixed_batch_accepts_the_valid_and_names_the_invalid(service: Service) -> None:
    good = finding(uscc(1003))
    bad = finding(uscc(1004))
    bad["payload"]["severity"] = "apocalyptic"
    async with service.client(await service.token("agency:environment")) as client:
        response = await client.post("/v1/events", json=[good, bad])
    assert response.status_code == 202
    body = response.json()
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected"]
    assert body["results"][1]["errors"][0]["path"] == "payload.severity"


async def test_wrong_stream_token_is_forbidden_and_nothing_stored(service: Service) -> None:
    before = await eventstore.count(service.pool)
    batch = [finding(uscc(1005)), finding(uscc(1006), "land", "land_approval")]
    async with service.client(await service.token("agency:environment")) as client:
        response = await client.post("/v1/events", json=batch)
    assert response.status_code == 403
    assert "land" in response.json()["error"]
    async with service.client(await service.token("bank:icbc")) as client:
        assert (await client.post("/v1/events", json=batch[0])).status_code == 403
    assert await eventstore.count(service.pool) == before


async def test_taskforce_writes_only_the_taskforce_stream(service: Service) -> None:
    case = event(
        "CaseOpened",
        "taskforce",
        uscc(1007),
        {"case_id": "JT-2026-001", "title": "联合调查", "reason": "十二部门联合核查"},
    )
    async with service.client(await service.token("taskforce")) as client:
        assert (await client.post("/v1/events", json=case)).status_code == 202
        assert (await client.post("/v1/events", json=finding(uscc(1008)))).status_code == 403


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Bearer nonsense", "Basic abc", "Bearer jc_000000000000_" + "A" * 43]
)
async def test_missing_or_bad_token_is_401(service: Service, header: str | None) -> None:
    async with service.client() as client:
        headers = {"Authorization": header} if header else {}
        response = await client.post("/v1/events", json=finding(uscc(1009)), headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_revoked_token_is_refused(service: Service) -> None:
    from services import auth

    token = await service.token("agency:environment")
    token_id = token.split("_")[1]
    assert await auth.revoke(service.pool, token_id)
    # A fresh verifier sees the revocation at once (the cache is short-lived per process).
    from services.auth import TokenVerifier

    assert await TokenVerifier(service.pool).verify(token) is None


async def test_sql_looking_text_is_stored_verbatim(service: Service) -> None:
    e = finding(uscc(1010))
    text = "'; DROP TABLE event_store; -- \" OR 1=1 /* 地条钢 */"
    e["payload"]["description"] = text
    async with service.client(await service.token("agency:environment")) as client:
        assert (await client.post("/v1/events", json=e)).status_code == 202
    stored = await eventstore.events_of(service.pool, e["enterprise"])
    assert stored[0].event.payload.description == text  # type: ignore[union-attr]


async def test_database_down_gives_503_with_retry_after(kafka_bootstrap: str) -> None:
    port = free_port()
    closed = free_port()  # nothing listens here: PostgreSQL is "down"
    settings = Settings(
        database_url=f"postgresql://postgres@127.0.0.1:{closed}/jointcase",
        kafka_bootstrap_servers=kafka_bootstrap,
        http_port=port,
    )
    server, task = await start_service(settings, run_relay=False)
    try:
        import httpx

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            response = await client.post(
                "/v1/events",
                json=finding(uscc(1011)),
                headers={"Authorization": "Bearer jc_000000000000_" + "A" * 43},
            )
        assert response.status_code == 503
        assert response.headers["retry-after"].isdigit()
    finally:
        server.should_exit = True
        await task
