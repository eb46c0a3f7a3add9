"""The producer library and `jointcase publish`, against the real broker (no mocks).

Messages are read back with manual partition assignment from the beginning: a consumer-group
join takes seconds on tansu, and each test has topics of its own.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import murmur2

from events import InvalidEvent, parse_event
from events.uscc import complete
from services import publish
from services.broker import LocalBroker, TopicProvisioningError, ensure_topics, free_port
from services.config import Settings
from services.kafka import KafkaSecurity
from services.producer import (
    Accepted,
    BrokerUnavailable,
    EventProducer,
    Failed,
    PublishFailed,
    Rejected,
    TopicsNotProvisioned,
)
from services.topics import stream_topics, topic_for

pytestmark = pytest.mark.integration


def uscc(n: int) -> str:
    return complete(f"91130100{n:09d}")


def finding(enterprise: str, stream: str = "environment", **envelope: Any) -> dict[str, Any]:
    recorded = datetime.now(UTC) - timedelta(hours=1)
    data: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "event_type": "FindingRecorded",
        "stream": stream,
        "enterprise": enterprise,
        "occurred_at": (recorded - timedelta(days=1)).isoformat(),
        "recorded_at": recorded.isoformat(),
        "actor": "officer-1",
        "payload": {
            "dimension": "environmental_protection",
            "severity": "serious",
            "violation_code": "ENV-1",
            "description": "排污超标",
        },
    }
    data.update(envelope)
    return data


def settings_for(bootstrap: str, prefix: str) -> Settings:
    return Settings(kafka_bootstrap_servers=bootstrap, topic_prefix=prefix)


def producer_for(bootstrap: str, prefix: str) -> EventProducer:
    return EventProducer.from_settings(settings_for(bootstrap, prefix))


async def read_back(
    bootstrap: str, topics: Iterable[str], partitions: int, expect: int, wait: float = 15.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every message on `topics`, once at least `expect` arrived and a short wait shows no more.

    Counts messages rather than trusting end offsets: tansu's ListOffsets(latest) is wrong.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(t, p) for t in topics for p in range(partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        records: list[ConsumerRecord[bytes, bytes]] = []
        async with asyncio.timeout(wait):
            while len(records) < expect:
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    records.extend(batch)
        for batch in (await consumer.getmany(timeout_ms=300)).values():
            records.extend(batch)
        return records
    finally:
        await consumer.stop()


def headers_of(record: ConsumerRecord[bytes, bytes]) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers}


def java_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's Java client (and so every other producer) picks for a key."""
    partition: int = (murmur2(key) & 0x7FFFFFFF) % partitions
    return partition


# --- single sends ---------------------------------------------------------------------


async def test_send_lands_on_the_stream_topic_keyed_by_uscc(
    kafka_bootstrap: str, topic_prefix: str, topic_partitions: int
) -> None:
    data = finding(uscc(1), "land")
    data["payload"] = {**data["payload"], "dimension": "land_approval"}
    async with producer_for(kafka_bootstrap, topic_prefix) as producer:
        result = await producer.send(data)

    assert isinstance(result, Accepted)
    assert result.topic == f"{topic_prefix}land"
    assert str(result.event_id) == data["event_id"]
    [record] = await read_back(kafka_bootstrap, [result.topic], topic_partitions, 1)
    assert record.key == uscc(1).encode()
    assert (record.partition, record.offset) == (result.partition, result.offset)
    assert record.partition == java_partition(uscc(1).encode(), topic_partitions)
    assert record.value is not None
    assert parse_event(orjson.loads(record.value)) == parse_event(data)
    assert headers_of(record) == {"event_type": "FindingRecorded", "event_id": data["event_id"]}


async def test_send_accepts_event_objects(
    kafka_bootstrap: str, topic_prefix: str, topic_partitions: int
) -> None:
    event = parse_event(finding(uscc(2), "tax"))
    async with producer_for(kafka_bootstrap, topic_prefix) as producer:
        result = await producer.send(event)

    [record] = await read_back(kafka_bootstrap, [result.topic], topic_partitions, 1)
    assert result.topic == topic_for("tax", topic_prefix)
    assert record.value is not None
    assert parse_event(orjson.loads(record.value)) == event


