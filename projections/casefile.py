"""The joint case file of one enterprise (联合调查案卷): a pure fold of its events.

`build_case_file(events)` gives the same `CaseFile` for any order and any repetition of the same
events: they are deduplicated by `event_id` and read in the canonical order (occurred_at,
recorded_at, event_id). Every derived value names the events it comes from (`source_event_ids`),
so each fact on the task force's page can be traced back to what an agency published.

Corrections never delete: an amendment (更正) changes the finding's current values, a retraction
(撤销) makes it count as never made (it is listed apart, for the audit trail, and appears in no
status or count). References to events that are not in the set are kept as unmatched ids, never an
error: events from different streams arrive in any order.

Raw power readings are not part of the case file; only the anomalies the detector derives from
them are (DESIGN §4, cost of recomputing).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from events import envelope as e
from events.dimensions import DIMENSION_NAMES, SEVERITY_NAMES, Dimension, Severity
from events.payloads import (
    AnomalyKind,
    EnterpriseRegisteredPayload,
    EquipmentKind,
    FindingAmendedPayload,
    FurnaceType,
    Industry,
    PenaltyKind,
    Product,
    SizeUnit,
)
from events.registry import EVENT_TYPES, Event
from events.streams import STREAMS, Stream
from projections.asof import canonical

Ids = tuple[UUID, ...]
T = TypeVar("T")

# Tonnages are floats: sums of many of them are compared with this tolerance (one gram).
TONNE_EPSILON = 1e-6


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- enterprise 企业 ------------------------------------------------------------------


class Region(Model):
    """The administrative division (行政区划代码, GB/T 2260) in USCC positions 3–8."""

    code: str
    province_code: str  # 省级: first two digits + 0000
    city_code: str  # 地级: first four digits + 00
    county_code: str  # 县级: all six digits


class Fact(Model, Generic[T]):
    """One registration fact and the event that set its current value."""

    value: T
    source_event_ids: Ids


class EnterpriseFacts(Model):
    """Registration facts (企业登记信息) from `EnterpriseRegistered` / `EnterpriseUpdated`, applied
    in order; a later event overrides only the fields it names."""

    name: Fact[str] | None = None
    legal_representative: Fact[str] | None = None
    registered_address: Fact[str] | None = None
    business_scope: Fact[str] | None = None
    industry: Fact[Industry] | None = None
    registered_on: Fact[date] | None = None
    source_event_ids: Ids = ()


# --- timeline 时间线 ------------------------------------------------------------------


class TimelineEntry(Model):
    event_id: UUID
    event_type: str
    event_type_zh: str
    stream: Stream
    agency_zh: str
    agency_en: str
    occurred_at: datetime
    recorded_at: datetime
    summary_zh: str
    summary_en: str


# --- findings 检查发现 ----------------------------------------------------------------


class FindingStatus(StrEnum):
    OPEN = "open"  # 未整改
    RECTIFIED = "rectified"  # 已整改


class CorrectionNote(Model):
    """An amendment (更正) or retraction (撤销) of a finding."""

    event_id: UUID
    event_type: str
    stream: Stream
    occurred_at: datetime
    recorded_at: datetime
    reason: str
    changed_fields: tuple[str, ...] = ()


class Finding(Model):
    """A finding with its amendments applied: `severity`, `dimension`, ... are current values."""

    finding_id: UUID
    stream: Stream
    agency_zh: str
    agency_en: str
    dimension: Dimension
    severity: Severity
    violation_code: str
    description: str
    evidence: tuple[str, ...]
    location: str | None
    occurred_at: datetime
    recorded_at: datetime
    status: FindingStatus
    rectified_at: datetime | None
    rectification_ids: Ids
    penalty_ids: Ids
    amendments: tuple[CorrectionNote, ...]
    source_event_ids: Ids


class RetractedFinding(Model):
    """A withdrawn finding, kept for the audit trail only: it is in no status and no count."""

    finding: Finding
    retracted_at: datetime
    retractions: tuple[CorrectionNote, ...]
    source_event_ids: Ids


class OrphanCorrection(Model):
    """An amendment or retraction naming a finding that is not (or not yet) in the event set."""

    correction: CorrectionNote
    finding_id: UUID
    source_event_ids: Ids


class DimensionState(StrEnum):
    CLEAR = "clear"  # 无发现
    OPEN = "open"  # 有未整改发现
    RECTIFIED = "rectified"  # 发现均已整改


class DimensionStatus(Model):
    dimension: Dimension
    name_zh: str
    name_en: str
    status: DimensionState
    highest_open_severity: Severity | None
    open_finding_ids: Ids
    rectified_finding_ids: Ids
    source_event_ids: Ids


class SeverityCount(Model):
    severity: Severity
    open: int
    rectified: int
    source_event_ids: Ids


class FindingCounts(Model):
    """Counts of findings that stand (retracted ones are never counted)."""

    total: int
    open: int
    rectified: int
    by_severity: tuple[SeverityCount, ...]
    source_event_ids: Ids


# --- enforcement 执法 -----------------------------------------------------------------


class Penalty(Model):
    penalty_id: UUID
    stream: Stream
    agency_zh: str
    agency_en: str
    kind: PenaltyKind
    amount_cny: float | None
    legal_basis: str
    description: str | None
    finding_ids: Ids  # the findings it names that stand
    unmatched_finding_ids: Ids  # named but unknown or retracted
    occurred_at: datetime
    recorded_at: datetime
    rectified_at: datetime | None
    rectification_ids: Ids
    source_event_ids: Ids


class Rectification(Model):
    rectification_id: UUID
    stream: Stream
    agency_zh: str
    agency_en: str
    finding_ids: Ids
    penalty_ids: Ids
    unmatched_ids: Ids
    description: str
    occurred_at: datetime
    recorded_at: datetime
    source_event_ids: Ids


class IllegalSteel(Model):
    """地条钢 confirmed (中频炉/工频炉)."""

    event_id: UUID
    stream: Stream
    agency_zh: str
    agency_en: str
    furnace_type: FurnaceType
    furnace_count: int
    capacity_tonnes: float
    description: str
    occurred_at: datetime
    recorded_at: datetime
    source_event_ids: Ids


# --- tip-offs 举报 and power 用电 ------------------------------------------------------


class TipOffState(StrEnum):
    RECEIVED = "received"  # 接到
    VERIFIED = "verified"  # 核实
    CLOSED = "closed"  # 查处


class TipOff(Model):
    """接到一起、核实一起、查处一起: the furthest stage reached is the state."""

    tipoff_id: str
    state: TipOffState
    channel: str | None
    summary: str | None
    dimension: Dimension | None
    received_at: datetime | None
    verified_at: datetime | None
    substantiated: bool | None
    finding_ids: Ids
    closed_at: datetime | None
    outcome: str | None
    penalty_ids: Ids
    source_event_ids: Ids


class PowerAnomaly(Model):
    event_id: UUID
    kind: AnomalyKind
    window_start: datetime
    window_end: datetime
    observed: float
    baseline: float
    reading_count: int
    description: str | None
    occurred_at: datetime
    source_event_ids: Ids


# --- capacity ledger 一企一档 ---------------------------------------------------------


class EquipmentState(StrEnum):
    ACTIVE = "active"
    DISMANTLED = "dismantled"


class Equipment(Model):
    equipment_id: str
    kind: EquipmentKind
    size: float
    size_unit: SizeUnit
    product: Product
    annual_capacity_tonnes: float
    registered_at: datetime
    state: EquipmentState
    dismantled_at: datetime | None
    verified_by: str | None
    source_event_ids: Ids


class UnregisteredDismantling(Model):
    """A dismantling of equipment the ledger does not know: its tonnage cannot be counted."""

    event_id: UUID
    equipment_id: str
    occurred_at: datetime
    source_event_ids: Ids


class ProductTotal(Model):
    product: Product
    active_tonnes: float
    dismantled_tonnes: float
    source_event_ids: Ids


class KindTotal(Model):
    kind: EquipmentKind
    active_count: int
    active_tonnes: float
    dismantled_count: int
    dismantled_tonnes: float
    source_event_ids: Ids


class Allocation(Model):
    """Dismantled tonnes credited to one target or replacement (each tonne counts once)."""

    dismantling_id: UUID
    equipment_id: str
    product: Product
    tonnes: float
    at: datetime


class ReductionTarget(Model):
    """A 压减产能 target and its progress.

    `met_at` is when the dismantled tonnes credited to it reached both the iron and the steel
    tonnage; `met_by_deadline` is true when that was at or before the deadline.
    """

    target_id: str
    set_event_ids: Ids  # every setting of this target id; the last one's values apply
    streams: tuple[Stream, ...]
    iron_tonnes: float
    steel_tonnes: float
    deadline: datetime
    set_at: datetime
    basis: str
    iron_dismantled_tonnes: float
    steel_dismantled_tonnes: float
    met: bool
    met_at: datetime | None
    met_by_deadline: bool
    allocations: tuple[Allocation, ...]
    overdue_notice_ids: Ids
    source_event_ids: Ids


class Replacement(Model):
    """A 产能置换 approval; `exceeds_retired` flags new capacity above retired capacity (not
    等量或减量), and `made_up_at` when later dismantling covered the excess."""

    project_id: str
    approval_event_ids: Ids  # every approval of this project id; the last one's values apply
    streams: tuple[Stream, ...]
    product: Product
    new_capacity_tonnes: float
    retired_capacity_tonnes: float
    exceeds_retired: bool
    excess_tonnes: float
    made_up_tonnes: float
    made_up_at: datetime | None
    retired_equipment_ids: tuple[str, ...]
    approved_at: datetime
    allocations: tuple[Allocation, ...]
    source_event_ids: Ids


class CapacityLedger(Model):
    equipment: tuple[Equipment, ...]
    unregistered_dismantlings: tuple[UnregisteredDismantling, ...]
    by_product: tuple[ProductTotal, ...]
    by_kind: tuple[KindTotal, ...]
    targets: tuple[ReductionTarget, ...]
    replacements: tuple[Replacement, ...]
    unmatched_overdue_notice_ids: Ids


# --- task force cases 案件 ------------------------------------------------------------


class CaseActionKind(StrEnum):
    OPENED = "opened"  # 立案
    ASSIGNED = "assigned"  # 分派
    ESCALATED = "escalated"  # 升级督办
    CLOSED = "closed"  # 结案


class CaseAction(Model):
    event_id: UUID
    action: CaseActionKind
    occurred_at: datetime
    recorded_at: datetime
    actor: str
    detail: str  # title, assignee, escalation level or outcome
    agencies: tuple[str, ...] = ()
    cited_event_ids: Ids = ()


class CaseState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class CaseRecord(Model):
    """One task-force case; its state is set by the last open or close action."""

    case_id: str
    title: str | None
    state: CaseState
    opened_at: datetime | None
    closed_at: datetime | None
    assignee: str | None
    escalation_level: str | None
    outcome: str | None
    actions: tuple[CaseAction, ...]
    source_event_ids: Ids


class CreditRepair(Model):
    event_id: UUID
    stream: Stream
    rule_id: str | None
    reason: str
    occurred_at: datetime
    recorded_at: datetime


class AgencyInvolvement(Model):
    stream: Stream
    name_zh: str
    name_en: str
    event_count: int
    finding_count: int  # findings that stand
    first_occurred_at: datetime
    last_occurred_at: datetime
    source_event_ids: Ids


class CaseFile(Model):
    uscc: str
    region: Region
    enterprise: EnterpriseFacts
    event_count: int
    last_occurred_at: datetime | None
    last_recorded_at: datetime | None
    timeline: tuple[TimelineEntry, ...]
    dimensions: tuple[DimensionStatus, ...]
    finding_counts: FindingCounts
    findings: tuple[Finding, ...]
    retracted_findings: tuple[RetractedFinding, ...]
    orphan_corrections: tuple[OrphanCorrection, ...]
    penalties: tuple[Penalty, ...]
    rectifications: tuple[Rectification, ...]
    illegal_steel: tuple[IllegalSteel, ...]
    tipoffs: tuple[TipOff, ...]
    power_anomalies: tuple[PowerAnomaly, ...]
    capacity: CapacityLedger
    cases: tuple[CaseRecord, ...]
    credit_repairs: tuple[CreditRepair, ...]
    agencies: tuple[AgencyInvolvement, ...]


# --- helpers --------------------------------------------------------------------------


def utc(t: datetime) -> datetime:
    """Every time in a read model is in UTC, so equal instants serialise equally."""
    return t if t.tzinfo is UTC else t.astimezone(UTC)


def region_of(uscc: str) -> Region:
    code = uscc[2:8]
    return Region(
        code=code,
        province_code=code[:2] + "0000",
        city_code=code[:4] + "00",
        county_code=code,
    )


def _title_zh(cls: type[e.Envelope]) -> str:
    extra = cls.model_config.get("json_schema_extra")
    if isinstance(extra, dict):
        title = extra.get("x-title-zh")
        if isinstance(title, str):
            return title
    return cls.__name__


_TYPE_ZH = {name: _title_zh(cls) for name, cls in EVENT_TYPES.items()}

_PENALTY_ZH = {
    PenaltyKind.FINE: "罚款",
    PenaltyKind.PRODUCTION_HALT: "责令停产",
    PenaltyKind.DISCHARGE_PERMIT_REVOKED: "吊销排污许可证",
    PenaltyKind.PRODUCTION_LICENCE_WITHDRAWN: "撤回生产许可证",
    PenaltyKind.SAFETY_LICENCE_WITHDRAWN: "撤回安全生产许可证",
    PenaltyKind.LAND_APPROVAL_REVOKED: "撤销用地审批",
    PenaltyKind.BUSINESS_LICENCE_REVOKED: "吊销营业执照",
    PenaltyKind.POWER_CUT: "断电",
    PenaltyKind.EQUIPMENT_SEIZED: "查封设备",
    PenaltyKind.OTHER: "其他",
}
_EQUIPMENT_ZH = {
    EquipmentKind.BLAST_FURNACE: "高炉",
    EquipmentKind.CONVERTER: "转炉",
    EquipmentKind.ELECTRIC_ARC_FURNACE: "电炉",
    EquipmentKind.INDUCTION_FURNACE: "中频炉/工频炉",
    EquipmentKind.OTHER: "其他设备",
}
_FURNACE_ZH = {FurnaceType.MEDIUM_FREQUENCY: "中频炉", FurnaceType.POWER_FREQUENCY: "工频炉"}
_PRODUCT_ZH = {Product.IRON: "炼铁", Product.STEEL: "炼钢"}
_ANOMALY_ZH = {
    AnomalyKind.NIGHT_USE: "夜间用电明显高于白天",
    AnomalyKind.SUDDEN_JUMP: "用电量突增",
    AnomalyKind.LARGE_SWING: "用电量大幅波动",
}


def _t(x: float) -> str:
    """Tonnes for a summary: no decimals when whole."""
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.2f}"


def _short(u: UUID) -> str:
    return str(u)[:8]


def _summary(event: Event) -> tuple[str, str]:
    """A one-line summary in Chinese and English, from structured fields only (no free text)."""
    match event:
        case e.FindingRecorded(payload=pl):
            dim_zh, dim_en = DIMENSION_NAMES[pl.dimension]
            return (
                f"{SEVERITY_NAMES[pl.severity][0]}问题 · {dim_zh} · {pl.violation_code}",
                f"{pl.severity.value} finding on {dim_en} ({pl.violation_code})",
            )
        case e.FindingAmended(payload=pl):
            changed = ", ".join(_amended_fields(pl))
            return (
                f"更正发现 {_short(pl.finding_id)}：{changed}",
                f"amends finding {_short(pl.finding_id)}: {changed}",
            )
        case e.FindingRetracted(payload=pl):
            return f"撤销发现 {_short(pl.finding_id)}", f"retracts finding {_short(pl.finding_id)}"
        case e.PenaltyImposed(payload=pl):
            fine_zh = f"，{_t(pl.amount_cny)}元" if pl.amount_cny is not None else ""
            fine_en = f", CNY {_t(pl.amount_cny)}" if pl.amount_cny is not None else ""
            return (
                f"行政处罚：{_PENALTY_ZH[pl.kind]}{fine_zh}",
                f"penalty: {pl.kind.value}{fine_en}",
            )
        case e.RectificationVerified(payload=pl):
            nf, np_ = len(pl.finding_ids), len(pl.penalty_ids)
            return (
                f"整改验收：发现{nf}项，处罚{np_}项",
                f"rectification verified: {nf} finding(s), {np_} penalty(ies)",
            )
        case e.IllegalSteelConfirmed(payload=pl):
            return (
                f"地条钢认定：{_FURNACE_ZH[pl.furnace_type]}{pl.furnace_count}台，"
                f"产能{_t(pl.capacity_tonnes)}吨",
                f"illegal steel confirmed: {pl.furnace_count} {pl.furnace_type.value} "
                f"furnace(s), {_t(pl.capacity_tonnes)} t/year",
            )
        case e.EquipmentRegistered(payload=pl):
            return (
                f"设备登记：{pl.equipment_id} {_EQUIPMENT_ZH[pl.kind]} "
                f"{pl.size:g}{pl.size_unit.value}，"
                f"{_PRODUCT_ZH[pl.product]}{_t(pl.annual_capacity_tonnes)}吨/年",
                f"equipment registered: {pl.equipment_id} {pl.kind.value} "
                f"{pl.size:g} {pl.size_unit.value}, {pl.product.value} "
                f"{_t(pl.annual_capacity_tonnes)} t/year",
            )
        case e.EquipmentDismantled(payload=pl):
            return (
                f"设备拆除：{pl.equipment_id}（{pl.verified_by}验收）",
                f"equipment dismantled: {pl.equipment_id} (verified by {pl.verified_by})",
            )
        case e.CapacityReductionTargetSet(payload=pl):
            day = utc(pl.deadline).date().isoformat()
            return (
                f"压减目标 {pl.target_id}：炼铁{_t(pl.iron_tonnes)}吨，"
                f"炼钢{_t(pl.steel_tonnes)}吨，期限{day}",
                f"reduction target {pl.target_id}: iron {_t(pl.iron_tonnes)} t, "
                f"steel {_t(pl.steel_tonnes)} t, by {day}",
            )
        case e.CapacityReductionOverdue(payload=pl):
            return (
                f"压减目标 {pl.target_id} 逾期未完成",
                f"reduction target {pl.target_id} overdue",
            )
        case e.CapacityReplacementApproved(payload=pl):
            return (
                f"产能置换 {pl.project_id}：新建{_t(pl.new_capacity_tonnes)}吨，"
                f"退出{_t(pl.retired_capacity_tonnes)}吨",
                f"capacity replacement {pl.project_id}: new {_t(pl.new_capacity_tonnes)} t, "
                f"retired {_t(pl.retired_capacity_tonnes)} t",
            )
        case e.EnterpriseRegistered(payload=pl):
            return f"企业登记：{pl.name}", f"enterprise registered: {pl.name}"
        case e.EnterpriseUpdated(payload=pl):
            changed = ", ".join(k for k, v in pl if v is not None)
            return f"变更登记：{changed}", f"registration updated: {changed}"
        case e.TipOffReceived(payload=pl):
            return (
                f"接到举报 {pl.tipoff_id}（{pl.channel}）",
                f"tip-off {pl.tipoff_id} received ({pl.channel})",
            )
        case e.TipOffVerified(payload=pl):
            verdict_zh = "属实" if pl.substantiated else "不属实"
            verdict_en = "substantiated" if pl.substantiated else "not substantiated"
            return (
                f"核实举报 {pl.tipoff_id}：{verdict_zh}",
                f"tip-off {pl.tipoff_id} verified: {verdict_en}",
            )
        case e.TipOffClosed(payload=pl):
            return f"查处举报 {pl.tipoff_id}", f"tip-off {pl.tipoff_id} closed"
        case e.PowerAnomalyDetected(payload=pl):
            return f"用电异常：{_ANOMALY_ZH[pl.kind]}", f"power anomaly: {pl.kind.value}"
        case e.CaseOpened(payload=pl):
            return f"立案 {pl.case_id}：{pl.title}", f"case {pl.case_id} opened: {pl.title}"
        case e.CaseAssigned(payload=pl):
            return (
                f"分派 {pl.case_id} → {pl.assignee}",
                f"case {pl.case_id} assigned to {pl.assignee}",
            )
        case e.CaseEscalated(payload=pl):
            return (
                f"升级督办 {pl.case_id}：{pl.level}",
                f"case {pl.case_id} escalated to {pl.level}",
            )
        case e.CaseClosed(payload=pl):
            return f"结案 {pl.case_id}", f"case {pl.case_id} closed"
        case e.CreditRepairApproved(payload=pl):
            rule = f"（{pl.rule_id}）" if pl.rule_id else ""
            rule_en = f" ({pl.rule_id})" if pl.rule_id else ""
            return f"信用修复{rule}", f"credit repair approved{rule_en}"
        case _:
            return event.event_type, event.event_type


_AMENDABLE = ("dimension", "severity", "violation_code", "description", "evidence")


def _amended_fields(pl: FindingAmendedPayload) -> tuple[str, ...]:
    return tuple(name for name in _AMENDABLE if getattr(pl, name) is not None)


def _note(event: e.FindingAmended | e.FindingRetracted) -> CorrectionNote:
    changed = _amended_fields(event.payload) if isinstance(event, e.FindingAmended) else ()
    return CorrectionNote(
        event_id=event.event_id,
        event_type=event.event_type,
        stream=event.stream,
        occurred_at=utc(event.occurred_at),
        recorded_at=utc(event.recorded_at),
        reason=event.payload.reason,
        changed_fields=changed,
    )


def _agency(stream: Stream) -> tuple[str, str]:
    info = STREAMS[stream]
    return info.name_zh, info.name_en


# --- the fold -------------------------------------------------------------------------


@dataclass
class _Collected:
    """Events sorted into buckets in one pass; references are resolved afterwards, so an
    amendment or rectification read before its finding still finds it."""

    registrations: list[e.EnterpriseRegistered | e.EnterpriseUpdated] = field(default_factory=list)
    findings: dict[UUID, e.FindingRecorded] = field(default_factory=dict)
    amendments: dict[UUID, list[e.FindingAmended]] = field(default_factory=dict)
    retractions: dict[UUID, list[e.FindingRetracted]] = field(default_factory=dict)
    penalties: list[e.PenaltyImposed] = field(default_factory=list)
    rectifications: list[e.RectificationVerified] = field(default_factory=list)
    illegal_steel: list[e.IllegalSteelConfirmed] = field(default_factory=list)
    equipment: dict[str, list[e.EquipmentRegistered]] = field(default_factory=dict)
    dismantlings: list[e.EquipmentDismantled] = field(default_factory=list)
    targets: dict[str, list[e.CapacityReductionTargetSet]] = field(default_factory=dict)
    overdue: dict[str, list[e.CapacityReductionOverdue]] = field(default_factory=dict)
    replacements: dict[str, list[e.CapacityReplacementApproved]] = field(default_factory=dict)
    tipoffs: dict[str, list[e.TipOffReceived | e.TipOffVerified | e.TipOffClosed]] = field(
        default_factory=dict
    )
    anomalies: list[e.PowerAnomalyDetected] = field(default_factory=list)
    cases: dict[str, list[e.CaseOpened | e.CaseAssigned | e.CaseEscalated | e.CaseClosed]] = field(
        default_factory=dict
    )
    repairs: list[e.CreditRepairApproved] = field(default_factory=list)
    by_stream: dict[Stream, list[Event]] = field(default_factory=dict)
    timeline: list[TimelineEntry] = field(default_factory=list)


def _collect(ordered: list[Event], with_timeline: bool) -> _Collected:
    c = _Collected()
    for ev in ordered:
        match ev:
            case e.FindingRecorded():
                c.findings[ev.event_id] = ev
            case e.FindingAmended():
                c.amendments.setdefault(ev.payload.finding_id, []).append(ev)
            case e.FindingRetracted():
                c.retractions.setdefault(ev.payload.finding_id, []).append(ev)
            case e.PenaltyImposed():
                c.penalties.append(ev)
            case e.RectificationVerified():
                c.rectifications.append(ev)
            case e.IllegalSteelConfirmed():
                c.illegal_steel.append(ev)
            case e.EquipmentRegistered():
                c.equipment.setdefault(ev.payload.equipment_id, []).append(ev)
            case e.EquipmentDismantled():
                c.dismantlings.append(ev)
            case e.CapacityReductionTargetSet():
                c.targets.setdefault(ev.payload.target_id, []).append(ev)
            case e.CapacityReductionOverdue():
                c.overdue.setdefault(ev.payload.target_id, []).append(ev)
            case e.CapacityReplacementApproved():
                c.replacements.setdefault(ev.payload.project_id, []).append(ev)
            case e.EnterpriseRegistered() | e.EnterpriseUpdated():
                c.registrations.append(ev)
            case e.TipOffReceived() | e.TipOffVerified() | e.TipOffClosed():
                c.tipoffs.setdefault(ev.payload.tipoff_id, []).append(ev)
            case e.PowerAnomalyDetected():
                c.anomalies.append(ev)
            case e.CaseOpened() | e.CaseAssigned() | e.CaseEscalated() | e.CaseClosed():
                c.cases.setdefault(ev.payload.case_id, []).append(ev)
            case e.CreditRepairApproved():
                c.repairs.append(ev)
            case _:  # PowerReading never reaches here (filtered), other types have no section
                pass
        c.by_stream.setdefault(ev.stream, []).append(ev)
        if not with_timeline:
            continue
        zh, en = _summary(ev)
        agency_zh, agency_en = _agency(ev.stream)
        c.timeline.append(
            TimelineEntry(
                event_id=ev.event_id,
                event_type=ev.event_type,
                event_type_zh=_TYPE_ZH.get(ev.event_type, ev.event_type),
                stream=ev.stream,
                agency_zh=agency_zh,
                agency_en=agency_en,
                occurred_at=utc(ev.occurred_at),
                recorded_at=utc(ev.recorded_at),
                summary_zh=zh,
                summary_en=en,
            )
        )
    return c


def _enterprise(regs: list[e.EnterpriseRegistered | e.EnterpriseUpdated]) -> EnterpriseFacts:
    values: dict[str, Fact[str] | Fact[Industry] | Fact[date]] = {}
    for ev in regs:  # in canonical order: a later event overrides the fields it names
        src = (ev.event_id,)
        pl = ev.payload
        for name in ("name", "legal_representative", "registered_address", "business_scope"):
            value = getattr(pl, name)
            if value is not None:
                values[name] = Fact[str](value=value, source_event_ids=src)
        if pl.industry is not None:
            values["industry"] = Fact[Industry](value=pl.industry, source_event_ids=src)
        if isinstance(pl, EnterpriseRegisteredPayload) and pl.registered_on is not None:
            values["registered_on"] = Fact[date](value=pl.registered_on, source_event_ids=src)
    return EnterpriseFacts.model_validate(
        {**values, "source_event_ids": tuple(ev.event_id for ev in regs)}
    )


@dataclass
class _FindingLinks:
    rectifications: dict[UUID, list[e.RectificationVerified]] = field(default_factory=dict)
    penalties: dict[UUID, list[UUID]] = field(default_factory=dict)


def _finding(
    ev: e.FindingRecorded, amendments: list[e.FindingAmended], links: _FindingLinks
) -> Finding:
    pl = ev.payload
    dimension, severity, code = pl.dimension, pl.severity, pl.violation_code
    description, evidence = pl.description, tuple(pl.evidence)
    for am in amendments:  # in canonical order: the last amendment of a field wins
        ap = am.payload
        dimension = ap.dimension if ap.dimension is not None else dimension
        severity = ap.severity if ap.severity is not None else severity
        code = ap.violation_code if ap.violation_code is not None else code
        description = ap.description if ap.description is not None else description
        evidence = tuple(ap.evidence) if ap.evidence is not None else evidence
    rects = links.rectifications.get(ev.event_id, [])
    agency_zh, agency_en = _agency(ev.stream)
    return Finding(
        finding_id=ev.event_id,
        stream=ev.stream,
        agency_zh=agency_zh,
        agency_en=agency_en,
        dimension=dimension,
        severity=severity,
        violation_code=code,
        description=description,
        evidence=evidence,
        location=pl.location,
        occurred_at=utc(ev.occurred_at),
        recorded_at=utc(ev.recorded_at),
        status=FindingStatus.RECTIFIED if rects else FindingStatus.OPEN,
        rectified_at=utc(rects[0].occurred_at) if rects else None,
        rectification_ids=tuple(r.event_id for r in rects),
        penalty_ids=tuple(links.penalties.get(ev.event_id, ())),
        amendments=tuple(_note(a) for a in amendments),
        source_event_ids=(
            ev.event_id,
            *(a.event_id for a in amendments),
            *(r.event_id for r in rects),
        ),
    )


def _clear(dim: Dimension) -> DimensionStatus:
    name_zh, name_en = DIMENSION_NAMES[dim]
    return DimensionStatus(
        dimension=dim,
        name_zh=name_zh,
        name_en=name_en,
        status=DimensionState.CLEAR,
        highest_open_severity=None,
        open_finding_ids=(),
        rectified_finding_ids=(),
        source_event_ids=(),
    )


# Most dimensions of most enterprises have no finding: their (immutable) rows are shared.
_CLEAR_DIMENSIONS = {dim: _clear(dim) for dim in Dimension}


def _dimensions(findings: list[Finding]) -> tuple[DimensionStatus, ...]:
    by_dim: dict[Dimension, list[Finding]] = {}
    for f in findings:
        by_dim.setdefault(f.dimension, []).append(f)
    out = []
    for dim, clear in _CLEAR_DIMENSIONS.items():
        fs = by_dim.get(dim)
        if not fs:
            out.append(clear)
            continue
        open_ = [f for f in fs if f.status is FindingStatus.OPEN]
        done = [f for f in fs if f.status is FindingStatus.RECTIFIED]
        highest = max((f.severity for f in open_), key=_SEVERITY_RANK.__getitem__, default=None)
        out.append(
            DimensionStatus(
                dimension=dim,
                name_zh=clear.name_zh,
                name_en=clear.name_en,
                status=DimensionState.OPEN if open_ else DimensionState.RECTIFIED,
                highest_open_severity=highest,
                open_finding_ids=tuple(f.finding_id for f in open_),
                rectified_finding_ids=tuple(f.finding_id for f in done),
                source_event_ids=tuple(i for f in fs for i in f.source_event_ids),
            )
        )
    return tuple(out)


_SEVERITY_RANK = {sev: sev.rank for sev in Severity}
_SEVERITIES = tuple(Severity)  # iterating an enum class is slow; a tuple is not


def _counts(findings: list[Finding]) -> FindingCounts:
    by_sev: dict[Severity, list[Finding]] = {sev: [] for sev in _SEVERITIES}
    for f in findings:
        by_sev[f.severity].append(f)
    rows = []
    n_open = 0
    for sev, fs in by_sev.items():
        opened = sum(f.status is FindingStatus.OPEN for f in fs)
        n_open += opened
        rows.append(
            SeverityCount(
                severity=sev,
                open=opened,
                rectified=len(fs) - opened,
                source_event_ids=tuple(f.finding_id for f in fs),
            )
        )
    return FindingCounts(
        total=len(findings),
        open=n_open,
        rectified=len(findings) - n_open,
        by_severity=tuple(rows),
        source_event_ids=tuple(f.finding_id for f in findings),
    )


# --- capacity -------------------------------------------------------------------------


@dataclass
class _Need:
    """What a target or replacement still needs, by product, as dismantling is credited."""

    key: tuple[datetime, ...]
    name: str
    since: datetime
    need: dict[Product, float]
    allocations: list[Allocation] = field(default_factory=list)
    done_at: datetime | None = None

    def credit(self, d: e.EquipmentDismantled, product: Product, tonnes: float) -> float:
        """Take what is needed of `tonnes`; return the rest."""
        want = self.need.get(product, 0.0)
        if want <= TONNE_EPSILON or tonnes <= TONNE_EPSILON:
            return tonnes
        take = min(want, tonnes)
        self.need[product] = want - take
        self.allocations.append(
            Allocation(
                dismantling_id=d.event_id,
                equipment_id=d.payload.equipment_id,
                product=product,
                tonnes=take,
                at=utc(d.occurred_at),
            )
        )
        if self.done_at is None and all(v <= TONNE_EPSILON for v in self.need.values()):
            self.done_at = utc(d.occurred_at)
        return tonnes - take

    def credited(self, product: Product) -> float:
        return sum(a.tonnes for a in self.allocations if a.product is product)


def _capacity(c: _Collected) -> CapacityLedger:
    if not (c.equipment or c.dismantlings or c.targets or c.overdue or c.replacements):
        return _NO_CAPACITY  # most enterprises: the ledger of no events, built once
    return _ledger(c)


def _ledger(c: _Collected) -> CapacityLedger:
    # The latest registration of an equipment id describes it (a re-registration corrects it);
    # the first dismantling removes it, later ones repeat it.
    registered = {eid: regs[-1] for eid, regs in c.equipment.items()}
    dismantlings: dict[str, list[e.EquipmentDismantled]] = {}
    for d in c.dismantlings:
        dismantlings.setdefault(d.payload.equipment_id, []).append(d)
    orphans = tuple(
        UnregisteredDismantling(
            event_id=d.event_id,
            equipment_id=d.payload.equipment_id,
            occurred_at=utc(d.occurred_at),
            source_event_ids=(d.event_id,),
        )
        for d in c.dismantlings
        if d.payload.equipment_id not in registered
    )
    targets = _target_needs(c)
    projects = _project_needs(c)
    retired_ids = {
        i for approvals, _ in projects for i in approvals[-1].payload.retired_equipment_ids
    }

    # Each dismantled tonne counts once: first toward reduction targets (earliest deadline first),
    # then toward the excess of replacements (earliest approval first). Equipment named as the
    # retired side of a replacement is that replacement's own retirement and counts for neither.
    needs = [n for _, n in targets] + [n for _, n in projects]
    for d in sorted((ds[0] for ds in dismantlings.values()), key=_ev_key):
        reg = registered.get(d.payload.equipment_id)
        if reg is None or d.payload.equipment_id in retired_ids:
            continue
        product, left = reg.payload.product, reg.payload.annual_capacity_tonnes
        at = utc(d.occurred_at)
        for need in needs:
            if left <= TONNE_EPSILON:
                break
            if need.since <= at:  # only dismantling since the target or approval counts
                left = need.credit(d, product, left)

    equipment = _equipment(c, registered, dismantlings)
    return CapacityLedger(
        equipment=equipment,
        unregistered_dismantlings=orphans,
        by_product=_by_product(equipment),
        by_kind=_by_kind(equipment),
        targets=tuple(_target(c, sets, need) for sets, need in targets),
        replacements=tuple(_replacement(approvals, need) for approvals, need in projects),
        unmatched_overdue_notice_ids=tuple(
            o.event_id for tid, os in c.overdue.items() if tid not in c.targets for o in os
        ),
    )


# Setting a target id or approving a project id again corrects it: the latest values apply,
# and progress counts from the first time it was set.


def _target_needs(c: _Collected) -> list[tuple[list[e.CapacityReductionTargetSet], _Need]]:
    out = []
    for tid, sets in c.targets.items():
        last = sets[-1].payload
        since = utc(sets[0].occurred_at)
        need = {Product.IRON: last.iron_tonnes, Product.STEEL: last.steel_tonnes}
        out.append((sets, _Need((utc(last.deadline), since), tid, since, need)))
    out.sort(key=lambda t: (t[1].key, t[1].name))
    return out


def _project_needs(c: _Collected) -> list[tuple[list[e.CapacityReplacementApproved], _Need]]:
    out = []
    for pid, approvals in c.replacements.items():
        last = approvals[-1].payload
        since = utc(approvals[0].occurred_at)
        excess = max(0.0, last.new_capacity_tonnes - last.retired_capacity_tonnes)
        out.append((approvals, _Need((since,), pid, since, {last.product: excess})))
    out.sort(key=lambda t: (t[1].key, t[1].name))
    return out


def _equipment(
    c: _Collected,
    registered: dict[str, e.EquipmentRegistered],
    dismantlings: dict[str, list[e.EquipmentDismantled]],
) -> tuple[Equipment, ...]:
    out = []
    for eid in sorted(registered, key=lambda k: (_ev_key(c.equipment[k][0]), k)):
        regs = c.equipment[eid]
        pl = registered[eid].payload
        gone = dismantlings.get(eid, [])
        first = gone[0] if gone else None
        out.append(
            Equipment(
                equipment_id=eid,
                kind=pl.kind,
                size=pl.size,
                size_unit=pl.size_unit,
                product=pl.product,
                annual_capacity_tonnes=pl.annual_capacity_tonnes,
                registered_at=utc(regs[0].occurred_at),
                state=EquipmentState.DISMANTLED if first else EquipmentState.ACTIVE,
                dismantled_at=utc(first.occurred_at) if first else None,
                verified_by=first.payload.verified_by if first else None,
                source_event_ids=(*(r.event_id for r in regs), *(x.event_id for x in gone)),
            )
        )
    return tuple(out)


_PRODUCTS = tuple(Product)
_KINDS = tuple(EquipmentKind)


def _by_product(equipment: tuple[Equipment, ...]) -> tuple[ProductTotal, ...]:
    out = []
    for product in _PRODUCTS:
        items = [q for q in equipment if q.product is product]
        out.append(
            ProductTotal(
                product=product,
                active_tonnes=sum(
                    q.annual_capacity_tonnes for q in items if q.state is EquipmentState.ACTIVE
                ),
                dismantled_tonnes=sum(
                    q.annual_capacity_tonnes for q in items if q.state is EquipmentState.DISMANTLED
                ),
                source_event_ids=tuple(i for q in items for i in q.source_event_ids),
            )
        )
    return tuple(out)


def _by_kind(equipment: tuple[Equipment, ...]) -> tuple[KindTotal, ...]:
    out = []
    for kind in _KINDS:
        items = [q for q in equipment if q.kind is kind]
        if not items:
            continue
        active = [q for q in items if q.state is EquipmentState.ACTIVE]
        gone = [q for q in items if q.state is EquipmentState.DISMANTLED]
        out.append(
            KindTotal(
                kind=kind,
                active_count=len(active),
                active_tonnes=sum(q.annual_capacity_tonnes for q in active),
                dismantled_count=len(gone),
                dismantled_tonnes=sum(q.annual_capacity_tonnes for q in gone),
                source_event_ids=tuple(i for q in items for i in q.source_event_ids),
            )
        )
    return tuple(out)


def _target(
    c: _Collected, sets: list[e.CapacityReductionTargetSet], need: _Need
) -> ReductionTarget:
    last = sets[-1].payload
    overdue = c.overdue.get(need.name, [])
    deadline = utc(last.deadline)
    return ReductionTarget(
        target_id=need.name,
        set_event_ids=tuple(s.event_id for s in sets),
        streams=streams_in_order(s.stream for s in sets),
        iron_tonnes=last.iron_tonnes,
        steel_tonnes=last.steel_tonnes,
        deadline=deadline,
        set_at=need.since,
        basis=last.basis,
        iron_dismantled_tonnes=need.credited(Product.IRON),
        steel_dismantled_tonnes=need.credited(Product.STEEL),
        met=need.done_at is not None,
        met_at=need.done_at,
        met_by_deadline=need.done_at is not None and need.done_at <= deadline,
        allocations=tuple(need.allocations),
        overdue_notice_ids=tuple(o.event_id for o in overdue),
        source_event_ids=(
            *(s.event_id for s in sets),
            *_unique(a.dismantling_id for a in need.allocations),
            *(o.event_id for o in overdue),
        ),
    )


def _replacement(approvals: list[e.CapacityReplacementApproved], need: _Need) -> Replacement:
    last = approvals[-1].payload
    excess = max(0.0, last.new_capacity_tonnes - last.retired_capacity_tonnes)
    exceeds = excess > TONNE_EPSILON
    return Replacement(
        project_id=need.name,
        approval_event_ids=tuple(a.event_id for a in approvals),
        streams=streams_in_order(a.stream for a in approvals),
        product=last.product,
        new_capacity_tonnes=last.new_capacity_tonnes,
        retired_capacity_tonnes=last.retired_capacity_tonnes,
        exceeds_retired=exceeds,
        excess_tonnes=excess,
        made_up_tonnes=need.credited(last.product),
        made_up_at=need.done_at if exceeds else None,
        retired_equipment_ids=tuple(last.retired_equipment_ids),
        approved_at=need.since,
        allocations=tuple(need.allocations),
        source_event_ids=(
            *(a.event_id for a in approvals),
            *_unique(x.dismantling_id for x in need.allocations),
        ),
    )


def _ev_key(ev: Event) -> tuple[datetime, datetime, UUID]:
    return (ev.occurred_at, ev.recorded_at, ev.event_id)


_STREAMS = tuple(Stream)
_DIMENSIONS = tuple(Dimension)


def streams_in_order(streams: Iterable[Stream]) -> tuple[Stream, ...]:
    """Distinct streams in the order of the published stream list."""
    seen = set(streams)
    return tuple(s for s in _STREAMS if s in seen)


def dimensions_in_order(dims: Iterable[Dimension]) -> tuple[Dimension, ...]:
    """Distinct dimensions in the order of the published dimension list."""
    seen = set(dims)
    return tuple(d for d in _DIMENSIONS if d in seen)


def _unique(ids: Iterable[UUID]) -> Iterable[UUID]:
    return dict.fromkeys(ids).keys()


# --- tip-offs and cases ---------------------------------------------------------------


def _tipoff(tid: str, evs: list[e.TipOffReceived | e.TipOffVerified | e.TipOffClosed]) -> TipOff:
    received = next((x for x in evs if isinstance(x, e.TipOffReceived)), None)
    verified = [x for x in evs if isinstance(x, e.TipOffVerified)]
    closed = [x for x in evs if isinstance(x, e.TipOffClosed)]
    # The furthest stage reached is the state, whatever order the events arrived in.
    state = (
        TipOffState.CLOSED if closed else TipOffState.VERIFIED if verified else TipOffState.RECEIVED
    )
    last_v = verified[-1] if verified else None
    last_c = closed[-1] if closed else None
    return TipOff(
        tipoff_id=tid,
        state=state,
        channel=received.payload.channel if received else None,
        summary=received.payload.summary if received else None,
        dimension=received.payload.dimension if received else None,
        received_at=utc(received.occurred_at) if received else None,
        verified_at=utc(last_v.occurred_at) if last_v else None,
        substantiated=last_v.payload.substantiated if last_v else None,
        finding_ids=tuple(_unique(i for v in verified for i in v.payload.finding_ids)),
        closed_at=utc(last_c.occurred_at) if last_c else None,
        outcome=last_c.payload.outcome if last_c else None,
        penalty_ids=tuple(_unique(i for x in closed for i in x.payload.penalty_ids)),
        source_event_ids=tuple(x.event_id for x in evs),
    )


def _case(
    cid: str, evs: list[e.CaseOpened | e.CaseAssigned | e.CaseEscalated | e.CaseClosed]
) -> CaseRecord:
    actions = []
    state = CaseState.OPEN  # a case known only from later actions is taken as open
    title = assignee = level = outcome = None
    opened_at = closed_at = None
    for ev in evs:
        agencies: tuple[str, ...] = ()
        cited: Ids = ()
        match ev:
            case e.CaseOpened(payload=pl):
                kind, detail = CaseActionKind.OPENED, pl.title
                state, title, opened_at = CaseState.OPEN, pl.title, utc(ev.occurred_at)
            case e.CaseAssigned(payload=pl):
                kind, detail, agencies = CaseActionKind.ASSIGNED, pl.assignee, tuple(pl.agencies)
                assignee = pl.assignee
            case e.CaseEscalated(payload=pl):
                kind, detail, cited = CaseActionKind.ESCALATED, pl.level, tuple(pl.cited_event_ids)
                level = pl.level
            case e.CaseClosed(payload=pl):
                kind, detail = CaseActionKind.CLOSED, pl.outcome
                state, outcome, closed_at = CaseState.CLOSED, pl.outcome, utc(ev.occurred_at)
        actions.append(
            CaseAction(
                event_id=ev.event_id,
                action=kind,
                occurred_at=utc(ev.occurred_at),
                recorded_at=utc(ev.recorded_at),
                actor=ev.actor,
                detail=detail,
                agencies=agencies,
                cited_event_ids=cited,
            )
        )
    return CaseRecord(
        case_id=cid,
        title=title,
        state=state,
        opened_at=opened_at,
        closed_at=closed_at if state is CaseState.CLOSED else None,
        assignee=assignee,
        escalation_level=level,
        outcome=outcome if state is CaseState.CLOSED else None,
        actions=tuple(actions),
        source_event_ids=tuple(ev.event_id for ev in evs),
    )


# --- the case file --------------------------------------------------------------------


_NO_CAPACITY = _ledger(_Collected())  # the ledger of an enterprise without capacity events


def _single_uscc(ordered: list[Event], uscc: str | None) -> str:
    codes = {ev.enterprise for ev in ordered}
    if uscc is not None:
        codes.add(uscc)
    if len(codes) != 1:
        if not codes:
            raise ValueError("no events and no uscc: cannot tell which enterprise this is")
        raise ValueError(f"events of several enterprises in one fold: {sorted(codes)}")
    return codes.pop()


def shaping_events(events: Iterable[Event]) -> list[Event]:
    """The events that shape read models, deduplicated, in canonical order (raw power readings
    feed the anomaly detector only)."""
    return canonical(ev for ev in events if not isinstance(ev, e.PowerReading))


def build_case_file(
    events: Iterable[Event], *, uscc: str | None = None, include_timeline: bool = True
) -> CaseFile:
    """The case file of one enterprise from its events (all must name the same USCC).

    `uscc` is needed only when there are no events (an enterprise never investigated).
    `include_timeline=False` leaves the timeline empty, for callers that only derive from the
    other sections (the blacklist): it is the costliest part per event."""
    ordered = shaping_events(events)
    code = _single_uscc(ordered, uscc)
    c = _collect(ordered, include_timeline)

    # Which findings stand, and what names them. A retracted finding counts as never made, so
    # references to it resolve like references to an unknown event.
    standing = {fid: ev for fid, ev in c.findings.items() if fid not in c.retractions}
    links = _FindingLinks()
    penalty_rects: dict[UUID, list[e.RectificationVerified]] = {}
    penalty_ids = {p.event_id for p in c.penalties}
    for r in c.rectifications:
        for fid in _unique(r.payload.finding_ids):
            if fid in standing:
                links.rectifications.setdefault(fid, []).append(r)
        for pid in _unique(r.payload.penalty_ids):
            if pid in penalty_ids:
                penalty_rects.setdefault(pid, []).append(r)
    for pen in c.penalties:
        for fid in _unique(pen.payload.finding_ids):
            if fid in standing:
                links.penalties.setdefault(fid, []).append(pen.event_id)

    findings = [_finding(ev, c.amendments.get(fid, []), links) for fid, ev in standing.items()]
    retracted = []
    for fid, ev in c.findings.items():
        if fid in standing:
            continue
        snapshot = _finding(ev, c.amendments.get(fid, []), _FindingLinks())
        rets = c.retractions[fid]
        retracted.append(
            RetractedFinding(
                finding=snapshot,
                retracted_at=utc(rets[0].occurred_at),
                retractions=tuple(_note(r) for r in rets),
                source_event_ids=(*snapshot.source_event_ids, *(r.event_id for r in rets)),
            )
        )
    orphans: list[OrphanCorrection] = []
    for bucket in (c.amendments, c.retractions):
        for fid, corrections in bucket.items():
            if fid in c.findings:
                continue
            for corr in corrections:
                orphans.append(
                    OrphanCorrection(
                        correction=_note(corr), finding_id=fid, source_event_ids=(corr.event_id,)
                    )
                )
    orphans.sort(
        key=lambda o: (o.correction.occurred_at, o.correction.recorded_at, o.correction.event_id)
    )

    penalties = []
    for pen in c.penalties:
        pl = pen.payload
        rects = penalty_rects.get(pen.event_id, [])
        named = tuple(_unique(pl.finding_ids))
        agency_zh, agency_en = _agency(pen.stream)
        penalties.append(
            Penalty(
                penalty_id=pen.event_id,
                stream=pen.stream,
                agency_zh=agency_zh,
                agency_en=agency_en,
                kind=pl.kind,
                amount_cny=pl.amount_cny,
                legal_basis=pl.legal_basis,
                description=pl.description,
                finding_ids=tuple(f for f in named if f in standing),
                unmatched_finding_ids=tuple(f for f in named if f not in standing),
                occurred_at=utc(pen.occurred_at),
                recorded_at=utc(pen.recorded_at),
                rectified_at=utc(rects[0].occurred_at) if rects else None,
                rectification_ids=tuple(r.event_id for r in rects),
                source_event_ids=(pen.event_id, *(r.event_id for r in rects)),
            )
        )
    rectifications = []
    for r in c.rectifications:
        agency_zh, agency_en = _agency(r.stream)
        fids = tuple(_unique(r.payload.finding_ids))
        pids = tuple(_unique(r.payload.penalty_ids))
        rectifications.append(
            Rectification(
                rectification_id=r.event_id,
                stream=r.stream,
                agency_zh=agency_zh,
                agency_en=agency_en,
                finding_ids=tuple(f for f in fids if f in standing),
                penalty_ids=tuple(p for p in pids if p in penalty_ids),
                unmatched_ids=(
                    *(f for f in fids if f not in standing),
                    *(p for p in pids if p not in penalty_ids),
                ),
                description=r.payload.description,
                occurred_at=utc(r.occurred_at),
                recorded_at=utc(r.recorded_at),
                source_event_ids=(r.event_id,),
            )
        )

    standing_by_stream: dict[Stream, int] = {}
    for f in findings:
        standing_by_stream[f.stream] = standing_by_stream.get(f.stream, 0) + 1
    agencies = []
    for stream in _STREAMS:  # the order of the published stream list
        evs = c.by_stream.get(stream)
        if not evs:
            continue
        name_zh, name_en = _agency(stream)
        agencies.append(
            AgencyInvolvement(
                stream=stream,
                name_zh=name_zh,
                name_en=name_en,
                event_count=len(evs),
                finding_count=standing_by_stream.get(stream, 0),
                first_occurred_at=utc(evs[0].occurred_at),
                last_occurred_at=utc(evs[-1].occurred_at),
                source_event_ids=tuple(x.event_id for x in evs),
            )
        )

    return CaseFile(
        uscc=code,
        region=region_of(code),
        enterprise=_enterprise(c.registrations),
        event_count=len(ordered),
        last_occurred_at=utc(ordered[-1].occurred_at) if ordered else None,
        last_recorded_at=utc(max(ev.recorded_at for ev in ordered)) if ordered else None,
        timeline=tuple(c.timeline),
        dimensions=_dimensions(findings),
        finding_counts=_counts(findings),
        findings=tuple(findings),
        retracted_findings=tuple(retracted),
        orphan_corrections=tuple(orphans),
        penalties=tuple(penalties),
        rectifications=tuple(rectifications),
        illegal_steel=tuple(_illegal_steel(x) for x in c.illegal_steel),
        tipoffs=tuple(_tipoff(tid, evs) for tid, evs in sorted(c.tipoffs.items(), key=_first)),
        power_anomalies=tuple(_anomaly(x) for x in c.anomalies),
        capacity=_capacity(c),
        cases=tuple(_case(cid, evs) for cid, evs in sorted(c.cases.items(), key=_first)),
        credit_repairs=tuple(_repair(x) for x in c.repairs),
        agencies=tuple(agencies),
    )


def _first(item: tuple[str, Sequence[e.Envelope]]) -> tuple[datetime, datetime, UUID, str]:
    """Groups (tip-offs, cases) in the order of their first event."""
    name, evs = item
    first = evs[0]
    return (first.occurred_at, first.recorded_at, first.event_id, name)


def _illegal_steel(ev: e.IllegalSteelConfirmed) -> IllegalSteel:
    pl = ev.payload
    agency_zh, agency_en = _agency(ev.stream)
    return IllegalSteel(
        event_id=ev.event_id,
        stream=ev.stream,
        agency_zh=agency_zh,
        agency_en=agency_en,
        furnace_type=pl.furnace_type,
        furnace_count=pl.furnace_count,
        capacity_tonnes=pl.capacity_tonnes,
        description=pl.description,
        occurred_at=utc(ev.occurred_at),
        recorded_at=utc(ev.recorded_at),
        source_event_ids=(ev.event_id,),
    )


def _anomaly(ev: e.PowerAnomalyDetected) -> PowerAnomaly:
    pl = ev.payload
    return PowerAnomaly(
        event_id=ev.event_id,
        kind=pl.kind,
        window_start=utc(pl.window_start),
        window_end=utc(pl.window_end),
        observed=pl.observed,
        baseline=pl.baseline,
        reading_count=len(pl.reading_ids),
        description=pl.description,
        occurred_at=utc(ev.occurred_at),
        source_event_ids=(ev.event_id,),
    )


def _repair(ev: e.CreditRepairApproved) -> CreditRepair:
    return CreditRepair(
        event_id=ev.event_id,
        stream=ev.stream,
        rule_id=ev.payload.rule_id,
        reason=ev.payload.reason,
        occurred_at=utc(ev.occurred_at),
        recorded_at=utc(ev.recorded_at),
    )
