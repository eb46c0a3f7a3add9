"""Tip-off deadlines at their boundaries, and reward eligibility."""

from __future__ import annotations

from datetime import timedelta

from events import parse_event
from projections.casefile import build_case_file
from projections.tipoffs import TipOffConfig, deadline, is_overdue, reward_eligible, summarise
from tests.factories import NOW, event, finding, uscc

FIRM = uscc(501)
CONFIG = TipOffConfig(verify_within_days=10, handle_within_days=30)


def received(at_days: int = 0) -> dict[str, object]:
    return event(
        "TipOffReceived",
        "environment",
        FIRM,
        {"tipoff_id": "JB-1", "channel": "12369", "summary": "夜间偷排"},
        occurred_at=NOW + timedelta(days=at_days),
        recorded_at=NOW + timedelta(days=at_days),
    )


def tipoff(*events: dict[str, object]):  # type: ignore[no-untyped-def]
    [t] = build_case_file([parse_event(e) for e in events]).tipoffs
    return t


def test_verification_deadline_boundary() -> None:
    t = tipoff(received())
    assert deadline(t, CONFIG) == NOW + timedelta(days=10)
    assert not is_overdue(t, NOW + timedelta(days=10) - timedelta(microseconds=1), CONFIG)
    assert is_overdue(t, NOW + timedelta(days=10), CONFIG)


def test_verified_tipoff_gets_the_handling_deadline_and_closed_has_none() -> None:
    verified = event(
        "TipOffVerified",
        "environment",
        FIRM,
        {"tipoff_id": "JB-1", "substantiated": True},
        occurred_at=NOW + timedelta(days=5),
    )
    t = tipoff(received(), verified)
    assert deadline(t, CONFIG) == NOW + timedelta(days=30)
    assert not is_overdue(t, NOW + timedelta(days=29), CONFIG)
    assert is_overdue(t, NOW + timedelta(days=30), CONFIG)
    closed = event(
        "TipOffClosed",
        "environment",
        FIRM,
        {"tipoff_id": "JB-1", "outcome": "已查处"},
        occurred_at=NOW + timedelta(days=40),
    )
    t = tipoff(received(), verified, closed)
    assert deadline(t, CONFIG) is None and not is_overdue(t, NOW + timedelta(days=400), CONFIG)


def test_reward_needs_a_substantiated_tipoff_whose_finding_was_penalised() -> None:
    f = finding(FIRM)
    verified = event(
        "TipOffVerified",
        "environment",
        FIRM,
        {"tipoff_id": "JB-1", "substantiated": True, "finding_ids": [f["event_id"]]},
    )
    penalty = event(
        "PenaltyImposed",
        "environment",
        FIRM,
        {
            "kind": "fine",
            "amount_cny": 200_000,
            "legal_basis": "《大气污染防治法》第九十九条",
            "finding_ids": [f["event_id"]],
        },
    )
    before = build_case_file([parse_event(e) for e in (received(), f, verified)])
    assert not reward_eligible(before.tipoffs[0])
    assert summarise(before, NOW, CONFIG).reward_eligible == 0
    after = build_case_file([parse_event(e) for e in (received(), f, verified, penalty)])
    penalised = {x.finding_id for x in after.findings if x.penalty_ids}
    assert reward_eligible(after.tipoffs[0], penalised)
    assert summarise(after, NOW, CONFIG).reward_eligible == 1


def test_summary_counts_and_next_deadline() -> None:
    cf = build_case_file([parse_event(received())])
    s = summarise(cf, NOW + timedelta(days=1), CONFIG)
    assert (s.open, s.overdue, s.reward_eligible) == (1, 0, 0)
    assert s.next_deadline == NOW + timedelta(days=10)
    late = summarise(cf, NOW + timedelta(days=11), CONFIG)
    assert (late.overdue, late.next_deadline) == (1, None)
