"""Hypothesis strategies that build valid events of every type.

`any_event()` draws an event of any type, `event_of("PenaltyImposed")` one of a given type; both
take `enterprise=` (a strategy of codes) to keep a history on one enterprise. Every rule of the
contract is built in rather than filtered out afterwards where it can be: valid codes come from
`complete`, datetimes are timezone-aware, text has no control characters and is not blank, and
the payload rules (a fine has an amount, a blast furnace is sized in m³, ...) are respected.
The rules are restated here rather than read from events/, so that a change there shows up here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from events import CURRENT_VERSION, EVENT_TYPES, Event, Stream, parse_event
from events.dimensions import Dimension, Severity
from events.payloads import (
    AnomalyKind,
    EquipmentKind,
    FurnaceType,
    Industry,
    PenaltyKind,
    Product,
    SizeUnit,
)
from events.uscc import ALPHABET, complete

JsonDict = dict[str, Any]

NAME_MAX = 200
TEXT_MAX = 10_000

# --- building blocks ------------------------------------------------------------------------


def usccs() -> st.SearchStrategy[str]:
    """Valid Unified Social Credit Codes."""
    return st.text(alphabet=ALPHABET, min_size=17, max_size=17).map(complete)


def _not_blank(value: str) -> bool:
    return bool(value.strip())


def names(max_size: int = 60) -> st.SearchStrategy[str]:
    """Single-line labels: no control characters at all (not even tab or line breaks)."""
    chars = st.characters(exclude_categories=("Cc", "Cs"))
    return st.text(chars, min_size=1, max_size=min(max_size, NAME_MAX)).filter(_not_blank)


def texts(max_size: int = 300) -> st.SearchStrategy[str]:
    """Free text: tab and line breaks allowed, other control characters not."""
    chars = st.characters(exclude_categories=("Cc", "Cs"), include_characters="\n\t\r")
    return st.text(chars, min_size=1, max_size=min(max_size, TEXT_MAX)).filter(_not_blank)


def timezones() -> st.SearchStrategy[timezone]:
    """UTC offsets in whole minutes (what RFC 3339 can carry), -14:00 to +14:00."""
    return st.one_of(
        st.sampled_from([UTC, timezone(timedelta(hours=8))]),
        st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m))),
    )


def aware_datetimes(
    min_value: datetime = datetime(2000, 1, 1),
    max_value: datetime = datetime(2040, 12, 31),
) -> st.SearchStrategy[datetime]:
    return st.datetimes(min_value=min_value, max_value=max_value, timezones=timezones())


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def _tonnes() -> st.SearchStrategy[float]:
    return st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False)


def _refs() -> st.SearchStrategy[list[Any]]:
    return st.lists(st.uuids(), max_size=4)


def _later(start: datetime) -> st.SearchStrategy[datetime]:
    """A moment strictly after `start`, possibly written in another offset."""
    return st.builds(
        lambda delta, tz: (start + delta).astimezone(tz),
        st.timedeltas(timedelta(microseconds=1), timedelta(days=31)),
        timezones(),
    )


# --- payloads, one strategy per event type --------------------------------------------------


@st.composite
def _finding_amended(draw: st.DrawFn) -> JsonDict:
    changes = {
        "dimension": _optional(st.sampled_from(Dimension)),
        "severity": _optional(st.sampled_from(Severity)),
        "violation_code": _optional(names()),
        "description": _optional(texts()),
        "evidence": _optional(st.lists(names(), max_size=3)),
    }
    payload: JsonDict = {"finding_id": draw(st.uuids()), "reason": draw(texts())}
    payload |= draw(st.fixed_dictionaries({}, optional=changes))
    # An amendment must change something: make sure at least one field is set.
    if all(payload.get(key) is None for key in changes):
        key = draw(st.sampled_from(sorted(changes)))
        payload[key] = draw(changes[key].filter(lambda v: v is not None))
    return payload


@st.composite
def _penalty_imposed(draw: st.DrawFn) -> JsonDict:
    kind = draw(st.sampled_from(PenaltyKind))
    amount = st.floats(min_value=0, max_value=1e13, allow_nan=False, allow_infinity=False)
    payload: JsonDict = {
        "kind": kind,
        # A fine needs its amount; other kinds may carry one.
        "amount_cny": draw(amount if kind is PenaltyKind.FINE else _optional(amount)),
        "legal_basis": draw(texts()),
        "finding_ids": draw(_refs()),
    }
    return payload | draw(st.fixed_dictionaries({}, optional={"description": texts()}))


@st.composite
def _rectification_verified(draw: st.DrawFn) -> JsonDict:
    findings, penalties = draw(_refs()), draw(_refs())
    if not findings and not penalties:  # it must name something it rectified
        findings = [draw(st.uuids())]
    return {"finding_ids": findings, "penalty_ids": penalties, "description": draw(texts())}


_UNIT_OF_KIND = {
    EquipmentKind.BLAST_FURNACE: SizeUnit.CUBIC_METRES,  # 高炉 in m³
    EquipmentKind.CONVERTER: SizeUnit.TONNES,
    EquipmentKind.ELECTRIC_ARC_FURNACE: SizeUnit.TONNES,
    EquipmentKind.INDUCTION_FURNACE: SizeUnit.TONNES,
}


@st.composite
def _equipment_registered(draw: st.DrawFn) -> JsonDict:
    kind = draw(st.sampled_from(EquipmentKind))
    unit = _UNIT_OF_KIND.get(kind) or draw(st.sampled_from(SizeUnit))
    size = st.floats(
        min_value=0, max_value=1e6, exclude_min=True, allow_nan=False, allow_infinity=False
    )
    return {
        "equipment_id": draw(names()),
        "kind": kind,
        "size": draw(size),
        "size_unit": unit,
        "product": draw(st.sampled_from(Product)),
        "annual_capacity_tonnes": draw(_tonnes()),
    }


@st.composite
def _capacity_reduction_target_set(draw: st.DrawFn) -> JsonDict:
    positive = st.floats(
        min_value=0, max_value=1e9, exclude_min=True, allow_nan=False, allow_infinity=False
    )
    # At least one of the two tonnages is positive; the other may be zero or left out.
    which = draw(st.sampled_from(["iron_tonnes", "steel_tonnes"]))
    other = "steel_tonnes" if which == "iron_tonnes" else "iron_tonnes"
    payload: JsonDict = {
        "target_id": draw(names()),
        which: draw(positive),
        "deadline": draw(aware_datetimes()),
        "basis": draw(texts()),
    }
    return payload | draw(st.fixed_dictionaries({}, optional={other: _tonnes()}))


@st.composite
def _enterprise_updated(draw: st.DrawFn) -> JsonDict:
    fields = {
        "name": _optional(names()),
        "legal_representative": _optional(names()),
        "registered_address": _optional(texts()),
        "business_scope": _optional(texts()),
        "industry": _optional(st.sampled_from(Industry)),
    }
    payload = draw(st.fixed_dictionaries({}, optional=fields))
    if all(v is None for v in payload.values()):  # an update must change something
        key = draw(st.sampled_from(sorted(fields)))
        payload[key] = draw(fields[key].filter(lambda v: v is not None))
    return payload


@st.composite
def _power_reading(draw: st.DrawFn) -> JsonDict:
    start = draw(aware_datetimes())
    return {
        "meter_id": draw(names()),
        "period_start": start,
        "period_end": draw(_later(start)),  # the period must end after it starts
        "kwh": draw(st.floats(min_value=0, max_value=1e12, allow_nan=False)),
        "night_share": draw(st.floats(min_value=0, max_value=1, allow_nan=False)),
    }


@st.composite
def _power_anomaly_detected(draw: st.DrawFn) -> JsonDict:
    start = draw(aware_datetimes())
    finite = st.floats(allow_nan=False, allow_infinity=False)
    payload: JsonDict = {
        "kind": draw(st.sampled_from(AnomalyKind)),
        "window_start": start,
        "window_end": draw(_later(start)),
        "observed": draw(finite),
        "baseline": draw(finite),
        "reading_ids": draw(_refs()),
    }
    return payload | draw(st.fixed_dictionaries({}, optional={"description": texts()}))


def _payload(
    required: dict[str, st.SearchStrategy[Any]],
    optional: dict[str, st.SearchStrategy[Any]] | None = None,
) -> st.SearchStrategy[JsonDict]:
    # Optional keys are sometimes left out, so defaults are exercised too.
    return st.fixed_dictionaries(required, optional=optional or {})


PAYLOADS: dict[str, st.SearchStrategy[JsonDict]] = {
    "FindingRecorded": _payload(
        {
            "dimension": st.sampled_from(Dimension),
            "severity": st.sampled_from(Severity),
            "violation_code": names(),
            "description": texts(),
        },
        {"evidence": st.lists(names(), max_size=3), "location": _optional(names())},
    ),
    "FindingAmended": _finding_amended(),
    "FindingRetracted": _payload({"finding_id": st.uuids(), "reason": texts()}),
    "PenaltyImposed": _penalty_imposed(),
    "RectificationVerified": _rectification_verified(),
    "IllegalSteelConfirmed": _payload(
        {
            "furnace_type": st.sampled_from(FurnaceType),
            "furnace_count": st.integers(1, 10_000),
            "capacity_tonnes": _tonnes(),
            "description": texts(),
        }
    ),
    "EquipmentRegistered": _equipment_registered(),
    "EquipmentDismantled": _payload(
        {"equipment_id": names(), "verified_by": names()}, {"description": _optional(texts())}
    ),
    "CapacityReductionTargetSet": _capacity_reduction_target_set(),
    "CapacityReductionOverdue": _payload(
        {
            "target_id": names(),
            "deadline": aware_datetimes(),
            "iron_tonnes_missing": _tonnes(),
            "steel_tonnes_missing": _tonnes(),
        }
    ),
    "CapacityReplacementApproved": _payload(
        {
            "project_id": names(),
            "product": st.sampled_from(Product),
            "new_capacity_tonnes": _tonnes(),
            "retired_capacity_tonnes": _tonnes(),
        },
        {"retired_equipment_ids": st.lists(names(), max_size=3)},
    ),
    "EnterpriseRegistered": _payload(
        {
            "name": names(),
            "legal_representative": names(),
            "registered_address": texts(),
            "business_scope": texts(),
        },
        {"industry": st.sampled_from(Industry), "registered_on": _optional(st.dates())},
    ),
    "EnterpriseUpdated": _enterprise_updated(),
    "TipOffReceived": _payload(
        {"tipoff_id": names(), "channel": names(), "summary": texts()},
        {"dimension": _optional(st.sampled_from(Dimension))},
    ),
    "TipOffVerified": _payload(
        {"tipoff_id": names(), "substantiated": st.booleans()},
        {"finding_ids": _refs(), "notes": _optional(texts())},
    ),
    "TipOffClosed": _payload({"tipoff_id": names(), "outcome": texts()}, {"penalty_ids": _refs()}),
    "PowerReading": _power_reading(),
    "PowerAnomalyDetected": _power_anomaly_detected(),
    "CaseOpened": _payload({"case_id": names(), "title": names(), "reason": texts()}),
    "CaseAssigned": _payload(
        {"case_id": names(), "assignee": names()}, {"agencies": st.lists(names(), max_size=5)}
    ),
    "CaseEscalated": _payload(
        {"case_id": names(), "level": names(), "reason": texts()}, {"cited_event_ids": _refs()}
    ),
    "CaseClosed": _payload({"case_id": names(), "outcome": texts()}),
    "CreditRepairApproved": _payload({"reason": texts()}, {"rule_id": _optional(names())}),
}


# --- events ---------------------------------------------------------------------------------


@st.composite
def _event(draw: st.DrawFn, type_name: str, enterprise: st.SearchStrategy[str]) -> Event:
    cls = EVENT_TYPES[type_name]
    occurred = draw(aware_datetimes())
    # Recorded at or after it happened, by the agency's clock in any offset.
    recorded = (occurred + draw(st.timedeltas(timedelta(0), timedelta(days=60)))).astimezone(
        draw(timezones())
    )
    data: JsonDict = {
        "event_id": draw(st.uuids()),
        "event_type": type_name,
        "schema_version": CURRENT_VERSION[type_name],
        "stream": draw(st.sampled_from(sorted(cls.allowed_streams or Stream))),
        "enterprise": draw(enterprise),
        "occurred_at": occurred,
        "recorded_at": recorded,
        "actor": draw(names(max_size=40)),
        "payload": draw(PAYLOADS[type_name]),
    }
    data |= draw(
        st.fixed_dictionaries(
            {}, optional={"correlation_id": _optional(st.uuids()), "causation_id": st.uuids()}
        )
    )
    return parse_event(data)


def event_of(
    type_name: str, *, enterprise: st.SearchStrategy[str] | None = None
) -> st.SearchStrategy[Event]:
    """Valid events of one type (a name in events.EVENT_TYPES)."""
    if type_name not in PAYLOADS:
        raise KeyError(f"no strategy for event type {type_name!r}; add one to PAYLOADS")
    return _event(type_name, usccs() if enterprise is None else enterprise)


def any_event(*, enterprise: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Event]:
    """Valid events of every type."""
    return st.one_of(*(event_of(name, enterprise=enterprise) for name in EVENT_TYPES))
