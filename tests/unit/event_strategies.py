"""Builders for single events and hypothesis strategies for the event set of ONE enterprise.

The builders keep scenario tests short (`finding("environment", "serious", day(10))`); the
strategy `enterprise_events()` draws realistic histories: findings from various agencies,
amendments and retractions of earlier findings (and of unknown ones), penalties, rectifications,
the capacity ledger, reduction targets, replacements, tip-offs, case actions and credit repairs.
Times lie on a coarse grid so that equal instants, deadlines and anniversaries do occur.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar
from uuid import UUID, uuid4

from hypothesis import strategies as st

from events import AGENCY_STREAMS, Event, Stream
from events import envelope as e
from events.dimensions import Dimension, Severity
from events.payloads import AnomalyKind, EquipmentKind, PenaltyKind, Product
from events.uscc import complete

USCC = complete("91130100MA0000001")  # 130100: 河北省石家庄市
OTHER_USCC = complete("91360800MA0000002")  # 360800: 江西省吉安市
T0 = datetime(2024, 1, 1, tzinfo=UTC)
CST = timezone(timedelta(hours=8))  # agencies record in Beijing time

E = TypeVar("E", bound=e.Envelope)

AGENCIES = sorted(AGENCY_STREAMS)


def day(n: float, hours: float = 0) -> datetime:
    """T0 plus `n` days (and hours)."""
    return T0 + timedelta(days=n, hours=hours)


def make(
    cls: type[E],
    stream: Stream | str,
    payload: dict[str, Any],
    at: datetime,
    *,
    recorded: datetime | None = None,
    event_id: UUID | None = None,
    uscc: str = USCC,
) -> E:
    """One validated event; `recorded_at` defaults to an hour after it occurred."""
    return cls.model_validate(
        {
            "event_id": event_id or uuid4(),
            "stream": stream,
            "enterprise": uscc,
            "occurred_at": at,
            "recorded_at": recorded or at + timedelta(hours=1),
            "actor": "officer-1",
            "payload": payload,
        }
    )


def finding(
    stream: Stream | str,
    severity: Severity | str,
    at: datetime,
    *,
    dimension: Dimension | str = Dimension.ENVIRONMENTAL_PROTECTION,
    description: str = "finding description",
    evidence: list[str] | None = None,
    **kw: Any,
) -> e.FindingRecorded:
    payload = {
        "dimension": dimension,
        "severity": severity,
        "violation_code": "V-001",
        "description": description,
        "evidence": evidence or [],
    }
    return make(e.FindingRecorded, stream, payload, at, **kw)


def amend(
    of: e.FindingRecorded | UUID,
    at: datetime,
    *,
    stream: str | None = None,
    event_id: UUID | None = None,
    **changes: Any,
) -> e.FindingAmended:
    """An amendment of `of` changing the given payload fields (severity=..., dimension=...)."""
    fid = of.event_id if isinstance(of, e.FindingRecorded) else of
    src = stream or (of.stream if isinstance(of, e.FindingRecorded) else "environment")
    payload = {"finding_id": fid, "reason": "corrected", **changes}
    return make(e.FindingAmended, src, payload, at, event_id=event_id)


def retract(
    of: e.FindingRecorded | UUID,
    at: datetime,
    *,
    stream: str | None = None,
    event_id: UUID | None = None,
) -> e.FindingRetracted:
    fid = of.event_id if isinstance(of, e.FindingRecorded) else of
    src = stream or (of.stream if isinstance(of, e.FindingRecorded) else "environment")
    payload = {"finding_id": fid, "reason": "withdrawn"}
    return make(e.FindingRetracted, src, payload, at, event_id=event_id)


def penalty(
    kind: PenaltyKind | str,
    at: datetime,
    *,
    stream: str = "environment",
    finding_ids: list[UUID] | None = None,
    **kw: Any,
) -> e.PenaltyImposed:
    payload: dict[str, Any] = {
        "kind": kind,
        "legal_basis": "环境保护法",
        "finding_ids": finding_ids or [],
    }
    if PenaltyKind(kind) is PenaltyKind.FINE:
        payload["amount_cny"] = 200_000
    return make(e.PenaltyImposed, stream, payload, at, **kw)


def rectify(
    at: datetime,
    *,
    finding_ids: list[UUID] | None = None,
    penalty_ids: list[UUID] | None = None,
    stream: str = "environment",
    **kw: Any,
) -> e.RectificationVerified:
    payload = {
        "finding_ids": finding_ids or [],
        "penalty_ids": penalty_ids or [],
        "description": "rectification description",
    }
    return make(e.RectificationVerified, stream, payload, at, **kw)


def illegal_steel(at: datetime, *, stream: str = "miit", **kw: Any) -> e.IllegalSteelConfirmed:
    payload = {
        "furnace_type": "medium_frequency_induction",
        "furnace_count": 2,
        "capacity_tonnes": 30_000,
        "description": "illegal steel description",
    }
    return make(e.IllegalSteelConfirmed, stream, payload, at, **kw)


def equipment(
    equipment_id: str,
    product: Product | str,
    tonnes: float,
    at: datetime,
    *,
    kind: EquipmentKind | str | None = None,
    **kw: Any,
) -> e.EquipmentRegistered:
    kind = EquipmentKind(
        kind or ("blast_furnace" if Product(product) is Product.IRON else "converter")
    )
    unit = "m3" if kind is EquipmentKind.BLAST_FURNACE else "t"
    payload = {
        "equipment_id": equipment_id,
        "kind": kind,
        "size": 450 if unit == "m3" else 80,
        "size_unit": unit,
        "product": product,
        "annual_capacity_tonnes": tonnes,
    }
    return make(e.EquipmentRegistered, "miit", payload, at, **kw)


def dismantle(equipment_id: str, at: datetime, **kw: Any) -> e.EquipmentDismantled:
    payload = {"equipment_id": equipment_id, "verified_by": "市工信局"}
    return make(e.EquipmentDismantled, "miit", payload, at, **kw)


def target(
    target_id: str,
    at: datetime,
    deadline: datetime,
    *,
    iron: float = 0,
    steel: float = 0,
    **kw: Any,
) -> e.CapacityReductionTargetSet:
    payload = {
        "target_id": target_id,
        "iron_tonnes": iron,
        "steel_tonnes": steel,
        "deadline": deadline,
        "basis": "石家庄市压减钢铁产能工作方案",
    }
    return make(e.CapacityReductionTargetSet, "miit", payload, at, **kw)


def overdue(target_id: str, at: datetime, **kw: Any) -> e.CapacityReductionOverdue:
    payload = {
        "target_id": target_id,
        "deadline": at,
        "iron_tonnes_missing": 1.0,
        "steel_tonnes_missing": 0.0,
    }
    return make(e.CapacityReductionOverdue, "miit", payload, at, **kw)


def replacement(
    project_id: str,
    product: Product | str,
    new: float,
    retired: float,
    at: datetime,
    *,
    retired_equipment_ids: list[str] | None = None,
    **kw: Any,
) -> e.CapacityReplacementApproved:
    payload = {
        "project_id": project_id,
        "product": product,
        "new_capacity_tonnes": new,
        "retired_capacity_tonnes": retired,
        "retired_equipment_ids": retired_equipment_ids or [],
    }
    return make(e.CapacityReplacementApproved, "miit", payload, at, **kw)


def registered(
    at: datetime, *, event_id: UUID | None = None, **changes: Any
) -> e.EnterpriseRegistered:
    payload = {
        "name": "河北丰达钢铁有限公司",
        "legal_representative": "张三",
        "registered_address": "河北省石家庄市",
        "business_scope": "炼铁；炼钢",
        "industry": "steel",
        **changes,
    }
    return make(e.EnterpriseRegistered, "market", payload, at, event_id=event_id)


def updated(at: datetime, *, event_id: UUID | None = None, **changes: Any) -> e.EnterpriseUpdated:
    return make(e.EnterpriseUpdated, "market", changes, at, event_id=event_id)


def tipoff_received(tipoff_id: str, at: datetime, **kw: Any) -> e.TipOffReceived:
    payload = {
        "tipoff_id": tipoff_id,
        "channel": "举报平台",
        "summary": "tip-off summary",
        "dimension": "product_quality",
    }
    return make(e.TipOffReceived, "steel_association", payload, at, **kw)


def tipoff_verified(
    tipoff_id: str,
    at: datetime,
    *,
    substantiated: bool = True,
    finding_ids: list[UUID] | None = None,
    **kw: Any,
) -> e.TipOffVerified:
    payload = {
        "tipoff_id": tipoff_id,
        "substantiated": substantiated,
        "finding_ids": finding_ids or [],
    }
    return make(e.TipOffVerified, "steel_association", payload, at, **kw)


def tipoff_closed(tipoff_id: str, at: datetime, **kw: Any) -> e.TipOffClosed:
    payload = {"tipoff_id": tipoff_id, "outcome": "查处完毕"}
    return make(e.TipOffClosed, "steel_association", payload, at, **kw)


def anomaly(at: datetime, **kw: Any) -> e.PowerAnomalyDetected:
    payload = {
        "kind": AnomalyKind.NIGHT_USE,
        "window_start": at - timedelta(days=7),
        "window_end": at,
        "observed": 0.8,
        "baseline": 0.3,
    }
    return make(e.PowerAnomalyDetected, "power", payload, at, **kw)


def power_reading(at: datetime, **kw: Any) -> e.PowerReading:
    payload = {
        "meter_id": "M1",
        "period_start": at - timedelta(hours=1),
        "period_end": at,
        "kwh": 1200.0,
        "night_share": 0.7,
    }
    return make(e.PowerReading, "power", payload, at, **kw)


def case_opened(case_id: str, at: datetime, **kw: Any) -> e.CaseOpened:
    payload = {"case_id": case_id, "title": "联合调查", "reason": "case reason"}
    return make(e.CaseOpened, "taskforce", payload, at, **kw)


def case_assigned(case_id: str, at: datetime, **kw: Any) -> e.CaseAssigned:
    payload = {"case_id": case_id, "assignee": "officer-2", "agencies": ["miit", "environment"]}
    return make(e.CaseAssigned, "taskforce", payload, at, **kw)


def case_escalated(case_id: str, at: datetime, **kw: Any) -> e.CaseEscalated:
    payload = {"case_id": case_id, "level": "国务院", "reason": "escalation reason"}
    return make(e.CaseEscalated, "taskforce", payload, at, **kw)


def case_closed(case_id: str, at: datetime, **kw: Any) -> e.CaseClosed:
    return make(
        e.CaseClosed, "taskforce", {"case_id": case_id, "outcome": "case outcome"}, at, **kw
    )


def repair(at: datetime, *, rule_id: str | None = None, **kw: Any) -> e.CreditRepairApproved:
    payload = {"rule_id": rule_id, "reason": "repair reason"}
    return make(e.CreditRepairApproved, "credit", payload, at, **kw)


# --- hypothesis -----------------------------------------------------------------------

_EQUIPMENT_IDS = ["BF1", "BF2", "CV1", "CV2", "EAF1"]
_TONNES = [100_000.0, 250_000.0, 520_000.0]
_HORIZON_DAYS = 1500  # about four years: expiries and repairs happen inside it
_SEVERITIES = list(Severity)
_DIMENSIONS = list(Dimension)


@st.composite
def moments(draw: st.DrawFn, after: datetime | None = None) -> datetime:
    """A time on a coarse grid (whole days, sometimes noon), in UTC or Beijing time."""
    if after is None:
        t = day(draw(st.integers(0, _HORIZON_DAYS)), draw(st.sampled_from([0, 0, 12])))
    else:
        t = after + timedelta(days=draw(st.integers(0, 400)), hours=draw(st.sampled_from([0, 6])))
    return t.astimezone(CST) if draw(st.booleans()) else t


class _History:
    """The events drawn so far, so later ones can refer to earlier ones."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw
        self.salt = draw(st.integers(0, 2**32 - 1))
        self.events: list[Event] = []
        self.findings: list[e.FindingRecorded] = []
        self.penalties: list[e.PenaltyImposed] = []

    def next_id(self) -> UUID:
        return UUID(int=(self.salt << 64) | (len(self.events) + 1))

    def unknown_id(self, n: int) -> UUID:
        """An id no event in the set has: a reference to a missing event."""
        return UUID(int=(self.salt << 64) | (1 << 40) | n)

    def some_findings(self, max_size: int) -> list[UUID]:
        if not self.findings:
            return []
        picked = self.draw(st.lists(st.sampled_from(self.findings), max_size=max_size))
        return [f.event_id for f in picked]

    def add_finding(self, eid: UUID) -> Event:
        d = self.draw
        f = finding(
            d(st.sampled_from(AGENCIES)),
            d(st.sampled_from(_SEVERITIES)),
            d(moments()),
            dimension=d(st.sampled_from(_DIMENSIONS)),
            event_id=eid,
        )
        self.findings.append(f)
        return f

    def add_correction(self, eid: UUID, retraction: bool) -> Event:
        d = self.draw
        # Mostly a known finding, sometimes one that is not in the set.
        known = bool(self.findings) and d(st.integers(0, 4)) > 0
        ref = d(st.sampled_from(self.findings)) if known else None
        fid = ref.event_id if ref else self.unknown_id(1)
        at = d(moments(after=ref.occurred_at)) if ref else d(moments())
        stream = ref.stream if ref else "quality"
        if retraction:
            return retract(fid, at, stream=stream, event_id=eid)
        changes: list[dict[str, Any]] = [
            {"severity": d(st.sampled_from(_SEVERITIES))},
            {"dimension": d(st.sampled_from(_DIMENSIONS))},
            {"description": "amended description"},
        ]
        return amend(fid, at, stream=stream, event_id=eid, **d(st.sampled_from(changes)))

    def add_penalty(self, eid: UUID) -> Event:
        d = self.draw
        p = penalty(
            d(st.sampled_from(list(PenaltyKind))),
            d(moments()),
            stream=d(st.sampled_from(AGENCIES)),
            finding_ids=self.some_findings(2),
            event_id=eid,
        )
        self.penalties.append(p)
        return p

    def add_rectification(self, eid: UUID) -> Event:
        d = self.draw
        fids = self.some_findings(2)
        pids = (
            [p.event_id for p in d(st.lists(st.sampled_from(self.penalties), max_size=1))]
            if self.penalties
            else []
        )
        if not fids and not pids:
            fids = [self.unknown_id(2)]
        return rectify(d(moments()), finding_ids=fids, penalty_ids=pids, event_id=eid)

    def add_other(self, kind: str, eid: UUID) -> Event:
        d = self.draw
        at = d(moments())
        if kind == "illegal_steel":
            stream = d(st.sampled_from(["miit", "quality", "taskforce"]))
            return illegal_steel(at, stream=stream, event_id=eid)
        if kind == "equipment":
            return equipment(
                d(st.sampled_from(_EQUIPMENT_IDS)),
                d(st.sampled_from(list(Product))),
                d(st.sampled_from(_TONNES)),
                at,
                event_id=eid,
            )
        if kind == "dismantle":
            return dismantle(d(st.sampled_from([*_EQUIPMENT_IDS, "GHOST"])), at, event_id=eid)
        if kind == "target":
            return target(
                d(st.sampled_from(["T1", "T2"])),
                at,
                at + timedelta(days=d(st.sampled_from([-10, 0, 90, 365]))),
                iron=d(st.sampled_from([0.0, 100_000.0, 520_000.0])),
                steel=d(st.sampled_from([250_000.0, 350_000.0])),
                event_id=eid,
            )
        if kind == "overdue":
            return overdue(d(st.sampled_from(["T1", "T2", "T9"])), at, event_id=eid)
        if kind == "replacement":
            return replacement(
                d(st.sampled_from(["P1", "P2"])),
                d(st.sampled_from(list(Product))),
                d(st.sampled_from(_TONNES)),
                d(st.sampled_from(_TONNES)),
                at,
                retired_equipment_ids=d(st.lists(st.sampled_from(_EQUIPMENT_IDS), max_size=1)),
                event_id=eid,
            )
        if kind == "tipoff":
            tid = d(st.sampled_from(["TO-1", "TO-2"]))
            stage = d(st.sampled_from(["received", "verified", "closed"]))
            if stage == "received":
                return tipoff_received(tid, at, event_id=eid)
            if stage == "verified":
                found = self.some_findings(1)
                return tipoff_verified(tid, at, finding_ids=found, event_id=eid)
            return tipoff_closed(tid, at, event_id=eid)
        if kind == "case":
            cid = d(st.sampled_from(["C-1", "C-2"]))
            action = d(st.sampled_from(["opened", "opened", "assigned", "escalated", "closed"]))
            if action == "opened":
                return case_opened(cid, at, event_id=eid)
            if action == "assigned":
                return case_assigned(cid, at, event_id=eid)
            if action == "escalated":
                return case_escalated(cid, at, event_id=eid)
            return case_closed(cid, at, event_id=eid)
        if kind == "repair":
            rule = d(st.sampled_from([None, "R1", "R2", "R3", "R4", "R5"]))
            return repair(at, rule_id=rule, event_id=eid)
        if kind == "registered":
            return registered(at, event_id=eid)
        if kind == "updated":
            return updated(at, name=d(st.sampled_from(["新名称一", "新名称二"])), event_id=eid)
        return anomaly(at, event_id=eid)


