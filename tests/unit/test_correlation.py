"""Cross-agency correlation rules (联动研判): C1 suspected 地条钢 and C2 tip-off + power anomaly,
at their N-day boundaries, by industry, and never twice for the same causes."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import cast
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events import Event
from events import envelope as e
from events.payloads import AnomalyKind, Industry
from events.registry import parse_event, to_dict
from projections.casefile import build_case_file
from projections.correlation import (
    DEFAULT_CORRELATION,
    CorrelationConfig,
    CorrelationConfigError,
    Escalation,
    RuleId,
    correlate,
    escalation_event_id,
    load_correlation_config,
    to_event,
)
from tests.unit.event_strategies import (
    USCC,
    case_closed,
    case_escalated,
    case_opened,
    day,
    finding,
    make,
    rectify,
    registered,
    retract,
    shuffled_with_duplicates,
    tipoff_closed,
    tipoff_received,
    tipoff_verified,
)

N = DEFAULT_CORRELATION.c1_window_days
LATE = day(400)  # an evaluation time after everything in these scenarios
US = timedelta(microseconds=1)


def power_anomaly(
    start_day: float, kind: AnomalyKind = AnomalyKind.NIGHT_USE, days: float = 1
) -> e.PowerAnomalyDetected:
    start, end = day(start_day), day(start_day + days)
    payload = {
        "kind": kind,
        "window_start": start,
        "window_end": end,
        "observed": 850.0,
        "baseline": 120.0,
        "description": "夜间用电明显高于白天",
    }
    return make(e.PowerAnomalyDetected, "power", payload, end)


def land_finding(at: datetime) -> e.FindingRecorded:
    """用地审批: the land bureau finds a workshop built without land-use approval."""
    return finding("land", "serious", at, dimension="land_approval")


def coded_finding(
    at: datetime, code: str, dimension: str = "product_quality", severity: str = "serious"
) -> e.FindingRecorded:
    payload = {
        "dimension": dimension,
        "severity": severity,
        "violation_code": code,
        "description": "无生产许可证生产钢筋",
    }
    return make(e.FindingRecorded, "quality", payload, at)


def foundry(industry: str = "foundry") -> e.EnterpriseRegistered:
    return registered(day(0), industry=industry, name="泰和县某铸造有限公司")


def run(
    events: Sequence[e.Envelope],
    at: datetime = LATE,
    config: CorrelationConfig = DEFAULT_CORRELATION,
) -> list[Escalation]:
    return correlate(build_case_file(cast(list[Event], list(events))), at=at, config=config)


def rules(escalations: Sequence[Escalation]) -> list[RuleId]:
    return [x.rule_id for x in escalations]


def escalated(escalations: Sequence[Escalation], now: datetime = LATE) -> list[e.CaseEscalated]:
    return [to_event(x, now=now, actor="jointcase-correlation") for x in escalations]


# --- C1 suspected 地条钢 ---------------------------------------------------------------


def test_c1_cites_every_event_involved() -> None:
    reg, anomaly = foundry(), power_anomaly(10)
    land = land_finding(day(12))
    (x,) = run([reg, anomaly, land])
    assert x.rule_id is RuleId.C1
    assert x.enterprise == USCC
    assert x.cause_ids == tuple(sorted([anomaly.event_id, land.event_id]))
    assert x.cited_event_ids == (anomaly.event_id, land.event_id, reg.event_id)
    assert x.event_id == escalation_event_id(RuleId.C1, USCC, [land.event_id, anomaly.event_id])
    assert x.occurred_at == day(12)  # when the land bureau's finding completed the pair
    assert x.causation_id == land.event_id
    assert "疑似地条钢" in x.reason and "地条钢" in x.reason and "C1" in x.reason
    assert "铸造" in x.reason and "foundry" in x.reason

    ev = to_event(x, now=day(13), actor="jointcase-correlation")
    assert isinstance(ev, e.CaseEscalated)
    assert ev.stream.value == "taskforce"
    assert ev.event_id == x.event_id
    assert ev.occurred_at == day(12) and ev.recorded_at == day(13)
    assert ev.causation_id == land.event_id
    assert ev.payload.cited_event_ids == list(x.cited_event_ids)
    assert ev.payload.level == DEFAULT_CORRELATION.c1_level
    assert ev.payload.reason == x.reason
    assert parse_event(json.loads(json.dumps(to_dict(ev)))) == ev
    with pytest.raises(ValueError, match="recorded before"):
        to_event(x, now=day(11), actor="jointcase-correlation")


@pytest.mark.parametrize(
    ("offset", "fires"),
    [
        (timedelta(days=N - 1), True),
        (timedelta(days=N), True),
        (timedelta(days=N) + US, False),
        (timedelta(days=N + 1), False),
    ],
    ids=["N-1-days", "N-days", "N-days-and-1us", "N+1-days"],
)
def test_c1_window_after_the_anomaly(offset: timedelta, fires: bool) -> None:
    anomaly = power_anomaly(10)  # window day 10 – day 11
    land = land_finding(day(11) + offset)
    found = run([foundry(), anomaly, land])
    assert rules(found) == ([RuleId.C1] if fires else [])


@pytest.mark.parametrize(
    ("offset", "fires"),
    [(timedelta(days=N), True), (timedelta(days=N) + US, False), (timedelta(days=N + 1), False)],
    ids=["N-days", "N-days-and-1us", "N+1-days"],
)
def test_c1_window_before_the_anomaly(offset: timedelta, fires: bool) -> None:
    land = land_finding(day(100) - offset)
    anomaly = power_anomaly(100)
    found = run([foundry(), land, anomaly])
    assert rules(found) == ([RuleId.C1] if fires else [])
    if fires:
        # The anomaly completed the pair when its window ended.
        assert found[0].occurred_at == day(101)
        assert found[0].causation_id == anomaly.event_id


def test_c1_window_is_configurable() -> None:
    events = [foundry(), power_anomaly(10), land_finding(day(11 + 45))]
    assert run(events) == []
    assert rules(run(events, config=CorrelationConfig(c1_window_days=45))) == [RuleId.C1]


@pytest.mark.parametrize("industry", list(Industry))
def test_c1_only_for_foundry_and_special_steel(industry: Industry) -> None:
    found = run([foundry(industry.value), power_anomaly(10), land_finding(day(12))])
    expected = [RuleId.C1] if industry in (Industry.FOUNDRY, Industry.SPECIAL_STEEL) else []
    assert rules(found) == expected


def test_c1_needs_a_known_industry() -> None:
    assert run([power_anomaly(10), land_finding(day(12))]) == []


def test_c1_follows_the_current_industry() -> None:
    reg = registered(day(0), industry="other")
    changed = make(e.EnterpriseUpdated, "market", {"industry": "special_steel"}, day(5))
    (x,) = run([reg, changed, power_anomaly(10), land_finding(day(12))])
    assert changed.event_id in x.cited_event_ids
    assert "特钢" in x.reason


@pytest.mark.parametrize(
    ("make_finding", "fires"),
    [
        (lambda: land_finding(day(12)), True),
        (lambda: coded_finding(day(12), "QS-2026-07"), True),
        (lambda: coded_finding(day(12), "QS-1", severity="minor"), True),
        (lambda: coded_finding(day(12), "QS-1", severity="info"), False),
        (lambda: finding("environment", "critical", day(12)), False),
        (lambda: coded_finding(day(12), "TAX-1", dimension="tax_compliance"), False),
    ],
    ids=["land", "quality", "minor", "info", "environment", "tax"],
)
def test_c1_findings_that_show_a_missing_licence_or_approval(
    make_finding: Callable[[], e.FindingRecorded], fires: bool
) -> None:
    found = run([foundry(), power_anomaly(10), make_finding()])
    assert rules(found) == ([RuleId.C1] if fires else [])


def test_c1_codes_narrow_a_dimension() -> None:
    config = load_correlation_config(
        {"c1_findings": {"product_quality": ["QS-NOLICENCE"], "land_approval": []}}
    )
    unlicensed = coded_finding(day(12), "qs-nolicence")  # codes compare without case
    other = coded_finding(day(12), "QS-LABEL")
    base: list[e.Envelope] = [foundry(), power_anomaly(10)]
    assert rules(run([*base, unlicensed], config=config)) == [RuleId.C1]
    assert run([*base, other], config=config) == []
    assert rules(run([*base, land_finding(day(12))], config=config)) == [RuleId.C1]


def test_c1_ignores_retracted_and_already_rectified_findings() -> None:
    land = land_finding(day(2))
    base: list[e.Envelope] = [foundry(), land, power_anomaly(10)]
    assert run([*base, retract(land, day(5), stream="land")]) == []
    # Rectified before the anomaly's window ended: it was no longer open when the pair formed.
    assert run([*base, rectify(day(6), finding_ids=[land.event_id], stream="land")]) == []
    # Rectified afterwards: the pair had formed while it was open.
    late_fix = rectify(day(20), finding_ids=[land.event_id], stream="land")
    assert rules(run([*base, late_fix])) == [RuleId.C1]


def test_c1_uses_only_the_configured_anomaly_kinds() -> None:
    events = [foundry(), power_anomaly(10, AnomalyKind.LARGE_SWING), land_finding(day(12))]
    assert rules(run(events)) == [RuleId.C1]
    night_only = CorrelationConfig(anomaly_kinds=(AnomalyKind.NIGHT_USE,))
    assert run(events, config=night_only) == []


def test_only_what_happened_by_at_counts() -> None:
    events = [foundry(), power_anomaly(10), land_finding(day(12))]
    assert run(events, at=day(12) - US) == []
    assert rules(run(events, at=day(12))) == [RuleId.C1]
    # An anomaly whose window has not ended yet has not happened.
    assert run([foundry(), land_finding(day(9)), power_anomaly(10)], at=day(11) - US) == []


def test_at_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        run([foundry()], at=datetime(2024, 1, 1))


# --- never twice ----------------------------------------------------------------------


def test_not_twice_for_the_same_causes() -> None:
    events: list[Event] = [foundry(), power_anomaly(10), land_finding(day(12))]
    first = run(events, at=day(13))
    assert rules(first) == [RuleId.C1]
    # Evaluated again, by this worker or another: the same escalation under the same id.
    assert run(events, at=day(14)) == first
    # Once it is in the case file, nothing is returned for it.
    events += escalated(first, now=day(13))
    assert run(events, at=day(14)) == []
    # More nights of the same pattern near the same finding do not escalate again.
    events += [power_anomaly(14), power_anomaly(15, AnomalyKind.SUDDEN_JUMP)]
    assert run(events) == []


def test_a_new_finding_escalates_again() -> None:
    a1 = power_anomaly(10)
    events: list[Event] = [foundry(), a1, land_finding(day(12))]
    events += escalated(run(events, at=day(13)), now=day(13))
    a2 = power_anomaly(20)
    quality = coded_finding(day(21), "QS-2026-07")
    (x,) = run([*events, a2, quality])
    assert x.cause_ids == tuple(sorted([a1.event_id, a2.event_id, quality.event_id]))
    assert x.occurred_at == day(21)


def test_an_escalation_with_that_id_is_not_returned() -> None:
    events: list[Event] = [foundry(), power_anomaly(10), land_finding(day(12))]
    (x,) = run(events)
    # Recorded under another case and citing nothing: the id alone suffices.
    prior = case_escalated("案-2026-001", day(13), event_id=x.event_id)
    assert run([*events, prior]) == []


def test_an_officer_escalation_of_the_same_pair_counts() -> None:
    anomaly, land = power_anomaly(10), land_finding(day(12))
    events: list[Event] = [foundry(), anomaly, land]
    by_hand = make(
        e.CaseEscalated,
        "taskforce",
        {
            "case_id": "案-2026-001",
            "level": "省级",
            "reason": "夜间用电异常且无用地审批",
            "cited_event_ids": [land.event_id, anomaly.event_id],
        },
        day(12, hours=6),
    )
    assert run([*events, by_hand]) == []
    # An officer's escalation of the finding alone is not the power correlation.
    alone = make(
        e.CaseEscalated,
        "taskforce",
        {
            "case_id": "案-2026-001",
            "level": "省级",
            "reason": "无用地审批",
            "cited_event_ids": [land.event_id],
        },
        day(12, hours=6),
    )
    assert rules(run([*events, alone])) == [RuleId.C1]


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_same_answer_for_any_order_and_repetition(data: st.DataObject) -> None:
    events: list[Event] = [
        foundry(),
        power_anomaly(10),
        power_anomaly(11, AnomalyKind.SUDDEN_JUMP),
        land_finding(day(12)),
        coded_finding(day(40), "QS-1"),
        tipoff_received("JB-1", day(3)),
        tipoff_received("JB-2", day(200)),
        case_opened("案-1", day(1)),
    ]
    expected = run(events)
    assert rules(expected) == [RuleId.C2, RuleId.C1, RuleId.C1]
    again = data.draw(shuffled_with_duplicates(events))
    assert run(again) == expected
    at = data.draw(st.sampled_from([day(5), day(11), day(12), day(40), day(41), LATE]))
    partial = run(again, at=at)
    # Whatever has become due by `at` is due in the same form later.
    assert set(partial) <= set(expected)


# --- C2 tip-off + power anomaly -------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "fires"),
    [
        (day(11) + timedelta(days=N), True),
        (day(11) + timedelta(days=N) + US, False),
        (day(11) + timedelta(days=N + 1), False),
        (day(10) - timedelta(days=N), True),
        (day(10) - timedelta(days=N + 1), False),
        (day(10, hours=12), True),
    ],
    ids=["after-N", "after-N-1us", "after-N+1", "before-N", "before-N+1", "inside"],
)
def test_c2_window(received: datetime, fires: bool) -> None:
    # Any industry: a plain steelworks, the C1 industries not involved.
    events: list[e.Envelope] = [registered(day(0), industry="steel"), power_anomaly(10)]
    found = run([*events, tipoff_received("JB-2026-017", received)])
    assert rules(found) == ([RuleId.C2] if fires else [])


def test_c2_cites_the_tipoff_and_the_anomaly() -> None:
    anomaly = power_anomaly(10)
    received = tipoff_received("JB-2026-017", day(20))
    verified = tipoff_verified("JB-2026-017", day(25))
    (x,) = run([anomaly, received, verified])
    assert x.cited_event_ids == (anomaly.event_id, received.event_id)
    assert x.event_id == escalation_event_id(RuleId.C2, USCC, [anomaly.event_id, received.event_id])
    assert x.occurred_at == day(20)
    assert "举报" in x.reason and "C2" in x.reason
    assert to_event(x, now=LATE, actor="jointcase-correlation").payload.level == "市级 city"


def test_c2_needs_an_open_tipoff() -> None:
    anomaly = power_anomaly(10)
    received = tipoff_received("JB-1", day(2))
    # Closed before the anomaly's window ended: handled before the pair could form.
    assert run([anomaly, received, tipoff_closed("JB-1", day(5))]) == []
    # Verified as unsubstantiated before: dismissed.
    assert run([anomaly, received, tipoff_verified("JB-1", day(5), substantiated=False)]) == []
    # Closed later: it was open when the pair formed.
    assert rules(run([anomaly, received, tipoff_closed("JB-1", day(30))])) == [RuleId.C2]
    # Substantiated tip-offs stay open until closed.
    assert rules(run([anomaly, received, tipoff_verified("JB-1", day(5))])) == [RuleId.C2]


def test_c2_not_twice() -> None:
    events: list[Event] = [power_anomaly(10), tipoff_received("JB-1", day(12))]
    first = run(events)
    assert rules(first) == [RuleId.C2]
    events += escalated(first)
    assert run(events) == []
    events += [power_anomaly(13), tipoff_verified("JB-1", day(14))]
    assert run(events) == []
    events.append(tipoff_received("JB-2", day(14)))
    assert rules(run(events)) == [RuleId.C2]


def test_both_rules_for_one_foundry() -> None:
    found = run(
        [foundry(), power_anomaly(10), land_finding(day(12)), tipoff_received("JB-1", day(11))]
    )
    assert rules(found) == [RuleId.C2, RuleId.C1]
    assert len({x.event_id for x in found}) == 2


# --- the escalated case ---------------------------------------------------------------


def test_escalates_the_latest_open_case() -> None:
    base: list[Event] = [foundry(), power_anomaly(10), land_finding(day(12))]
    cases: list[Event] = [
        case_opened("案-1", day(1)),
        case_opened("案-2", day(2)),
        case_opened("案-3", day(3)),
        case_closed("案-3", day(4)),
    ]
    (x,) = run([*base, *cases])
    assert x.case_id == "案-2"


def test_without_an_open_case_a_case_id_is_made() -> None:
    (x,) = run([foundry(), power_anomaly(10), land_finding(day(12))])
    assert x.case_id == f"联动-{USCC}-{str(x.event_id)[:8]}"
    events: list[Event] = [foundry(), power_anomaly(10), land_finding(day(12))]
    events += escalated([x])
    case = build_case_file(events).cases[0]
    assert case.case_id == x.case_id and case.escalation_level == "省级 province"


# --- configuration --------------------------------------------------------------------


def test_load_correlation_config() -> None:
    config = load_correlation_config(
        '{"c1_window_days": 14, "c1_industries": ["foundry"], "c2_window_days": 7}'
    )
    assert (config.c1_window_days, config.c1_industries, config.c2_window_days) == (
        14,
        (Industry.FOUNDRY,),
        7,
    )
    assert load_correlation_config({}) == DEFAULT_CORRELATION


@pytest.mark.parametrize(
    ("mapping", "field"),
    [
        ({"c1_window_days": -1}, "c1_window_days"),
        ({"c2_window_days": "month"}, "c2_window_days"),
        ({"c1_industries": []}, "c1_industries"),
        ({"c1_industries": ["smelting"]}, "c1_industries"),
        ({"c1_findings": {"land": []}}, "c1_findings"),
        ({"c1_findings": {"land_approval": [" "]}}, "c1_findings"),
        ({"anomaly_kinds": []}, "anomaly_kinds"),
        ({"c1_min_severity": "grave"}, "c1_min_severity"),
        ({"window_days": 30}, "window_days"),
    ],
)
def test_load_correlation_config_names_the_bad_field(
    mapping: dict[str, object], field: str
) -> None:
    with pytest.raises(CorrelationConfigError, match=f"{field}"):
        load_correlation_config(mapping)


def test_escalation_ids_depend_on_rule_enterprise_and_causes_only() -> None:
    a, b = UUID(int=1), UUID(int=2)
    assert escalation_event_id(RuleId.C1, USCC, [a, b]) == escalation_event_id(
        RuleId.C1, USCC, [b, a]
    )
    assert escalation_event_id(RuleId.C1, USCC, [a, b]) != escalation_event_id(
        RuleId.C2, USCC, [a, b]
    )
    assert escalation_event_id(RuleId.C1, USCC, [a]) != escalation_event_id(RuleId.C1, USCC, [a, b])
