"""Deadline notices: due once per target, at the deadline, never for a met target."""

from __future__ import annotations

from datetime import timedelta

from events import parse_event
from projections.casefile import build_case_file
from projections.deadlines import overdue_notices
from tests.factories import NOW, event, uscc

FIRM = uscc(77)


def target(deadline_days: int, iron: float = 100_000) -> dict[str, object]:
    return event(
        "CapacityReductionTargetSet",
        "miit",
        FIRM,
        {
            "target_id": "T1",
            "iron_tonnes": iron,
            "deadline": (NOW + timedelta(days=deadline_days)).isoformat(),
            "basis": "压减方案",
        },
        occurred_at=NOW - timedelta(days=30),
    )


def test_due_exactly_at_the_deadline_and_not_before() -> None:
    cf = build_case_file([parse_event(target(0))])
    assert overdue_notices(cf, NOW - timedelta(microseconds=1)) == []
    [notice] = overdue_notices(cf, NOW)
    assert notice.payload.target_id == "T1"
    assert notice.payload.iron_tonnes_missing == 100_000
    assert notice.occurred_at == NOW


def test_the_same_notice_whoever_decides_it_and_none_once_recorded() -> None:
    events = [parse_event(target(0))]
    first = overdue_notices(build_case_file(events), NOW + timedelta(days=1))
    again = overdue_notices(build_case_file(events), NOW + timedelta(days=9))
    assert [n.event_id for n in first] == [n.event_id for n in again]
    recorded = build_case_file([*events, *first])
    assert overdue_notices(recorded, NOW + timedelta(days=10)) == []


def test_a_target_met_by_its_deadline_gets_no_notice() -> None:
    registered = event(
        "EquipmentRegistered",
        "miit",
        FIRM,
        {
            "equipment_id": "BF-1",
            "kind": "blast_furnace",
            "size": 450,
            "size_unit": "m3",
            "product": "iron",
            "annual_capacity_tonnes": 100_000,
        },
        occurred_at=NOW - timedelta(days=400),
    )
    dismantled = event(
        "EquipmentDismantled",
        "miit",
        FIRM,
        {"equipment_id": "BF-1", "verified_by": "石家庄市工信局"},
        occurred_at=NOW - timedelta(days=5),
    )
    cf = build_case_file([parse_event(e) for e in (target(0), registered, dismantled)])
    assert overdue_notices(cf, NOW + timedelta(days=1)) == []