# --- batches --------------------------------------------------------------------------


async def test_batch_lands_on_each_stream_topic_keyed_by_uscc(
    kafka_bootstrap: str, topic_prefix: str, topic_partitions: int
) -> None:
    streams = ["environment", "safety", "customs"]
    batch = [finding(uscc(i % 10), streams[i % 3]) for i in range(90)]
    async with producer_for(kafka_bootstrap, topic_prefix) as producer:
        results = await producer.send_batch(batch)

    assert [r.index for r in results] == list(range(90))
    assert all(isinstance(r, Accepted) for r in results)
    accepted = [r for r in results if isinstance(r, Accepted)]
    topics = [topic_for(s, topic_prefix) for s in streams]
    records = await read_back(kafka_bootstrap, topics, topic_partitions, 90)
    assert len(records) == 90

    sent = {d["event_id"]: d for d in batch}
    by_position = {(r.topic, r.partition, r.offset): r for r in accepted}
    for record in records:
        data = sent[headers_of(record)["event_id"]]
        assert record.topic == topic_for(data["stream"], topic_prefix)
        assert record.key == data["enterprise"].encode()
        result = by_position[(record.topic, record.partition, record.offset)]
        assert str(result.event_id) == data["event_id"]


async def test_one_enterprise_always_lands_on_one_partition(
    kafka_bootstrap: str, topic_prefix: str, topic_partitions: int
) -> None:
    streams = ["environment", "land", "quality", "market"]
    enterprises = [uscc(100 + i) for i in range(12)]
    batch = [finding(e, streams[i % 4]) for i, e in enumerate(enterprises * 5)]
    async with producer_for(kafka_bootstrap, topic_prefix) as producer:
        results = await producer.send_batch(batch)
        # Later single sends of the same enterprises follow the same partitions.
        singles = [await producer.send(finding(e, "tax")) for e in enterprises]

    partitions: dict[str, set[int]] = {}
    for data, result in zip(batch, results, strict=True):
        assert isinstance(result, Accepted)
        partitions.setdefault(data["enterprise"], set()).add(result.partition)
    for enterprise, result in zip(enterprises, singles, strict=True):
        partitions[enterprise].add(result.partition)

    # One partition per enterprise, across streams (co-partitioning), as Kafka's own client does.
    assert all(len(p) == 1 for p in partitions.values())
    for enterprise, parts in partitions.items():
        assert parts == {java_partition(enterprise.encode(), topic_partitions)}
    # And the enterprises do spread over the partitions.
    assert len(set().union(*partitions.values())) > 1
    records = await read_back(
        kafka_bootstrap,
        [topic_for(s, topic_prefix) for s in [*streams, "tax"]],
        topic_partitions,
        72,
    )
    assert all(r.key is not None and r.partition in partitions[r.key.decode()] for r in records)


async def test_invalid_events_are_rejected_with_field_paths_and_not_produced(
    kafka_bootstrap: str, topic_prefix: str, topic_partitions: int
) -> None:
    good = [finding(uscc(1)), finding(uscc(2))]
    bad_severity = finding(uscc(3))
    bad_severity["payload"] = {**bad_severity["payload"], "severity": "terrible"}
    bad_uscc = finding("91350100M000100Y44")  # wrong check character
    unknown_type = finding(uscc(4), event_type="FindingInvented")
    items: list[Any] = [good[0], bad_severity, bad_uscc, unknown_type, "not an object", good[1]]

    async with producer_for(kafka_bootstrap, topic_prefix) as producer:
        results = await producer.send_batch(items)
        with pytest.raises(InvalidEvent) as single:
            await producer.send(bad_severity)

    assert [type(r).__name__ for r in results] == [
        "Accepted",
        "Rejected",
        "Rejected",
        "Rejected",
        "Rejected",
        "Accepted",
    ]
    rejected = {r.index: r for r in results if isinstance(r, Rejected)}
    assert [e.path for e in rejected[1].errors] == ["payload.severity"]
    assert rejected[1].event_id == bad_severity["event_id"]
    assert [e.path for e in rejected[2].errors] == ["enterprise"]
    assert "check character" in rejected[2].errors[0].reason
    assert [e.path for e in rejected[3].errors] == ["event_type"]
    assert rejected[4].event_id is None and rejected[4].errors[0].path == ""
    assert [e.path for e in single.value.errors] == ["payload.severity"]

    every_topic = stream_topics(topic_prefix)
    records = await read_back(kafka_bootstrap, every_topic, topic_partitions, 2)
    assert sorted(headers_of(r)["event_id"] for r in records) == sorted(d["event_id"] for d in good)


