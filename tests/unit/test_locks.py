"""Lock buckets and the rebuild's plan of transactions (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from projections.readmodels import LOCK_BUCKETS, lock_bucket
from projections.rebuild import CHUNK, plan
from services.topics import key_hash
from tests.strategies import usccs


@given(st.lists(usccs(), max_size=2000, unique=True), st.integers(1, 8))
def test_rebuild_plan_covers_every_enterprise_once_and_keeps_jobs_apart(
    codes: list[str], jobs: int
) -> None:
    work = plan(codes, jobs)
    assert len(work) == jobs
    assert sorted(u for chunks in work for c in chunks for u in c) == sorted(codes)
    for job, chunks in enumerate(work):
        for chunk in chunks:
            assert 0 < len(chunk) <= CHUNK
            # Its own buckets only: running jobs never wait on the same lock.
            assert {lock_bucket(u) % jobs for u in chunk} == {job}


@given(usccs(), st.sampled_from([1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128]))
def test_a_lock_bucket_determines_the_kafka_partition(code: str, partitions: int) -> None:
    # Workers owning different partitions of the stream topics then take different locks.
    assert LOCK_BUCKETS % partitions == 0
    partition = key_hash(code.encode()) % partitions
    assert lock_bucket(code) % partitions == partition
