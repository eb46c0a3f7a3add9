"""The local broker process and topic provisioning, against the real tansu broker."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import uuid
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.broker import (
    BrokerStartError,
    LocalBroker,
    PartitionCountMismatch,
    ensure_topics,
    free_port,
)
from services.topics import dead_letter_topic, stream_topics

pytestmark = pytest.mark.integration


def _prefix() -> str:
    return f"b{uuid.uuid4().hex[:8]}."


async def _partition_counts(bootstrap: str, prefix: str) -> dict[str, int]:
    """Partition count of every topic under `prefix` (listing first: describing a missing
    topic would make tansu create it)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        described = await admin.describe_topics(names) if names else []
        return {t["topic"]: len(t["partitions"]) for t in described}
    finally:
        await admin.close()


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


async def test_provisioning_creates_every_stream_topic_and_the_dead_letter_topic(
    kafka_bootstrap: str,
) -> None:
    prefix = _prefix()
    names = await ensure_topics(kafka_bootstrap, prefix, 3, 1)

    expected = [*stream_topics(prefix), dead_letter_topic(prefix)]
    assert names == expected
    assert len(names) == 15
    assert f"{prefix}environment" in names and f"{prefix}deadletter" in names
    assert await _partition_counts(kafka_bootstrap, prefix) == dict.fromkeys(expected, 3)


async def test_provisioning_is_idempotent(kafka_bootstrap: str) -> None:
    prefix = _prefix()
    first = await ensure_topics(kafka_bootstrap, prefix, 5, 1)
    second = await ensure_topics(kafka_bootstrap, prefix, 5, 1)

    assert first == second
    assert await _partition_counts(kafka_bootstrap, prefix) == dict.fromkeys(first, 5)


async def test_provisioning_completes_a_partial_set_of_topics(kafka_bootstrap: str) -> None:
    prefix = _prefix()
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(f"{prefix}tax", 2, 1)])
    finally:
        await admin.close()

    names = await ensure_topics(kafka_bootstrap, prefix, 2, 1)

    assert await _partition_counts(kafka_bootstrap, prefix) == dict.fromkeys(names, 2)


async def test_a_different_partition_count_is_refused(kafka_bootstrap: str) -> None:
    prefix = _prefix()
    await ensure_topics(kafka_bootstrap, prefix, 3, 1)

    with pytest.raises(PartitionCountMismatch) as info:
        await ensure_topics(kafka_bootstrap, prefix, 6, 1)

    assert info.value.expected == 6
    every_topic = [*stream_topics(prefix), dead_letter_topic(prefix)]
    assert info.value.actual == dict.fromkeys(every_topic, 3)
    assert "never changed" in str(info.value)
    assert f"{prefix}environment" in str(info.value)
    # Nothing was altered by the refused call.
    assert set((await _partition_counts(kafka_bootstrap, prefix)).values()) == {3}


async def test_one_mismatched_topic_is_named(kafka_bootstrap: str) -> None:
    prefix = _prefix()
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(f"{prefix}land", 2, 1)])
    finally:
        await admin.close()

    with pytest.raises(PartitionCountMismatch) as info:
        await ensure_topics(kafka_bootstrap, prefix, 4, 1)

    assert info.value.actual == {f"{prefix}land": 2}


async def test_local_broker_starts_serves_and_stops() -> None:
    port = free_port()
    async with LocalBroker(f"127.0.0.1:{port}") as broker:
        assert broker.running
        assert broker.bootstrap == f"127.0.0.1:{port}"
        names = await ensure_topics(broker.bootstrap, "x.", 2, 1)
        assert len(names) == 15
        pid = broker.pid
        assert pid is not None
    assert not broker.running
    assert _port_free(port)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_a_broker_that_dies_at_start_is_reported_with_its_output(tmp_path: Path) -> None:
    fake = tmp_path / "fake-tansu"
    fake.write_text("#!/bin/sh\necho 'fatal: storage engine unavailable' >&2\nexit 3\n")
    fake.chmod(0o755)

    with pytest.raises(BrokerStartError) as info:
        async with LocalBroker(f"127.0.0.1:{free_port()}", binary=str(fake)):
            pass

    assert "exited with code 3" in str(info.value)
    assert "fatal: storage engine unavailable" in info.value.output


async def test_a_port_in_use_is_refused_before_starting() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        broker = LocalBroker(f"127.0.0.1:{port}")
        with pytest.raises(BrokerStartError, match="in use"):
            await broker.start()
        assert broker.pid is None


async def test_a_broker_that_never_answers_times_out(tmp_path: Path) -> None:
    fake = tmp_path / "silent-tansu"
    fake.write_text("#!/bin/sh\nexec sleep 30\n")
    fake.chmod(0o755)
    broker = LocalBroker(f"127.0.0.1:{free_port()}", binary=str(fake), startup_timeout=0.5)

    with pytest.raises(BrokerStartError, match="not ready after"):
        await broker.start()
    assert not broker.running


async def test_run_forever_stops_cleanly_on_sigterm() -> None:
    port = free_port()
    code = (
        "import sys; from services.broker import run_forever; "
        f"sys.exit(run_forever('127.0.0.1:{port}', prefix='cli.', partitions=2))"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, env=os.environ | {"LOG_LEVEL": "WARNING"}
    )
    try:
        async with asyncio.timeout(20):
            while True:
                assert proc.returncode is None, "run_forever exited early"
                if not _port_free(port):
                    counts = await _partition_counts(f"127.0.0.1:{port}", "cli.")
                    if len(counts) == 15:
                        break
                await asyncio.sleep(0.1)
        assert set(counts.values()) == {2}

        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            assert await proc.wait() == 0
        assert _port_free(port), "the broker process outlived run_forever"
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