async def test_an_event_recorded_in_the_future_is_rejected(
    kafka_bootstrap: str, topic_prefix: str, topic_partitions: int
) -> None:
    now = datetime.now(UTC)
    future = finding(
        uscc(5), occurred_at=now.isoformat(), recorded_at=(now + timedelta(hours=1)).isoformat()
    )
    within_skew = finding(
        uscc(6), occurred_at=now.isoformat(), recorded_at=(now + timedelta(minutes=1)).isoformat()
    )
    async with producer_for(kafka_bootstrap, topic_prefix) as producer:
        with pytest.raises(InvalidEvent) as info:
            await producer.send(future)
        results = await producer.send_batch([future, within_skew])

    assert [e.path for e in info.value.errors] == ["recorded_at"]
    assert "future" in info.value.errors[0].reason
    assert isinstance(results[0], Rejected) and results[0].errors[0].path == "recorded_at"
    assert isinstance(results[1], Accepted)
    records = await read_back(
        kafka_bootstrap, [topic_for("environment", topic_prefix)], topic_partitions, 1
    )
    assert [headers_of(r)["event_id"] for r in records] == [within_skew["event_id"]]


# --- failures -------------------------------------------------------------------------


async def test_missing_topics_are_reported_and_not_auto_created(kafka_bootstrap: str) -> None:
    prefix = f"never{uuid.uuid4().hex[:8]}."
    with pytest.raises(TopicsNotProvisioned) as info:
        async with producer_for(kafka_bootstrap, prefix):
            pass

    assert f"{prefix}environment" in info.value.missing
    assert len(info.value.missing) == 14
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        assert not [t for t in await admin.list_topics() if t.startswith(prefix)]
    finally:
        await admin.close()


async def test_an_unreachable_broker_is_reported() -> None:
    port = free_port()
    producer = EventProducer(f"127.0.0.1:{port}", start_timeout=5)
    with pytest.raises(BrokerUnavailable, match=str(port)):
        await producer.start()
    with pytest.raises(BrokerUnavailable, match="not started"):
        await producer.send(finding(uscc(1)))


# --- a producer restricted to its streams ---------------------------------------------


async def topics_with_prefix(bootstrap: str, prefix: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return sorted(t for t in await admin.list_topics() if t.startswith(prefix))
    finally:
        await admin.close()


async def create_only(bootstrap: str, topics: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, partitions, 1) for t in topics])
    finally:
        await admin.close()


