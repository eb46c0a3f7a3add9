"""The demonstration scenario: every event valid and placed before `now`, deterministic, and the
blacklist, computed by the pure projections, says of each enterprise what the scenario promises."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone

import pytest

import events
from events import Event
from events import envelope as e
from events.uscc import region, validate
from projections.blacklist import ListingEnd, evaluate
from projections.casefile import build_case_file
from projections.policy import DEFAULT_POLICY, CreditStatus, RuleId
from services import scenario

CST = timezone(timedelta(hours=8))

NOWS = [
    datetime(2026, 6, 1, 9, 0, tzinfo=UTC),
    # 00:30 on 1 March in Beijing, a leap day in UTC: dates near the turn of a day and a year.
    datetime(2028, 2, 29, 16, 30, tzinfo=UTC),
    datetime(2031, 1, 1, 0, 5, tzinfo=CST),
]

# The story, restated here so that a change of the scenario or of `EXPECTED` shows up:
# name → (status, active rules, the first digits of its administrative division).
STORY: dict[str, tuple[CreditStatus, set[RuleId], str]] = {
    "西柏坡钢铁有限责任公司": (CreditStatus.CLEAR, set(), "1301"),
    "河北丰达钢铁有限公司": (CreditStatus.CLEAR, set(), "1301"),
    "河北石鹿特钢有限公司": (CreditStatus.CREDIT_RESTRICTED, {RuleId.R2, RuleId.R4}, "1301"),
    "河北敬业集团有限公司": (CreditStatus.WATCH, set(), "1301"),
    "石家庄钢铁有限责任公司": (CreditStatus.CLEAR, set(), "1301"),
    "贵溪市鑫瑞铸造有限公司": (CreditStatus.BLACKLISTED, {RuleId.R1}, "3606"),
    "鹰潭市余江区华泰精密铸造有限公司": (CreditStatus.CLEAR, set(), "3606"),
    "上饶市广丰区恒昌铸造有限公司": (CreditStatus.WATCH, set(), "3611"),
    "泰和县宏鑫铸造有限公司": (CreditStatus.CLEAR, set(), "3608"),
    "江苏华达钢铁有限公司": (
        CreditStatus.BLACKLISTED,
        {RuleId.R1, RuleId.R3, RuleId.R4},
        "3203",
    ),
    "河北安丰钢铁有限公司": (CreditStatus.BLACKLISTED, {RuleId.R3, RuleId.R5}, "1303"),
}


@pytest.fixture(params=NOWS, ids=lambda t: t.isoformat())
def now(request: pytest.FixtureRequest) -> datetime:
    t: datetime = request.param
    return t


def by_enterprise(evs: list[Event]) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = defaultdict(list)
    for ev in evs:
        out[ev.enterprise].append(ev)
    return out


def uscc_of(name: str) -> str:
    return next(code for code, n in scenario.NAMES.items() if n == name)


# --- the events ---------------------------------------------------------------------------


def test_every_event_round_trips_through_the_contract(now: datetime) -> None:
    for ev in scenario.events(now):
        assert events.parse_event(events.to_dict(ev)) == ev
        assert events.parse_event_json(events.to_json(ev)) == ev
        assert ev.stream in type(ev).allowed_streams


def test_ids_are_unique(now: datetime) -> None:
    evs = scenario.events(now)
    assert len({ev.event_id for ev in evs}) == len(evs)


def test_times_lie_before_now_within_twenty_months(now: datetime) -> None:
    evs = scenario.events(now)
    earliest = now - timedelta(days=610)
    for ev in evs:
        assert events.check_clock(ev, now, timedelta(0)) == []
        assert earliest <= ev.occurred_at <= ev.recorded_at <= now
    recorded = [ev.recorded_at for ev in evs]
    assert recorded == sorted(recorded)  # in the order the agencies recorded them


def test_deterministic(now: datetime) -> None:
    first = [events.to_dict(ev) for ev in scenario.events(now)]
    again = [events.to_dict(ev) for ev in scenario.events(now)]
    assert first == again


def test_ids_do_not_depend_on_now() -> None:
    # Loading the scenario again later must not double it.
    a, b = (scenario.events(t) for t in NOWS[:2])
    assert {ev.event_id for ev in a} == {ev.event_id for ev in b}
    assert [ev.occurred_at for ev in a] != [ev.occurred_at for ev in b]


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        scenario.events(datetime(2026, 6, 1))


def test_size_and_event_types(now: datetime) -> None:
    evs = scenario.events(now)
    assert 150 <= len(evs) <= 400
    types = {ev.event_type for ev in evs}
    wanted = set(events.EVENT_TYPES) - {"CapacityReductionOverdue"}  # the scheduler emits it
    assert wanted <= types


# --- the enterprises ----------------------------------------------------------------------


def test_enterprises_are_registered_once_with_their_names(now: datetime) -> None:
    groups = by_enterprise(scenario.events(now))
    assert set(groups) == set(scenario.EXPECTED) == set(scenario.NAMES)
    for code, evs in groups.items():
        regs = [ev for ev in evs if isinstance(ev, e.EnterpriseRegistered)]
        assert len(regs) == 1
        assert regs[0].stream is events.Stream.MARKET
        assert regs[0].payload.name == scenario.NAMES[code]
        # Registered before anything else is said about it.
        assert regs[0].occurred_at == min(ev.occurred_at for ev in evs)


def test_codes_are_valid_and_carry_the_region() -> None:
    assert set(scenario.NAMES.values()) == set(STORY)
    for name, (_, _, prefix) in STORY.items():
        code = uscc_of(name)
        assert validate(code) == code
        assert region(code).startswith(prefix), name


def test_expected_tells_the_story() -> None:
    for name, (status, rules, _) in STORY.items():
        assert scenario.EXPECTED[uscc_of(name)] == (status, frozenset(rules)), name


# --- what the projections compute ---------------------------------------------------------


def test_blacklist_status_is_as_expected(now: datetime) -> None:
    groups = by_enterprise(scenario.events(now))
    for code, (status, rules) in scenario.EXPECTED.items():
        result = evaluate(groups[code], now, DEFAULT_POLICY, uscc=code)
        active = frozenset(listing.rule_id for listing in result.listings)
        assert (result.status, active) == (status, rules), scenario.NAMES[code]


def test_every_status_and_rule_is_shown() -> None:
    statuses = {status for status, _ in scenario.EXPECTED.values()}
    assert statuses == set(CreditStatus)
    assert set().union(*(rules for _, rules in scenario.EXPECTED.values())) == set(RuleId)


def test_repaired_listing_stays_in_the_history(now: datetime) -> None:
    code = uscc_of("泰和县宏鑫铸造有限公司")
    evs = by_enterprise(scenario.events(now))[code]
    result = evaluate(evs, now, uscc=code)
    assert result.status is CreditStatus.CLEAR
    [ended] = result.history
    assert (ended.rule_id, ended.ended_by) == (RuleId.R1, ListingEnd.REPAIR)
    assert ended.ended_at - ended.started_at >= timedelta(days=366)
    # A year ago it was on the serious-dishonesty list.
    before = evaluate(evs, now - timedelta(days=365), uscc=code)
    assert before.status is CreditStatus.BLACKLISTED
    assert [x.rule_id for x in before.listings] == [RuleId.R1]


def test_missed_target_is_the_smaller_furnace_left_standing(now: datetime) -> None:
    code = uscc_of("河北石鹿特钢有限公司")
    evs = by_enterprise(scenario.events(now))[code]
    [target] = build_case_file(evs).capacity.targets
    assert target.deadline < now and not target.met
    assert (target.steel_tonnes, target.steel_dismantled_tonnes) == (600_000, 300_000)
    # Before the deadline nothing restricted its credit.
    assert evaluate(evs, target.deadline - timedelta(days=1), uscc=code).status is (
        CreditStatus.CLEAR
    )


def test_later_deadlines_bite_if_nothing_more_is_dismantled(now: datetime) -> None:
    groups = by_enterprise(scenario.events(now))
    later = now + timedelta(days=200)
    for name in ("河北敬业集团有限公司", "石家庄钢铁有限责任公司"):
        code = uscc_of(name)
        result = evaluate(groups[code], later, uscc=code)
        assert result.status is CreditStatus.CREDIT_RESTRICTED, name
        assert {x.rule_id for x in result.listings} == {RuleId.R2}


def test_shijiazhuang_plan_adds_up_to_the_seed(now: datetime) -> None:
    # 《石家庄市压减钢铁产能工作方案》: 炼铁374万吨, 粗钢482万吨 over the five companies.
    groups = by_enterprise(scenario.events(now))
    targets = [
        t
        for code, evs in groups.items()
        if code[2:6] == "1301"
        for t in build_case_file(evs).capacity.targets
    ]
    assert len(targets) == 5
    assert sum(t.iron_tonnes for t in targets) == 3_740_000
    assert sum(t.steel_tonnes for t in targets) == 4_820_000
    ledger = build_case_file(groups[uscc_of("河北丰达钢铁有限公司")]).capacity.equipment
    assert [(q.kind.value, q.size, q.annual_capacity_tonnes) for q in ledger] == [
        ("blast_furnace", 450, 520_000)
    ]


def test_references_all_resolve(now: datetime) -> None:
    for evs in by_enterprise(scenario.events(now)).values():
        cf = build_case_file(evs)
        assert not cf.orphan_corrections
        assert not cf.capacity.unregistered_dismantlings
        assert not cf.capacity.unmatched_overdue_notice_ids
        assert all(not p.unmatched_finding_ids for p in cf.penalties)
        assert all(not r.unmatched_ids for r in cf.rectifications)


def test_power_readings_show_the_night_melting(now: datetime) -> None:
    groups = by_enterprise(scenario.events(now))
    shares: dict[str, float] = {}
    for code, evs in groups.items():
        readings = [ev for ev in evs if isinstance(ev, e.PowerReading)]
        if not readings:
            continue
        total = sum(r.payload.kwh for r in readings)
        night = sum(r.payload.kwh * r.payload.night_share for r in readings)
        shares[scenario.NAMES[code]] = night / total
        ids = {r.event_id for r in readings}
        for anomaly in (ev for ev in evs if isinstance(ev, e.PowerAnomalyDetected)):
            assert set(anomaly.payload.reading_ids) <= ids
            assert anomaly.payload.observed > anomaly.payload.baseline
            assert anomaly.occurred_at >= anomaly.payload.window_end
    assert set(shares) == {
        "贵溪市鑫瑞铸造有限公司",
        "鹰潭市余江区华泰精密铸造有限公司",
        "上饶市广丰区恒昌铸造有限公司",
        "泰和县宏鑫铸造有限公司",
    }
    assert shares["贵溪市鑫瑞铸造有限公司"] > 0.7
    assert shares["上饶市广丰区恒昌铸造有限公司"] > 0.7
    assert shares["鹰潭市余江区华泰精密铸造有限公司"] < 0.2
    assert shares["泰和县宏鑫铸造有限公司"] < 0.2
