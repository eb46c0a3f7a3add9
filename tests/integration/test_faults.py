"""The fast part of the fault suite (the full one: `python -m bench.faults`)."""

from __future__ import annotations

import pytest

from bench.faults import broker_outage, postgres_outage, worker_kills

pytestmark = pytest.mark.integration


async def test_worker_killed_at_random_points_converges_to_a_clean_rebuild(
    kafka_bootstrap: str,
) -> None:
    report = await worker_kills(kafka_bootstrap, kills=3, enterprises=120, per_enterprise=8)
    assert report.stored == report.events, "every event stored exactly once"
    assert report.identical_to_rebuild
    assert report.kill_points == sorted(report.kill_points) and len(report.kill_points) == 3


async def test_postgres_outage_under_load_gives_503_then_recovers_losing_nothing(
    kafka_bootstrap: str,
) -> None:
    report = await postgres_outage(kafka_bootstrap, outage_seconds=2.0)
    assert report.other_answers == {}, "only 202 or 503, never 500"
    assert report.unavailable_answers > 0, "the outage was seen"
    assert report.acknowledged > 0 and report.stored == report.acknowledged
    assert report.projected >= report.stored  # the worker resumed by itself
    assert report.recovered_after_seconds < 30


async def test_broker_outage_under_load_keeps_ingest_and_the_worker_resumes() -> None:
    report = await broker_outage(outage_seconds=3.0)
    assert report.answers.keys() == {202}, "ingest goes on without the broker"
    assert report.ready_during.keys() == {503}, "readiness reports the broker down"
    assert report.slowest_ready_seconds < 10, "/readyz answers within its time limit"
    assert report.acknowledged > 0 and report.stored == report.acknowledged
    assert report.projected >= report.stored  # relay and worker resumed by themselves
    assert report.projected_after_return > 0
    assert report.resumed_after_seconds < 60


async def test_broker_restart_under_load_loses_no_acknowledged_event() -> None:
    # The local broker keeps nothing across a restart: the event store does.
    report = await broker_outage(outage_seconds=3.0, restart=True)
    assert report.answers.keys() == {202}
    assert report.ready_during.keys() == {503}
    assert report.acknowledged > 0 and report.stored == report.acknowledged
    assert report.projected_after_return > 0, "the worker resumed on the new broker"
    assert report.projected == report.stored  # after a rebuild from the event store