async def test_a_producer_of_one_stream_needs_only_its_topic(
    kafka_bootstrap: str, topic_partitions: int
) -> None:
    # What an agency principal sees under the ACLs: its own topic, none of the others.
    prefix = f"own{uuid.uuid4().hex[:8]}."
    tax = topic_for("tax", prefix)
    await create_only(kafka_bootstrap, [tax], topic_partitions)
    own, foreign = finding(uscc(1), "tax"), finding(uscc(2), "environment")
    own_too = finding(uscc(3), "tax")

    with pytest.raises(TopicsNotProvisioned) as every_stream:
        async with EventProducer(kafka_bootstrap, topic_prefix=prefix):
            pass
    async with EventProducer(kafka_bootstrap, topic_prefix=prefix, streams=["tax"]) as producer:
        accepted = await producer.send(own)
        with pytest.raises(InvalidEvent) as refused:
            await producer.send(foreign)
        results = await producer.send_batch([foreign, own_too])

    assert len(every_stream.value.missing) == 13 and tax not in every_stream.value.missing
    assert accepted.topic == tax
    assert [(e.path, e.reason) for e in refused.value.errors] == [
        ("stream", "'environment' is not a stream of this producer (it publishes tax)")
    ]
    assert isinstance(results[0], Rejected) and results[0].event_id == foreign["event_id"]
    assert [e.path for e in results[0].errors] == ["stream"]
    assert isinstance(results[1], Accepted) and results[1].topic == tax
    records = await read_back(kafka_bootstrap, [tax], topic_partitions, 2)
    assert sorted(headers_of(r)["event_id"] for r in records) == sorted(
        [own["event_id"], own_too["event_id"]]
    )
    # Nothing was created for the refused event, nor by the producers' checks.
    assert await topics_with_prefix(kafka_bootstrap, prefix) == [tax]


async def test_a_restricted_producer_checks_its_own_topics(
    kafka_bootstrap: str, topic_partitions: int
) -> None:
    prefix = f"own{uuid.uuid4().hex[:8]}."
    await create_only(kafka_bootstrap, [topic_for("tax", prefix)], topic_partitions)

    with pytest.raises(TopicsNotProvisioned) as info:
        async with EventProducer(kafka_bootstrap, topic_prefix=prefix, streams=["power", "tax"]):
            pass

    assert info.value.missing == [topic_for("power", prefix)]
    assert await topics_with_prefix(kafka_bootstrap, prefix) == [topic_for("tax", prefix)]


def test_a_producer_refuses_unknown_or_no_streams() -> None:
    with pytest.raises(ValueError, match="unknown stream 'taxes'"):
        EventProducer("127.0.0.1:1", streams=["tax", "taxes"])
    with pytest.raises(ValueError, match="streams is empty"):
        EventProducer("127.0.0.1:1", streams=[])
    with pytest.raises(TypeError, match="not one string"):
        EventProducer("127.0.0.1:1", streams="tax")


async def test_publish_of_one_stream_refuses_the_lines_of_others(
    kafka_bootstrap: str, topic_partitions: int, tmp_path: Path
) -> None:
    prefix = f"own{uuid.uuid4().hex[:8]}."
    await create_only(kafka_bootstrap, [topic_for("customs", prefix)], topic_partitions)
    path = tmp_path / "customs.jsonl"
    _jsonl(path, [finding(uscc(1), "customs"), finding(uscc(2), "environment")])

    out = io.StringIO()
    code = await asyncio.to_thread(
        publish.main, str(path), settings_for(kafka_bootstrap, prefix), out=out, streams=["customs"]
    )

    assert code == 1
    assert "2 event(s): 1 accepted, 1 rejected, 0 failed" in out.getvalue()
    assert "line 2: stream: 'environment' is not a stream of this producer" in out.getvalue()


