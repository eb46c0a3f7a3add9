"""The joint case file: facts, findings and their corrections, enforcement, capacity, cases,
and the properties every read model must have (order, duplication, retraction)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import Event
from events import envelope as e
from events.dimensions import Dimension, Severity
from events.payloads import EquipmentKind, Industry, PenaltyKind, Product
from events.uscc import complete
from projections.asof import as_of, canonical
from projections.casefile import (
    CaseFile,
    CaseState,
    DimensionState,
    EquipmentState,
    FindingStatus,
    TipOffState,
    build_case_file,
)
from tests.unit.event_strategies import (
    CST,
    OTHER_USCC,
    USCC,
    amend,
    anomaly,
    case_assigned,
    case_closed,
    case_escalated,
    case_opened,
    day,
    dismantle,
    enterprise_events,
    equipment,
    finding,
    make,
    overdue,
    penalty,
    power_reading,
    rectify,
    registered,
    replacement,
    retract,
    shuffled_with_duplicates,
    target,
    tipoff_closed,
    tipoff_received,
    tipoff_verified,
    updated,
    without_finding,
)

PROPERTY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def dump(cf: CaseFile) -> dict[str, Any]:
    return cf.model_dump(mode="json")


def dimension(cf: CaseFile, dim: Dimension) -> Any:
    return next(d for d in cf.dimensions if d.dimension is dim)


# --- enterprise -----------------------------------------------------------------------


def test_region_comes_from_positions_3_to_8() -> None:
    cf = build_case_file([], uscc=complete("91360802MA0000003"))
    assert cf.region.code == "360802"
    assert cf.region.province_code == "360000"
    assert cf.region.city_code == "360800"
    assert cf.region.county_code == "360802"


def test_registration_facts_are_applied_in_order_with_their_sources() -> None:
    reg = registered(day(0), registered_on="2001-05-01")
    upd = updated(day(100), name="河北丰达钢铁集团", industry="special_steel")
    orders: list[list[Event]] = [[reg, upd], [upd, reg]]
    for events in orders:
        facts = build_case_file(events).enterprise
        assert facts.name is not None and facts.name.value == "河北丰达钢铁集团"
        assert facts.name.source_event_ids == (upd.event_id,)
        assert facts.legal_representative is not None
        assert facts.legal_representative.value == "张三"
        assert facts.legal_representative.source_event_ids == (reg.event_id,)
        assert facts.industry is not None and facts.industry.value is Industry.SPECIAL_STEEL
        assert facts.registered_on is not None and str(facts.registered_on.value) == "2001-05-01"
        assert facts.source_event_ids == (reg.event_id, upd.event_id)


def test_an_enterprise_without_events_has_a_clear_file() -> None:
    cf = build_case_file([], uscc=USCC)
    assert cf.uscc == USCC
    assert cf.enterprise.name is None
    assert cf.event_count == 0 and cf.timeline == () and cf.last_occurred_at is None
    assert [d.status for d in cf.dimensions] == [DimensionState.CLEAR] * 11


def test_no_events_and_no_code_is_an_error() -> None:
    with pytest.raises(ValueError, match="no events"):
        build_case_file([])


def test_events_of_two_enterprises_are_refused() -> None:
    a = finding("tax", "minor", day(0))
    b = finding("tax", "minor", day(0), uscc=OTHER_USCC)
    with pytest.raises(ValueError, match="several enterprises"):
        build_case_file([a, b])


# --- findings -------------------------------------------------------------------------


def test_every_dimension_has_a_status() -> None:
    open_minor = finding("tax", "minor", day(0), dimension="tax_compliance")
    open_serious = finding("tax", "serious", day(1), dimension="tax_compliance")
    fixed = finding("land", "critical", day(2), dimension="land_approval")
    fix = rectify(day(30), finding_ids=[fixed.event_id], stream="land")
    cf = build_case_file([open_minor, open_serious, fixed, fix])

    assert [d.dimension for d in cf.dimensions] == list(Dimension)
    tax = dimension(cf, Dimension.TAX_COMPLIANCE)
    assert tax.status is DimensionState.OPEN
    assert tax.highest_open_severity is Severity.SERIOUS
    assert tax.open_finding_ids == (open_minor.event_id, open_serious.event_id)
    land = dimension(cf, Dimension.LAND_APPROVAL)
    assert land.status is DimensionState.RECTIFIED
    assert land.highest_open_severity is None
    assert land.rectified_finding_ids == (fixed.event_id,)
    assert set(land.source_event_ids) == {fixed.event_id, fix.event_id}
    assert dimension(cf, Dimension.WORK_SAFETY).status is DimensionState.CLEAR


def test_amendments_change_the_current_values_and_are_traced() -> None:
    f = finding("environment", "minor", day(0), dimension="environmental_protection")
    a1 = amend(f, day(5), severity="critical")
    a2 = amend(f, day(6), dimension="work_safety", description="corrected text")
    orders: list[list[Event]] = [[f, a1, a2], [a2, a1, f]]
    for events in orders:
        cf = build_case_file(events)
        (got,) = cf.findings
        assert got.severity is Severity.CRITICAL
        assert got.dimension is Dimension.WORK_SAFETY
        assert got.description == "corrected text"
        assert [a.event_id for a in got.amendments] == [a1.event_id, a2.event_id]
        assert got.amendments[1].changed_fields == ("dimension", "description")
        assert got.source_event_ids == (f.event_id, a1.event_id, a2.event_id)
        assert dimension(cf, Dimension.ENVIRONMENTAL_PROTECTION).status is DimensionState.CLEAR
        assert dimension(cf, Dimension.WORK_SAFETY).highest_open_severity is Severity.CRITICAL


def test_the_later_of_two_amendments_of_a_field_wins() -> None:
    f = finding("tax", "minor", day(0))
    late = amend(f, day(9), severity="info")
    early = amend(f, day(3), severity="critical")
    assert build_case_file([late, f, early]).findings[0].severity is Severity.INFO


def test_corrections_of_unknown_findings_are_kept_as_orphans() -> None:
    ghost = UUID(int=42)
    a = amend(ghost, day(1), severity="critical")
    r = retract(ghost, day(2))
    cf = build_case_file([a, r])
    assert cf.findings == () and cf.retracted_findings == ()
    assert [(o.finding_id, o.correction.event_id) for o in cf.orphan_corrections] == [
        (ghost, a.event_id),
        (ghost, r.event_id),
    ]
    assert cf.orphan_corrections[1].correction.event_type == "FindingRetracted"


def test_a_retracted_finding_is_listed_apart_and_counted_nowhere() -> None:
    f = finding("quality", "critical", day(0), dimension="product_quality")
    a = amend(f, day(1), severity="serious")
    r = retract(f, day(2))
    p = penalty("fine", day(3), stream="quality", finding_ids=[f.event_id])
    cf = build_case_file([f, a, r, p])
    assert cf.findings == ()
    assert cf.finding_counts.total == 0 and cf.finding_counts.open == 0
    assert dimension(cf, Dimension.PRODUCT_QUALITY).status is DimensionState.CLEAR
    (gone,) = cf.retracted_findings
    assert gone.finding.finding_id == f.event_id
    assert gone.finding.severity is Severity.SERIOUS  # as last amended
    assert gone.retracted_at == day(2)
    assert [x.event_id for x in gone.retractions] == [r.event_id]
    assert set(gone.source_event_ids) == {f.event_id, a.event_id, r.event_id}
    # A penalty naming it now names a finding that does not stand.
    assert cf.penalties[0].finding_ids == ()
    assert cf.penalties[0].unmatched_finding_ids == (f.event_id,)
    assert next(x for x in cf.agencies if x.stream == "quality").finding_count == 0


def test_counts_by_severity() -> None:
    f1 = finding("tax", "serious", day(0))
    f2 = finding("tax", "serious", day(1))
    f3 = finding("ndrc", "info", day(2))
    fix = rectify(day(3), finding_ids=[f2.event_id])
    counts = build_case_file([f1, f2, f3, fix]).finding_counts
    assert (counts.total, counts.open, counts.rectified) == (3, 2, 1)
    serious = next(c for c in counts.by_severity if c.severity is Severity.SERIOUS)
    assert (serious.open, serious.rectified) == (1, 1)
    assert serious.source_event_ids == (f1.event_id, f2.event_id)


# --- enforcement ----------------------------------------------------------------------


def test_penalties_and_rectifications_link_both_ways() -> None:
    f = finding("environment", "serious", day(0))
    p = penalty("discharge_permit_revoked", day(10), finding_ids=[f.event_id, UUID(int=7)])
    fix_f = rectify(day(40), finding_ids=[f.event_id])
    fix_p = rectify(day(50), penalty_ids=[p.event_id, UUID(int=8)])
    cf = build_case_file([fix_p, fix_f, p, f])

    (got,) = cf.findings
    assert got.status is FindingStatus.RECTIFIED
    assert got.rectified_at == day(40)
    assert got.penalty_ids == (p.event_id,)
    (pen,) = cf.penalties
    assert pen.kind is PenaltyKind.DISCHARGE_PERMIT_REVOKED
    assert pen.finding_ids == (f.event_id,)
    assert pen.unmatched_finding_ids == (UUID(int=7),)
    assert pen.rectified_at == day(50)
    assert pen.rectification_ids == (fix_p.event_id,)
    assert [r.rectification_id for r in cf.rectifications] == [fix_f.event_id, fix_p.event_id]
    assert cf.rectifications[1].unmatched_ids == (UUID(int=8),)


# --- tip-offs, power, cases -----------------------------------------------------------


def test_tipoff_stages() -> None:
    rec = tipoff_received("TO-1", day(0))
    ver = tipoff_verified("TO-1", day(3), finding_ids=[UUID(int=5)])
    clo = tipoff_closed("TO-1", day(9))
    only_verified = tipoff_verified("TO-2", day(4), substantiated=False)
    cf = build_case_file([clo, only_verified, ver, rec])
    one, two = cf.tipoffs
    assert one.tipoff_id == "TO-1" and one.state is TipOffState.CLOSED
    assert (one.received_at, one.verified_at, one.closed_at) == (day(0), day(3), day(9))
    assert one.substantiated is True and one.finding_ids == (UUID(int=5),)
    assert one.source_event_ids == (rec.event_id, ver.event_id, clo.event_id)
    assert two.state is TipOffState.VERIFIED
    assert two.received_at is None and two.substantiated is False
    received_only = build_case_file([rec]).tipoffs[0]
    assert received_only.state is TipOffState.RECEIVED and received_only.channel == "举报平台"


def test_power_readings_stay_out_anomalies_come_in() -> None:
    reading = power_reading(day(1))
    alert = anomaly(day(2))
    cf = build_case_file([reading, alert])
    assert cf.event_count == 1
    assert [t.event_id for t in cf.timeline] == [alert.event_id]
    (a,) = cf.power_anomalies
    assert (
        a.event_id == alert.event_id
        and a.observed == 0.8
        and a.source_event_ids == (alert.event_id,)
    )


def test_case_lifecycle() -> None:
    o = case_opened("C-1", day(0))
    a = case_assigned("C-1", day(1))
    x = case_escalated("C-1", day(2))
    c = case_closed("C-1", day(30))
    o2 = case_opened("C-2", day(5))
    cf = build_case_file([c, x, o2, a, o])
    first, second = cf.cases
    assert first.case_id == "C-1" and first.state is CaseState.CLOSED
    assert [act.action.value for act in first.actions] == [
        "opened",
        "assigned",
        "escalated",
        "closed",
    ]
    assert (first.opened_at, first.closed_at) == (day(0), day(30))
    assert first.assignee == "officer-2" and first.escalation_level == "国务院"
    assert first.actions[1].agencies == ("miit", "environment")
    assert second.state is CaseState.OPEN and second.closed_at is None

    reopened = build_case_file([o, c, case_opened("C-1", day(40))]).cases[0]
    assert reopened.state is CaseState.OPEN and reopened.closed_at is None


# --- capacity ledger ------------------------------------------------------------------


def test_capacity_totals_by_product_and_kind() -> None:
    events: list[Event] = [
        equipment("BF1", "iron", 520_000, day(0)),
        equipment("BF2", "iron", 300_000, day(0)),
        equipment("CV1", "steel", 600_000, day(0)),
        dismantle("BF1", day(50)),
        dismantle("BF1", day(60)),  # a repeat: removes nothing more
        dismantle("GHOST", day(70)),
    ]
    ledger = build_case_file(events).capacity
    iron, steel = ledger.by_product
    assert (iron.product, iron.active_tonnes, iron.dismantled_tonnes) == (
        Product.IRON,
        300_000,
        520_000,
    )
    assert (steel.active_tonnes, steel.dismantled_tonnes) == (600_000, 0)
    blast = next(k for k in ledger.by_kind if k.kind is EquipmentKind.BLAST_FURNACE)
    assert (blast.active_count, blast.dismantled_count) == (1, 1)
    bf1 = next(q for q in ledger.equipment if q.equipment_id == "BF1")
    assert bf1.state is EquipmentState.DISMANTLED and bf1.dismantled_at == day(50)
    assert len(bf1.source_event_ids) == 3
    assert [u.equipment_id for u in ledger.unregistered_dismantlings] == ["GHOST"]


def test_target_progress_counts_dismantling_since_the_target() -> None:
    events: list[Event] = [
        equipment("BF0", "iron", 100_000, day(0)),
        equipment("BF1", "iron", 520_000, day(0)),
        equipment("CV1", "steel", 600_000, day(0)),
        dismantle("BF0", day(5)),  # before the target: does not count
        target("T1", day(10), day(300), iron=520_000, steel=600_000),
        dismantle("BF1", day(100)),
        dismantle("CV1", day(250)),
    ]
    (t,) = build_case_file(events).capacity.targets
    assert (t.iron_dismantled_tonnes, t.steel_dismantled_tonnes) == (520_000, 600_000)
    assert t.met and t.met_at == day(250) and t.met_by_deadline
    assert [a.equipment_id for a in t.allocations] == ["BF1", "CV1"]

    (late,) = build_case_file([*events[:-1], dismantle("CV1", day(301))]).capacity.targets
    assert late.met and late.met_at == day(301) and not late.met_by_deadline
    (unmet,) = build_case_file(events[:-1]).capacity.targets
    assert not unmet.met and unmet.met_at is None and unmet.steel_dismantled_tonnes == 0


def test_each_dismantled_tonne_counts_once_earliest_deadline_first() -> None:
    events: list[Event] = [
        equipment("BF1", "iron", 500_000, day(0)),
        target("LATE", day(1), day(400), iron=300_000),
        target("EARLY", day(2), day(200), iron=300_000),
        dismantle("BF1", day(100)),
    ]
    early, late = build_case_file(events).capacity.targets
    assert early.target_id == "EARLY" and early.iron_dismantled_tonnes == 300_000 and early.met
    assert late.target_id == "LATE" and late.iron_dismantled_tonnes == 200_000 and not late.met


def test_setting_a_target_again_corrects_it() -> None:
    first = target("T1", day(0), day(100), iron=100_000)
    again = target("T1", day(50), day(200), iron=200_000)
    (t,) = build_case_file([again, first]).capacity.targets
    assert t.iron_tonnes == 200_000 and t.deadline == day(200) and t.set_at == day(0)
    assert t.set_event_ids == (first.event_id, again.event_id)


def test_replacement_flags_and_make_up() -> None:
    events: list[Event] = [
        equipment("BF1", "iron", 500_000, day(0)),
        equipment("BF2", "iron", 200_000, day(0)),
        replacement("P1", "iron", 1_000_000, 800_000, day(10), retired_equipment_ids=["BF1"]),
        replacement("P2", "steel", 500_000, 500_000, day(10)),
        dismantle("BF1", day(20)),  # P1's own retirement: makes up nothing
        dismantle("BF2", day(30)),
    ]
    p1, p2 = build_case_file(events).capacity.replacements
    assert p1.exceeds_retired and p1.excess_tonnes == 200_000
    assert p1.made_up_tonnes == 200_000 and p1.made_up_at == day(30)
    assert [a.equipment_id for a in p1.allocations] == ["BF2"]
    assert not p2.exceeds_retired and p2.excess_tonnes == 0 and p2.made_up_at is None


def test_unknown_overdue_notices_are_kept() -> None:
    n = overdue("T9", day(5))
    t = target("T1", day(0), day(3), iron=1)
    n1 = overdue("T1", day(3))
    ledger = build_case_file([n, t, n1]).capacity
    assert ledger.unmatched_overdue_notice_ids == (n.event_id,)
    assert ledger.targets[0].overdue_notice_ids == (n1.event_id,)


# --- timeline and agencies ------------------------------------------------------------


def test_timeline_order_times_in_utc_and_no_free_text() -> None:
    a = finding("tax", "serious", day(1), description="SECRET-DESCRIPTION")
    b = finding("ndrc", "minor", day(1), recorded=day(1, 0.5))
    c = finding("quality", "info", day(0, 23).astimezone(CST))
    cf = build_case_file([a, b, c])
    assert [t.event_id for t in cf.timeline] == [c.event_id, b.event_id, a.event_id]
    assert cf.timeline[0].occurred_at.utcoffset() == timedelta(0)
    assert cf.timeline[0].occurred_at == day(0, 23)
    top = cf.timeline[2]
    assert top.event_type == "FindingRecorded" and top.event_type_zh == "检查发现"
    assert (top.agency_zh, top.agency_en) == ("税务总局", "Taxation")
    assert "serious" in top.summary_en and "严重" in top.summary_zh
    assert all("SECRET" not in t.summary_en + t.summary_zh for t in cf.timeline)


def test_agencies_involved() -> None:
    events: list[Event] = [
        finding("tax", "serious", day(3)),
        finding("tax", "minor", day(1)),
        case_opened("C-1", day(2)),
    ]
    cf = build_case_file(events)
    assert [(a.stream.value, a.event_count, a.finding_count) for a in cf.agencies] == [
        ("tax", 2, 2),
        ("taskforce", 1, 0),
    ]
    assert cf.agencies[0].first_occurred_at == day(1)
    assert cf.agencies[0].last_occurred_at == day(3)


# --- event sets -----------------------------------------------------------------------


def test_two_copies_under_one_id_resolve_the_same_whatever_the_order() -> None:
    a = finding("tax", "serious", day(1))
    b = a.model_copy(update={"occurred_at": day(0)})  # a conflicting copy, same event_id
    assert dump(build_case_file([a, b])) == dump(build_case_file([b, a]))
    assert canonical([a, b]) == [b]


def test_as_of_keeps_what_was_recorded_by_then() -> None:
    early = finding("tax", "serious", day(0), recorded=day(1))
    late = finding("ndrc", "serious", day(0), recorded=day(10))
    assert as_of([late, early, early], day(5)) == [early]
    assert as_of([late, early], day(10)) == [early, late]
    with pytest.raises(ValueError, match="timezone"):
        as_of([early], day(5).replace(tzinfo=None))


@PROPERTY
@given(st.data())
def test_any_order_and_any_duplication_give_the_same_case_file(data: st.DataObject) -> None:
    events = data.draw(enterprise_events())
    reordered = data.draw(shuffled_with_duplicates(events))
    cf = build_case_file(events, uscc=USCC)
    assert dump(build_case_file(reordered, uscc=USCC)) == dump(cf)
    assert cf.event_count == len(events)


def _all_source_ids(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "source_event_ids":
                found.update(v)
            else:
                found |= _all_source_ids(v)
    elif isinstance(value, list):
        for v in value:
            found |= _all_source_ids(v)
    return found


@PROPERTY
@given(enterprise_events())
def test_every_source_is_an_event_of_the_set(events: list[Event]) -> None:
    cf = build_case_file(events, uscc=USCC)
    known = {str(ev.event_id) for ev in events}
    assert _all_source_ids(dump(cf)) <= known
    assert {str(t.event_id) for t in cf.timeline} == known


# The parts of the case file that a retraction must leave as if the finding never existed;
# the timeline, the retracted list and the agencies keep it on purpose (audit trail).
_AUDIT_ONLY = {
    "timeline",
    "retracted_findings",
    "agencies",
    "event_count",
    "last_occurred_at",
    "last_recorded_at",
}


@PROPERTY
@given(st.data())
def test_a_retracted_finding_is_as_if_never_made(data: st.DataObject) -> None:
    events = data.draw(enterprise_events())
    f = data.draw(
        st.builds(
            finding,
            st.sampled_from(["tax", "quality", "environment"]),
            st.sampled_from(list(Severity)),
            st.integers(0, 1500).map(day),
            dimension=st.sampled_from(list(Dimension)),
        )
    )
    extra: list[Event] = [
        f,
        retract(f, f.occurred_at + timedelta(days=data.draw(st.integers(0, 50)))),
    ]
    if data.draw(st.booleans()):
        extra.append(amend(f, f.occurred_at + timedelta(days=1), severity="critical"))
    with_it = build_case_file([*events, *extra], uscc=USCC)
    without = build_case_file(without_finding([*events, *extra], f.event_id), uscc=USCC)
    a, b = dump(with_it), dump(without)
    assert {k: v for k, v in a.items() if k not in _AUDIT_ONLY} == {
        k: v for k, v in b.items() if k not in _AUDIT_ONLY
    }
    assert f.event_id in {r.finding.finding_id for r in with_it.retracted_findings}
    assert f.event_id not in {x.finding_id for x in with_it.findings}


def test_dump_is_the_same_in_another_process_with_another_hash_seed() -> None:
    """Nothing in the output may depend on set or dict iteration order of hashed strings."""
    root = Path(__file__).resolve().parents[2]
    program = (
        "import json\n"
        "from tests.unit.test_casefile import fixed_scenario\n"
        "from projections.casefile import build_case_file\n"
        "from projections.blacklist import evaluate, explain\n"
        "from tests.unit.event_strategies import day\n"
        "ev = fixed_scenario()\n"
        "out = [build_case_file(ev).model_dump(mode='json'),\n"
        "       evaluate(ev, day(900)).model_dump(mode='json'),\n"
        "       [x.model_dump(mode='json') for x in explain(ev, day(900))]]\n"
        "print(json.dumps(out, ensure_ascii=False))\n"
    )
    outputs = []
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(root)}
        run = subprocess.run(
            [sys.executable, "-c", program], env=env, cwd=root, capture_output=True, check=True
        )
        outputs.append(json.loads(run.stdout))
    assert outputs[0] == outputs[1]
    assert outputs[0][1]["status"] == "BLACKLISTED"


def fixed_scenario() -> list[Event]:
    """A fixed history touching every section, with fixed ids (used across processes)."""
    n = iter(range(1, 1000))

    def nid() -> UUID:
        return UUID(int=next(n))

    f1 = finding(
        "environment", "serious", day(0), dimension="environmental_protection", event_id=nid()
    )
    f2 = finding("quality", "critical", day(20), dimension="product_quality", event_id=nid())
    f3 = finding("tax", "serious", day(40), dimension="tax_compliance", event_id=nid())
    f4 = finding("land", "minor", day(50), dimension="land_approval", event_id=nid())
    p = penalty("discharge_permit_revoked", day(60), finding_ids=[f1.event_id], event_id=nid())
    return [
        registered(day(-100), event_id=nid()),
        f1,
        f2,
        f3,
        f4,
        amend(f4, day(51), severity="serious", event_id=nid()),
        retract(f4, day(52), event_id=nid()),
        p,
        rectify(day(200), penalty_ids=[p.event_id], event_id=nid()),
        equipment("BF1", "iron", 520_000, day(0), event_id=nid()),
        equipment("CV1", "steel", 600_000, day(0), event_id=nid()),
        target("T1", day(1), day(300), iron=520_000, steel=600_000, event_id=nid()),
        dismantle("BF1", day(100), event_id=nid()),
        replacement("P1", "steel", 700_000, 600_000, day(10), event_id=nid()),
        tipoff_received("TO-1", day(3), event_id=nid()),
        case_opened("C-1", day(70), event_id=nid()),
        make(
            e.CreditRepairApproved,
            "credit",
            {"reason": "r", "rule_id": "R3"},
            day(200),
            event_id=nid(),
        ),
    ]