# Findings are the most common event; everything else appears now and then.
_KINDS = [
    *["finding"] * 5,
    "amend",
    "retract",
    "penalty",
    "rectify",
    "illegal_steel",
    "equipment",
    "equipment",
    "dismantle",
    "dismantle",
    "target",
    "overdue",
    "replacement",
    "tipoff",
    "case",
    "repair",
    "registered",
    "updated",
    "anomaly",
]


@st.composite
def enterprise_events(draw: st.DrawFn, max_size: int = 30) -> list[Event]:
    """A realistic event set of one enterprise (all naming `USCC`), each event once."""
    h = _History(draw)
    for _ in range(draw(st.integers(0, max_size))):
        kind = draw(st.sampled_from(_KINDS))
        eid = h.next_id()
        if kind == "finding":
            ev = h.add_finding(eid)
        elif kind in ("amend", "retract"):
            ev = h.add_correction(eid, retraction=kind == "retract")
        elif kind == "penalty":
            ev = h.add_penalty(eid)
        elif kind == "rectify":
            ev = h.add_rectification(eid)
        else:
            ev = h.add_other(kind, eid)
        h.events.append(ev)
    return h.events


def evaluation_times() -> st.SearchStrategy[datetime]:
    """Evaluation times from before the first event to long after the last."""
    return st.builds(day, st.integers(-10, _HORIZON_DAYS + 1500), st.sampled_from([0, 1, 12]))


@st.composite
def shuffled_with_duplicates(draw: st.DrawFn, events: list[Event]) -> list[Event]:
    """The same events in another order, some of them several times."""
    extra = draw(st.lists(st.sampled_from(events), max_size=len(events))) if events else []
    return draw(st.permutations([*events, *extra]))


def without_finding(events: list[Event], finding_id: UUID) -> list[Event]:
    """The events as if the finding, its amendments and its retractions had never been made."""
    return [
        ev
        for ev in events
        if ev.event_id != finding_id
        and not (
            isinstance(ev, e.FindingAmended | e.FindingRetracted)
            and ev.payload.finding_id == finding_id
        )
    ]
