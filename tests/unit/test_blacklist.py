"""The credit-blacklist rules R1–R5, leaving a list, `next_change_at`, `explain`, and the
properties of a pure evaluation."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import Event
from events import envelope as e
from events.dimensions import Dimension, Severity
from events.streams import Stream
from projections.asof import as_of
from projections.blacklist import (
    BlacklistStatus,
    ListingEnd,
    add_years,
    evaluate,
    evaluate_case_file,
    explain,
)
from projections.casefile import build_case_file
from projections.policy import DEFAULT_POLICY, CreditStatus, RuleId
from tests.unit.event_strategies import (
    USCC,
    amend,
    case_closed,
    case_opened,
    day,
    dismantle,
    enterprise_events,
    equipment,
    evaluation_times,
    finding,
    illegal_steel,
    make,
    penalty,
    rectify,
    repair,
    replacement,
    retract,
    shuffled_with_duplicates,
    target,
    without_finding,
)

PROPERTY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TICK = timedelta(microseconds=1)

BLACKLISTED = CreditStatus.BLACKLISTED
RESTRICTED = CreditStatus.CREDIT_RESTRICTED
WATCH = CreditStatus.WATCH
CLEAR = CreditStatus.CLEAR


def dump(s: BlacklistStatus) -> dict[str, Any]:
    return s.model_dump(mode="json")


def answer(s: BlacklistStatus) -> dict[str, Any]:
    """The answer without the time it was asked at."""
    d = dump(s)
    del d["evaluated_at"]
    return d


def rules(s: BlacklistStatus) -> list[RuleId]:
    return [x.rule_id for x in s.listings]


def three_agencies(start: datetime, gap_days: float = 10) -> list[e.FindingRecorded]:
    return [
        finding("environment", "serious", start, dimension="environmental_protection"),
        finding(
            "quality", "critical", start + timedelta(days=gap_days), dimension="product_quality"
        ),
        finding("tax", "serious", start + timedelta(days=2 * gap_days), dimension="tax_compliance"),
    ]


# --- no record ------------------------------------------------------------------------


def test_a_code_without_events_is_clear() -> None:
    s = evaluate([], day(0), uscc=USCC)
    assert s.uscc == USCC and s.status is CLEAR
    assert s.since is None and s.listings == () and s.history == () and s.watch is None
    assert s.next_change_at is None and s.measures == ()
    assert evaluate([], day(0)).uscc is None


def test_naive_evaluation_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate([], day(0).replace(tzinfo=None), uscc=USCC)


# --- R1 地条钢 and the publication period ----------------------------------------------


def test_r1_illegal_steel_blacklists_for_the_publication_period() -> None:
    x = illegal_steel(day(10))
    s = evaluate([x], day(20))
    assert s.status is BLACKLISTED and s.since == day(10)
    (listing,) = s.listings
    assert listing.rule_id is RuleId.R1 and listing.listing_id == f"R1:{x.event_id}"
    assert listing.started_at == day(10)
    assert listing.publication_ends_at == add_years(day(10), 3) == s.publication_ends_at
    assert listing.measures.en == "strict review, prudential reference"
    assert listing.basis.event_ids == (x.event_id,)
    assert listing.basis.agencies == (Stream.MIIT,)
    assert listing.basis.policy_version == "v1"
    assert listing.repair_eligible_from == add_years(day(10), 1)
    assert not listing.repair_eligible
    assert s.measures == (listing.measures,)


def test_publication_period_expiry_boundary() -> None:
    x = illegal_steel(day(10))
    end = add_years(day(10), 3)
    before = evaluate([x], end - TICK)
    assert before.status is BLACKLISTED and before.next_change_at == end
    at_end = evaluate([x], end)
    assert at_end.status is CLEAR and at_end.listings == ()
    (gone,) = at_end.history
    assert (gone.rule_id, gone.ended_by, gone.ended_at) == (RuleId.R1, ListingEnd.EXPIRY, end)
    assert gone.started_at == day(10)
    assert at_end.since == end
    assert at_end.next_change_at is None


def test_publication_period_follows_the_policy() -> None:
    x = illegal_steel(day(0))
    short = DEFAULT_POLICY.model_copy(update={"publication_years": 1})
    assert evaluate([x], add_years(day(0), 1), short).status is CLEAR
    assert evaluate([x], add_years(day(0), 1)).status is BLACKLISTED


def test_year_arithmetic_on_29_february() -> None:
    leap = datetime.fromisoformat("2024-02-29T10:00:00+00:00")
    assert add_years(leap, 1) == datetime.fromisoformat("2025-02-28T10:00:00+00:00")
    assert add_years(leap, 4) == datetime.fromisoformat("2028-02-29T10:00:00+00:00")


# --- credit repair 信用修复 ------------------------------------------------------------


def test_repair_before_the_minimum_period_is_refused() -> None:
    x = illegal_steel(day(0))
    early = repair(add_years(day(0), 1) - timedelta(days=1))
    s = evaluate([x, early], add_years(day(0), 1) + timedelta(days=30))
    assert s.status is BLACKLISTED
    (listing,) = s.listings
    (refused,) = listing.refused_repairs
    assert refused.event_id == early.event_id
    assert "minimum period" in refused.reason_en and "最短公示期" in refused.reason_zh
    assert listing.repair_eligible  # a new application may now succeed


def test_repair_exactly_at_the_minimum_period_ends_the_listing() -> None:
    x = illegal_steel(day(0))
    ok = repair(add_years(day(0), 1))
    s = evaluate([x, ok], add_years(day(0), 1))
    assert s.status is CLEAR and s.listings == ()
    (gone,) = s.history
    assert gone.ended_by is ListingEnd.REPAIR and gone.ended_at == add_years(day(0), 1)
    assert gone.end_event_ids == (ok.event_id,) and gone.refused_repairs == ()
    # Just before the repair took effect the enterprise was listed.
    assert evaluate([x, ok], add_years(day(0), 1) - TICK).status is BLACKLISTED


def test_repair_after_a_refusal_succeeds() -> None:
    x = illegal_steel(day(0))
    early = repair(day(100))
    late = repair(day(400))
    s = evaluate([late, x, early], day(500))
    (gone,) = s.history
    assert gone.ended_by is ListingEnd.REPAIR and gone.ended_at == day(400)
    assert [r.event_id for r in gone.refused_repairs] == [early.event_id]


def test_repair_for_another_rule_leaves_the_listing() -> None:
    x = illegal_steel(day(0))
    s = evaluate([x, repair(day(400), rule_id="R2"), repair(day(401), rule_id="R9")], day(500))
    assert s.status is BLACKLISTED and s.listings[0].refused_repairs == ()


def test_repair_also_ends_a_credit_restriction_after_the_minimum_period() -> None:
    p = penalty("discharge_permit_revoked", day(0))
    s = evaluate([p, repair(day(400), rule_id="R4")], day(500))
    assert s.status is CLEAR and s.history[0].ended_by is ListingEnd.REPAIR


# --- R2 missed reduction target -------------------------------------------------------


def _target_scenario(dismantled_at: datetime | None) -> list[Event]:
    events: list[Event] = [
        equipment("BF1", "iron", 520_000, day(0)),
        target("T1", day(1), day(200), iron=520_000),
    ]
    if dismantled_at is not None:
        events.append(dismantle("BF1", dismantled_at))
    return events


def test_r2_deadline_boundary() -> None:
    events = _target_scenario(None)
    before = evaluate(events, day(200) - TICK)
    assert before.status is CLEAR and before.next_change_at == day(200)
    at = evaluate(events, day(200))
    assert at.status is RESTRICTED and at.since == day(200)
    (listing,) = at.listings
    assert listing.rule_id is RuleId.R2 and listing.started_at == day(200)
    assert listing.publication_ends_at is None  # lasts until rectified
    assert listing.measures.zh == "金融机构不得提供任何形式的新增授信支持"
    assert listing.basis.dimensions == (Dimension.CAPACITY_REPLACEMENT,)
    assert evaluate(events, day(200) + TICK).status is RESTRICTED


def test_r2_dismantling_exactly_at_the_deadline_is_on_time() -> None:
    events = _target_scenario(day(200))
    assert evaluate(events, day(200)).status is CLEAR
    assert evaluate(events, day(500)).history == ()


def test_r2_late_dismantling_ends_the_restriction() -> None:
    late = _target_scenario(day(250))
    assert evaluate(late, day(249)).status is RESTRICTED
    s = evaluate(late, day(250))
    assert s.status is CLEAR
    (gone,) = s.history
    assert (gone.rule_id, gone.started_at, gone.ended_at) == (RuleId.R2, day(200), day(250))
    assert gone.ended_by is ListingEnd.RECTIFICATION
    assert gone.end_event_ids == (late[-1].event_id,)


def test_r2_needs_both_iron_and_steel_tonnage() -> None:
    events: list[Event] = [
        equipment("BF1", "iron", 520_000, day(0)),
        equipment("CV1", "steel", 300_000, day(0)),
        target("T1", day(1), day(200), iron=520_000, steel=600_000),
        dismantle("BF1", day(50)),
        dismantle("CV1", day(60)),
    ]
    assert evaluate(events, day(201)).status is RESTRICTED


def test_r2_unregistered_or_earlier_dismantling_does_not_count() -> None:
    events: list[Event] = [
        equipment("BF1", "iron", 520_000, day(0)),
        dismantle("BF1", day(0)),  # before the target was set
        target("T1", day(1), day(200), iron=520_000),
        dismantle("BF-UNKNOWN", day(50)),  # not in the ledger: no tonnage
    ]
    assert evaluate(events, day(201)).status is RESTRICTED


# --- R3 joint serious violations ------------------------------------------------------


def test_r3_two_agencies_watch_three_agencies_blacklist() -> None:
    f1, f2, f3 = three_agencies(day(0))
    two = evaluate([f1, f2], day(100))
    assert two.status is WATCH
    assert two.watch is not None and two.watch.open_serious_findings == 2
    three = evaluate([f1, f2, f3], day(100))
    assert three.status is BLACKLISTED and three.since == day(20)
    (listing,) = three.listings
    assert listing.rule_id is RuleId.R3 and listing.started_at == day(20)
    assert listing.basis.agencies == (Stream.QUALITY, Stream.ENVIRONMENT, Stream.TAX)
    assert listing.basis.dimensions == (
        Dimension.PRODUCT_QUALITY,
        Dimension.ENVIRONMENTAL_PROTECTION,
        Dimension.TAX_COMPLIANCE,
    )
    assert set(listing.basis.event_ids) == {f1.event_id, f2.event_id, f3.event_id}


def test_r3_three_findings_of_one_agency_are_not_joint() -> None:
    events = [finding("tax", "critical", day(i)) for i in range(5)]
    assert evaluate(events, day(10)).status is WATCH


def test_r3_window_365_days_counts_366_does_not() -> None:
    inside = three_agencies(day(0), gap_days=182.5)  # first and last exactly 365 days apart
    assert evaluate(inside, day(400)).status is BLACKLISTED
    first = finding("environment", "serious", day(0))
    late = [finding("quality", "serious", day(366)), finding("tax", "serious", day(366))]
    s = evaluate([first, *late], day(400))
    assert s.status is WATCH and s.listings == ()
    exactly = [finding("quality", "serious", day(365)), finding("tax", "serious", day(365))]
    assert evaluate([first, *exactly], day(400)).status is BLACKLISTED


def test_r3_retracted_findings_do_not_count() -> None:
    f1, f2, f3 = three_agencies(day(0))
    s = evaluate([f1, f2, f3, retract(f2, day(30))], day(100))
    assert s.status is WATCH and s.history == ()


def test_r3_findings_rectified_before_the_third_do_not_count() -> None:
    f1, f2, f3 = three_agencies(day(0))
    fix = rectify(day(20), finding_ids=[f1.event_id])  # at the very moment f3 occurs
    assert evaluate([f1, f2, f3, fix], day(100)).status is WATCH
    fix_earlier = rectify(day(5), finding_ids=[f1.event_id])
    assert evaluate([f1, f2, f3, fix_earlier], day(100)).status is WATCH


def test_r3_rectification_after_listing_does_not_end_it() -> None:
    f1, f2, f3 = three_agencies(day(0))
    fix = rectify(day(21), finding_ids=[f1.event_id, f2.event_id, f3.event_id])
    s = evaluate([f1, f2, f3, fix], day(100))
    assert s.status is BLACKLISTED and s.watch is None


def test_r3_uses_severity_after_amendments() -> None:
    f1, f2, f3 = three_agencies(day(0))
    down = amend(f2, day(25), severity="minor")
    assert evaluate([f1, f2, f3, down], day(100)).status is WATCH
    minor = finding("quality", "minor", day(10))
    up = amend(minor, day(30), severity="critical")
    assert evaluate([f1, minor, f3], day(100)).status is WATCH
    s = evaluate([f1, minor, f3, up], day(100))
    assert s.status is BLACKLISTED
    assert up.event_id in s.listings[0].basis.event_ids  # the amendment is part of the basis


def test_r3_findings_are_used_once() -> None:
    first = three_agencies(day(0))
    d = finding("land", "serious", day(30))
    s = evaluate([*first, d], day(40))
    (listing,) = s.listings  # d joins no listing: the first three are used up
    assert set(listing.basis.event_ids) == {f.event_id for f in first}
    # Two more agencies within 365 days of d make a second, separate listing.
    e1 = finding("quality", "serious", day(200))
    e2 = finding("tax", "serious", day(300))
    s2 = evaluate([*first, d, e1, e2], day(310))
    assert [x.started_at for x in s2.listings] == [day(20), day(300)]
    assert set(s2.listings[1].basis.event_ids) == {d.event_id, e1.event_id, e2.event_id}
    # The first expires on its own date; the second keeps the enterprise listed.
    s3 = evaluate([*first, d, e1, e2], add_years(day(20), 3))
    assert [h.ended_by for h in s3.history] == [ListingEnd.EXPIRY]
    assert s3.status is BLACKLISTED and s3.since == day(20)


def test_r3_same_instant_findings_enter_one_listing() -> None:
    events: list[Event] = [
        finding(agency, "serious", day(5)) for agency in ("environment", "quality", "tax", "land")
    ]
    s = evaluate(events, day(6))
    (listing,) = s.listings
    assert len(listing.basis.agencies) == 4


# --- R4 and R5 ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["discharge_permit_revoked", "production_licence_withdrawn"])
def test_r4_revoking_penalties_restrict_credit(kind: str) -> None:
    f = finding("environment", "minor", day(0))
    p = penalty(kind, day(5), finding_ids=[f.event_id])
    s = evaluate([f, p], day(6))
    assert s.status is RESTRICTED and rules(s) == [RuleId.R4]
    assert s.listings[0].basis.event_ids == (p.event_id, f.event_id)
    assert Dimension.ENVIRONMENTAL_PROTECTION in s.listings[0].basis.dimensions


def test_r4_ends_on_verified_rectification_of_the_penalty() -> None:
    p = penalty("discharge_permit_revoked", day(5))
    fix = rectify(day(50), penalty_ids=[p.event_id])
    s = evaluate([p, fix], day(60))
    assert s.status is CLEAR
    (gone,) = s.history
    assert (gone.rule_id, gone.ended_by, gone.ended_at) == (
        RuleId.R4,
        ListingEnd.RECTIFICATION,
        day(50),
    )
    assert gone.end_event_ids == (fix.event_id,)


def test_r4_other_penalties_do_not_restrict() -> None:
    assert evaluate([penalty("fine", day(5)), penalty("power_cut", day(6))], day(7)).status is CLEAR


def test_r5_replacement_above_retired_capacity() -> None:
    over = replacement("P1", "steel", 1_000_000, 800_000, day(10))
    equal = replacement("P2", "steel", 800_000, 800_000, day(10))
    assert evaluate([equal], day(20)).status is CLEAR
    s = evaluate([over, equal], day(20))
    assert s.status is RESTRICTED and rules(s) == [RuleId.R5]
    assert s.listings[0].listing_id == "R5:P1"


def test_r5_made_up_by_later_dismantling() -> None:
    events: list[Event] = [
        replacement("P1", "steel", 1_000_000, 800_000, day(10)),
        equipment("CV9", "steel", 200_000, day(0)),
        dismantle("CV9", day(90)),
    ]
    assert evaluate(events, day(89)).status is RESTRICTED
    s = evaluate(events, day(90))
    assert s.status is CLEAR
    assert s.history[0].ended_by is ListingEnd.RECTIFICATION
    assert s.history[0].ended_at == day(90)


# --- status, watch, precedence --------------------------------------------------------


def test_watch_for_an_open_serious_finding_until_rectified() -> None:
    f = finding("safety", "serious", day(0), dimension="work_safety")
    assert evaluate([f], day(1)).status is WATCH
    s = evaluate([f, rectify(day(30), finding_ids=[f.event_id], stream="safety")], day(31))
    assert s.status is CLEAR and s.since == day(30) and s.watch is None
    assert evaluate([finding("safety", "minor", day(0))], day(1)).status is CLEAR


def test_watch_for_an_open_case() -> None:
    o = case_opened("C-1", day(0))
    s = evaluate([o], day(1))
    assert s.status is WATCH and s.since == day(0)
    assert s.watch is not None and s.watch.open_cases == 1 and s.watch.event_ids == (o.event_id,)
    assert evaluate([o, case_closed("C-1", day(9))], day(10)).status is CLEAR


def test_the_highest_status_wins_and_all_measures_apply() -> None:
    s = evaluate([illegal_steel(day(0)), penalty("discharge_permit_revoked", day(1))], day(2))
    assert s.status is BLACKLISTED
    assert rules(s) == [RuleId.R1, RuleId.R4]
    assert [m.en for m in s.measures] == [
        "strict review, prudential reference",
        "no new credit of any form",
    ]


def test_since_spans_back_to_back_listings() -> None:
    first = illegal_steel(day(0))
    second = illegal_steel(day(500))
    s = evaluate([first, second], add_years(day(0), 3) + timedelta(days=1))
    assert s.status is BLACKLISTED and s.since == day(0)
    assert [h.ended_by for h in s.history] == [ListingEnd.EXPIRY]


def test_downgrade_sets_since_to_the_downgrade() -> None:
    p = penalty("discharge_permit_revoked", day(0))
    x = illegal_steel(day(10))
    s = evaluate([p, x, repair(day(500), rule_id="R1")], day(600))
    assert s.status is RESTRICTED and s.since == day(500)


# --- time -----------------------------------------------------------------------------


def test_events_after_the_evaluation_time_have_not_happened_yet() -> None:
    x = illegal_steel(day(50))
    s = evaluate([x], day(10))
    assert s.status is CLEAR and s.next_change_at == day(50)
    assert evaluate([x], day(50)).status is BLACKLISTED


def test_next_change_at_takes_the_earliest_candidate() -> None:
    events = [illegal_steel(day(0)), *_target_scenario(None)]
    # Candidates: the deadline (day 200), when each listing may be repaired (one year after it
    # began) and when the R1 listing expires (three years).
    assert evaluate(events, day(100)).next_change_at == day(200)
    assert evaluate(events, day(300)).next_change_at == add_years(day(0), 1)
    assert evaluate(events, day(400)).next_change_at == add_years(day(200), 1)
    assert evaluate(events, day(600)).next_change_at == add_years(day(0), 3)
    assert evaluate(events, add_years(day(0), 3)).next_change_at is None


def test_as_of_view_of_the_blacklist() -> None:
    late_news = illegal_steel(day(10)).model_copy(update={"recorded_at": day(40)})
    events = [late_news]
    assert evaluate(as_of(events, day(30)), day(30), uscc=USCC).status is CLEAR
    s = evaluate(as_of(events, day(40)), day(30))
    assert s.status is BLACKLISTED and s.since == day(10)  # known later, effective from day 10


def test_evaluate_case_file_matches_evaluate() -> None:
    events: list[Event] = [*three_agencies(day(0)), penalty("discharge_permit_revoked", day(5))]
    cf = build_case_file(events)
    assert dump(evaluate_case_file(cf, day(100))) == dump(evaluate(events, day(100)))
    with pytest.raises(ValueError, match="evaluate the events"):
        evaluate_case_file(cf, day(1))


# --- what a bank may see --------------------------------------------------------------


def test_no_investigation_detail_reaches_a_bank() -> None:
    secret = "SECRET"  # in every free-text field below
    f1, f2, f3 = (
        finding(a, "critical", day(i), description=secret, evidence=[secret], event_id=None)
        for i, a in enumerate(("tax", "quality", "land"))
    )
    retracted = finding("ndrc", "critical", day(3), description=secret)
    p = make(
        e.PenaltyImposed,
        "environment",
        {"kind": "discharge_permit_revoked", "legal_basis": secret, "description": secret},
        day(4),
    )
    events: list[Event] = [
        f1,
        f2,
        f3,
        retracted,
        amend(f1, day(5), description=secret, evidence=[secret]),
        make(
            e.FindingRetracted, "ndrc", {"finding_id": retracted.event_id, "reason": secret}, day(5)
        ),
        p,
        make(
            e.RectificationVerified,
            "environment",
            {"penalty_ids": [p.event_id], "description": secret},
            day(40),
        ),
        make(
            e.IllegalSteelConfirmed,
            "miit",
            {
                "furnace_type": "power_frequency_induction",
                "furnace_count": 1,
                "capacity_tonnes": 1,
                "description": secret,
            },
            day(6),
        ),
        make(e.CreditRepairApproved, "credit", {"reason": secret}, day(7)),
        make(e.CaseOpened, "taskforce", {"case_id": "C-1", "title": "t", "reason": secret}, day(8)),
        make(
            e.TipOffReceived,
            "steel_association",
            {"tipoff_id": "T", "channel": "c", "summary": secret},
            day(9),
        ),
    ]
    for at in (day(30), day(50)):
        text = json.dumps(dump(evaluate(events, at)), ensure_ascii=False)
        text += json.dumps([x.model_dump(mode="json") for x in explain(events, at)])
        assert secret not in text
    # The listings themselves are there: the bank gets the basis, not the details.
    assert evaluate(events, day(30)).status is BLACKLISTED


# --- explain --------------------------------------------------------------------------


def test_explain_covers_every_rule() -> None:
    f1, f2, _ = three_agencies(day(0))
    p = penalty("fine", day(3))
    out = explain([f1, f2, p], day(100))
    assert [x.rule_id for x in out] == list(RuleId)
    by_rule = {x.rule_id: x for x in out}
    assert not any(x.fired for x in out)
    r3 = by_rule[RuleId.R3]
    assert "at most 2 agencies" in r3.reason_en and "3 needed" in r3.reason_en
    assert set(r3.event_ids) == {f1.event_id, f2.event_id}
    r4 = by_rule[RuleId.R4]
    assert r4.event_ids == (p.event_id,) and "1 other penalty" in r4.reason_en
    assert all(x.policy_version == "v1" and x.reason_zh for x in out)


def test_explain_fired_active_and_ended() -> None:
    events = [*_target_scenario(day(250)), illegal_steel(day(0))]
    by_rule = {x.rule_id: x for x in explain(events, day(300))}
    r1, r2 = by_rule[RuleId.R1], by_rule[RuleId.R2]
    assert r1.fired and r1.active and "published until" in r1.reason_en
    assert r2.fired and not r2.active
    assert "completed late" in r2.reason_en and "ended" in r2.reason_en
    assert "by rectification" in r2.reason_en
    refused = explain([illegal_steel(day(0)), repair(day(10))], day(20))[0]
    assert "refused" in refused.reason_en and "未予采纳" in refused.reason_zh


# --- properties -----------------------------------------------------------------------


@PROPERTY
@given(st.data())
def test_any_order_and_duplication_give_the_same_status(data: st.DataObject) -> None:
    events = data.draw(enterprise_events())
    at = data.draw(evaluation_times())
    reordered = data.draw(shuffled_with_duplicates(events))
    s = evaluate(events, at, uscc=USCC)
    assert dump(evaluate(reordered, at, uscc=USCC)) == dump(s)
    assert dump(evaluate(events, at, uscc=USCC)) == dump(s)  # and the same when asked again
    assert [x.model_dump() for x in explain(reordered, at, uscc=USCC)] == [
        x.model_dump() for x in explain(events, at, uscc=USCC)
    ]


@PROPERTY
@given(st.data())
def test_a_retracted_finding_changes_nothing(data: st.DataObject) -> None:
    events = data.draw(enterprise_events())
    agency = data.draw(st.sampled_from(["tax", "quality", "environment", "land"]))
    f = finding(
        agency, data.draw(st.sampled_from(list(Severity))), day(data.draw(st.integers(0, 1500)))
    )
    extra: list[Event] = [
        f,
        retract(f, f.occurred_at + timedelta(days=data.draw(st.integers(0, 30)))),
    ]
    if data.draw(st.booleans()):
        extra.append(amend(f, f.occurred_at, severity="critical"))
    at = day(3100)  # after every event: the retraction has happened
    with_it = evaluate([*events, *extra], at, uscc=USCC)
    never = evaluate(without_finding([*events, *extra], f.event_id), at, uscc=USCC)
    assert dump(with_it) == dump(never)


@PROPERTY
@given(st.data())
def test_nothing_changes_before_next_change_at(data: st.DataObject) -> None:
    events = data.draw(enterprise_events())
    at = data.draw(evaluation_times())
    s = evaluate(events, at, uscc=USCC)
    if s.next_change_at is None:
        later = at + timedelta(days=3650)
    else:
        assert s.next_change_at > at
        span = s.next_change_at - at
        # (timedelta * float rounds to whole microseconds: stay strictly before the change)
        later = min(at + span * data.draw(st.floats(0, 1)), s.next_change_at - TICK)
        assert answer(evaluate(events, s.next_change_at - TICK, uscc=USCC)) == answer(s)
    assert answer(evaluate(events, later, uscc=USCC)) == answer(s)


@PROPERTY
@given(st.data())
def test_status_is_consistent_with_listings(data: st.DataObject) -> None:
    events = data.draw(enterprise_events())
    at = data.draw(evaluation_times())
    s = evaluate(events, at, uscc=USCC)
    if s.listings:
        assert s.status is max((x.status for x in s.listings), key=lambda c: c.rank)
        assert s.since is not None and s.since <= at
    else:
        assert s.status is (WATCH if s.watch else CLEAR)
    for x in s.listings:
        assert x.started_at <= at
        assert x.publication_ends_at is None or x.publication_ends_at > at
        assert x.repair_eligible == (x.repair_eligible_from <= at)
    for h in s.history:
        assert h.started_at < h.ended_at <= at
        if h.ended_by is ListingEnd.REPAIR:
            assert h.ended_at >= add_years(h.started_at, 1)
    assert {str(i) for x in s.listings for i in x.basis.event_ids} <= {
        str(ev.event_id) for ev in events
    }


@PROPERTY
@given(st.data())
def test_as_of_is_the_same_function_on_fewer_events(data: st.DataObject) -> None:
    events = data.draw(enterprise_events())
    at = data.draw(evaluation_times())
    known_by = data.draw(evaluation_times())
    filtered = [ev for ev in events if ev.recorded_at <= known_by]
    assert dump(evaluate(as_of(events, known_by), at, uscc=USCC)) == dump(
        evaluate(filtered, at, uscc=USCC)
    )


def test_listing_ids_are_stable() -> None:
    x = illegal_steel(day(0), event_id=UUID(int=1))
    assert evaluate([x], day(1)).listings[0].listing_id == f"R1:{UUID(int=1)}"