async def test_sasl_settings_reach_the_broker(
    kafka_bootstrap: str, topic_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The local broker has no SASL: it refuses the handshake that the settings ask for. (A
    # broker with SASL, Apache Kafka, is not available to the tests.)
    security = KafkaSecurity(protocol="SASL_PLAINTEXT", username="agency-tax", password="x" * 16)
    producer = EventProducer(
        kafka_bootstrap, topic_prefix=topic_prefix, security=security, start_timeout=10
    )
    with pytest.raises(BrokerUnavailable):
        await producer.start()
    with pytest.raises(TopicProvisioningError):
        await ensure_topics(kafka_bootstrap, topic_prefix, 1, 1, security=security)

    refusals = [r for r in caplog.records if "UnsupportedSaslMechanism" in r.getMessage()]
    assert len(refusals) >= 2


# --- the publish command --------------------------------------------------------------


def _jsonl(path: Path, lines: list[Any]) -> None:
    path.write_text(
        "\n".join(line if isinstance(line, str) else orjson.dumps(line).decode() for line in lines)
        + "\n",
        encoding="utf-8",
    )


async def test_publish_reports_accepted_and_rejected_lines(
    kafka_bootstrap: str, topic_prefix: str, topic_partitions: int, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    good = [finding(uscc(i)) for i in range(5)]
    bad_severity = finding(uscc(7))
    bad_severity["payload"] = {**bad_severity["payload"], "severity": "terrible"}
    future = finding(uscc(8), recorded_at=(now + timedelta(days=1)).isoformat())
    bad_codes = [finding("91130100000000000X") for _ in range(22)]
    lines: list[Any] = [*good, "", "{not json", bad_severity, future, *bad_codes, finding(uscc(9))]
    path = tmp_path / "events.jsonl"
    _jsonl(path, lines)

    out = io.StringIO()
    code = await asyncio.to_thread(
        publish.main, str(path), settings_for(kafka_bootstrap, topic_prefix), out=out
    )
    text = out.getvalue()

    assert code == 1
    assert "31 event(s): 6 accepted, 25 rejected, 0 failed" in text
    assert "line 7: (event): malformed JSON" in text
    assert "line 8: payload.severity:" in text
    assert "line 9: recorded_at: is in the future" in text
    assert "line 10: enterprise: invalid USCC" in text
    assert "line 6:" not in text  # the blank line is skipped, not refused
    assert "... and 5 more refused line(s)" in text
    records = await read_back(
        kafka_bootstrap, [topic_for("environment", topic_prefix)], topic_partitions, 6
    )
    assert len(records) == 6


async def test_publish_of_a_clean_file_exits_zero(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    path = tmp_path / "clean.jsonl"
    _jsonl(path, [finding(uscc(i), "safety") for i in range(3000)])

    out = io.StringIO()
    code = await asyncio.to_thread(
        publish.main, str(path), settings_for(kafka_bootstrap, topic_prefix), out=out
    )

    assert code == 0
    assert "3000 event(s): 3000 accepted, 0 rejected, 0 failed" in out.getvalue()


async def test_publish_of_a_missing_file_exits_two(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    code = await asyncio.to_thread(
        publish.main, str(tmp_path / "nope.jsonl"), settings_for(kafka_bootstrap, topic_prefix)
    )
    assert code == 2


async def test_events_the_broker_never_acknowledges_are_reported_failed() -> None:
    prefix = "gone."
    async with LocalBroker(f"127.0.0.1:{free_port()}") as broker:
        await ensure_topics(broker.bootstrap, prefix, 2, 1)
        producer = EventProducer(broker.bootstrap, topic_prefix=prefix, request_timeout_ms=1000)
        await producer.start()
        await producer.send(finding(uscc(1)))  # connected and metadata known
        await broker.stop()
        try:
            async with asyncio.timeout(20):
                results = await producer.send_batch([finding(uscc(2)), {"bad": "event"}])
                with pytest.raises(PublishFailed) as info:
                    await producer.send(finding(uscc(3), "tax"))
        finally:
            await producer.stop()

    assert isinstance(results[0], Failed)
    assert results[0].topic == f"{prefix}environment" and results[0].retriable
    assert isinstance(results[1], Rejected)
    assert info.value.topic == f"{prefix}tax" and info.value.retriable


async def test_publish_keeps_the_first_refused_lines_across_chunks(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    bad = finding("91130100000000000X")
    lines: list[Any] = [finding(uscc(1)), bad, "[", finding(uscc(2)), bad, bad, "{", bad]
    path = tmp_path / "mixed.jsonl"
    _jsonl(path, lines)

    async with producer_for(kafka_bootstrap, topic_prefix) as producer:
        summary = await publish.publish_file(str(path), producer, chunk=3, keep=4, progress=False)
    out = io.StringIO()
    publish.render(str(path), summary, out)

    assert (summary.accepted, summary.rejected, summary.failed) == (2, 6, 0)
    assert [number for number, _ in summary.problems] == [2, 3, 5, 6]
    assert out.getvalue().endswith("  ... and 2 more refused line(s)\n")
