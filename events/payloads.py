"""The typed payload of every event type (DESIGN §3). Corrections never delete: they refer to the
original event by its `event_id`.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from events.dimensions import Dimension, Severity
from events.fields import Amount, Instant, Name, Text, Tonnes


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


EventRefs = Annotated[list[UUID], Field(max_length=1000)]

# --- findings 检查发现 ---------------------------------------------------------------


class FindingRecordedPayload(Payload):
    """检查发现: an agency's finding on one check dimension."""

    dimension: Dimension
    severity: Severity
    violation_code: Name = Field(description="the agency's own code for the violation")
    description: Text
    evidence: list[Name] = Field(
        default_factory=list, max_length=100, description="references to evidence documents"
    )
    location: Name | None = None


class FindingAmendedPayload(Payload):
    """更正: changes some fields of an earlier finding; omitted fields keep their value."""

    finding_id: UUID = Field(description="event_id of the FindingRecordedPayload it amends")
    reason: Text
    dimension: Dimension | None = None
    severity: Severity | None = None
    violation_code: Name | None = None
    description: Text | None = None
    evidence: list[Name] | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _changes_something(self) -> FindingAmendedPayload:
        changed = (self.dimension, self.severity, self.violation_code, self.description)
        if all(v is None for v in changed) and self.evidence is None:
            raise ValueError(
                "an amendment must change at least one of dimension, severity, "
                "violation_code, description, evidence"
            )
        return self


class FindingRetractedPayload(Payload):
    """撤销: the finding is withdrawn and counts as never made."""

    finding_id: UUID = Field(description="event_id of the FindingRecordedPayload it retracts")
    reason: Text


# --- enforcement 执法 ----------------------------------------------------------------


class PenaltyKind(StrEnum):
    FINE = "fine"  # 罚款
    PRODUCTION_HALT = "production_halt"  # 责令停产
    DISCHARGE_PERMIT_REVOKED = "discharge_permit_revoked"  # 吊销排污许可证
    PRODUCTION_LICENCE_WITHDRAWN = "production_licence_withdrawn"  # 撤回生产许可证
    SAFETY_LICENCE_WITHDRAWN = "safety_licence_withdrawn"  # 撤回安全生产许可证
    LAND_APPROVAL_REVOKED = "land_approval_revoked"  # 撤销用地审批
    BUSINESS_LICENCE_REVOKED = "business_licence_revoked"  # 吊销营业执照
    POWER_CUT = "power_cut"  # 断电
    EQUIPMENT_SEIZED = "equipment_seized"  # 查封设备
    OTHER = "other"


class PenaltyImposedPayload(Payload):
    """行政处罚."""

    kind: PenaltyKind
    amount_cny: Amount | None = Field(default=None, description="fine in yuan, for kind=fine")
    legal_basis: Text
    finding_ids: EventRefs = Field(default_factory=list)
    description: Text | None = None

    @model_validator(mode="after")
    def _fine_has_amount(self) -> PenaltyImposedPayload:
        if self.kind is PenaltyKind.FINE and self.amount_cny is None:
            raise ValueError("amount_cny is required when kind is 'fine'")
        return self


class RectificationVerifiedPayload(Payload):
    """整改验收: the named findings (and penalties) are verified as rectified."""

    finding_ids: EventRefs = Field(default_factory=list)
    penalty_ids: EventRefs = Field(default_factory=list)
    description: Text

    @model_validator(mode="after")
    def _refers_to_something(self) -> RectificationVerifiedPayload:
        if not self.finding_ids and not self.penalty_ids:
            raise ValueError("name at least one finding_id or penalty_id that was rectified")
        return self


# --- illegal capacity 违法违规产能 ----------------------------------------------------


class FurnaceType(StrEnum):
    MEDIUM_FREQUENCY = "medium_frequency_induction"  # 中频炉
    POWER_FREQUENCY = "power_frequency_induction"  # 工频炉


class IllegalSteelConfirmedPayload(Payload):
    """地条钢 confirmed: steel made from scrap in induction furnaces."""

    furnace_type: FurnaceType
    furnace_count: int = Field(ge=1, le=10_000)
    capacity_tonnes: Tonnes = Field(description="annual capacity of the furnaces in tonnes")
    description: Text


class EquipmentKind(StrEnum):
    BLAST_FURNACE = "blast_furnace"  # 高炉, sized in m³
    CONVERTER = "converter"  # 转炉, sized in t
    ELECTRIC_ARC_FURNACE = "electric_arc_furnace"  # 电炉, sized in t
    INDUCTION_FURNACE = "induction_furnace"  # 中频炉/工频炉, sized in t
    OTHER = "other"


class SizeUnit(StrEnum):
    CUBIC_METRES = "m3"
    TONNES = "t"


class Product(StrEnum):
    IRON = "iron"  # 炼铁
    STEEL = "steel"  # 炼钢


_EXPECTED_UNIT = {
    EquipmentKind.BLAST_FURNACE: SizeUnit.CUBIC_METRES,
    EquipmentKind.CONVERTER: SizeUnit.TONNES,
    EquipmentKind.ELECTRIC_ARC_FURNACE: SizeUnit.TONNES,
    EquipmentKind.INDUCTION_FURNACE: SizeUnit.TONNES,
}


class EquipmentRegisteredPayload(Payload):
    """一企一档: one piece of capacity-relevant equipment enters the ledger."""

    equipment_id: Name
    kind: EquipmentKind
    size: float = Field(gt=0, le=1e6, allow_inf_nan=False)
    size_unit: SizeUnit
    product: Product
    annual_capacity_tonnes: Tonnes

    @model_validator(mode="after")
    def _unit_fits_kind(self) -> EquipmentRegisteredPayload:
        expected = _EXPECTED_UNIT.get(self.kind)
        if expected is not None and self.size_unit is not expected:
            raise ValueError(f"a {self.kind.value} is sized in {expected.value}")
        return self


class EquipmentDismantledPayload(Payload):
    """拆除: verified removal of registered equipment."""

    equipment_id: Name
    verified_by: Name
    description: Text | None = None


class CapacityReductionTargetSetPayload(Payload):
    """压减产能目标: tonnes of iron and steel capacity to remove by a deadline."""

    target_id: Name
    iron_tonnes: Tonnes = 0.0
    steel_tonnes: Tonnes = 0.0
    deadline: Instant
    basis: Text = Field(description="the plan that sets the target")

    @model_validator(mode="after")
    def _some_target(self) -> CapacityReductionTargetSetPayload:
        if self.iron_tonnes <= 0 and self.steel_tonnes <= 0:
            raise ValueError("iron_tonnes or steel_tonnes must be positive")
        return self


class CapacityReductionOverduePayload(Payload):
    """A reduction target's deadline passed unmet (emitted by the scheduler)."""

    target_id: Name
    deadline: Instant
    iron_tonnes_missing: Tonnes
    steel_tonnes_missing: Tonnes


class CapacityReplacementApprovedPayload(Payload):
    """产能置换: a new project approved against retired capacity (等量或减量置换)."""

    project_id: Name
    product: Product
    new_capacity_tonnes: Tonnes
    retired_capacity_tonnes: Tonnes
    retired_equipment_ids: list[Name] = Field(default_factory=list, max_length=1000)


# --- registration 注册登记 ------------------------------------------------------------


class Industry(StrEnum):
    STEEL = "steel"  # 钢铁冶炼
    SPECIAL_STEEL = "special_steel"  # 特钢
    FOUNDRY = "foundry"  # 铸造
    ROLLING = "rolling"  # 轧钢
    OTHER = "other"


class EnterpriseRegisteredPayload(Payload):
    name: Name
    legal_representative: Name
    registered_address: Text
    business_scope: Text
    industry: Industry = Industry.OTHER
    registered_on: date | None = None


class EnterpriseUpdatedPayload(Payload):
    name: Name | None = None
    legal_representative: Name | None = None
    registered_address: Text | None = None
    business_scope: Text | None = None
    industry: Industry | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> EnterpriseUpdatedPayload:
        if all(v is None for v in self.model_dump().values()):
            raise ValueError("an update must change at least one field")
        return self


# --- tip-offs 举报 (接到一起、核实一起、查处一起) --------------------------------------


class TipOffReceivedPayload(Payload):
    tipoff_id: Name
    channel: Name = Field(description="hotline, platform, letter, ...")
    summary: Text
    dimension: Dimension | None = None


class TipOffVerifiedPayload(Payload):
    tipoff_id: Name
    substantiated: bool
    finding_ids: EventRefs = Field(default_factory=list)
    notes: Text | None = None


class TipOffClosedPayload(Payload):
    tipoff_id: Name
    outcome: Text
    penalty_ids: EventRefs = Field(default_factory=list)


# --- power 用电监测 -------------------------------------------------------------------


class PowerReadingPayload(Payload):
    meter_id: Name
    period_start: Instant
    period_end: Instant
    kwh: float = Field(ge=0, le=1e12, allow_inf_nan=False)
    night_share: float = Field(
        ge=0, le=1, allow_inf_nan=False, description="share of the kWh used 22:00–06:00"
    )

    @model_validator(mode="after")
    def _ordered(self) -> PowerReadingPayload:
        if self.period_end <= self.period_start:
            raise ValueError("period_end must be after period_start")
        return self


class AnomalyKind(StrEnum):
    NIGHT_USE = "night_use"  # 夜间用电明显高于白天
    SUDDEN_JUMP = "sudden_jump"  # 用电量突增
    LARGE_SWING = "large_swing"  # 用电量大幅波动


class PowerAnomalyDetectedPayload(Payload):
    kind: AnomalyKind
    window_start: Instant
    window_end: Instant
    observed: float = Field(allow_inf_nan=False)
    baseline: float = Field(allow_inf_nan=False)
    reading_ids: EventRefs = Field(default_factory=list)
    description: Text | None = None

    @model_validator(mode="after")
    def _ordered(self) -> PowerAnomalyDetectedPayload:
        if self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        return self


# --- task force 联合调查组 ------------------------------------------------------------


class CaseOpenedPayload(Payload):
    case_id: Name
    title: Name
    reason: Text


class CaseAssignedPayload(Payload):
    case_id: Name
    assignee: Name
    agencies: list[Name] = Field(default_factory=list, max_length=20)


class CaseEscalatedPayload(Payload):
    case_id: Name
    level: Name = Field(description="e.g. province, State Council 国务院")
    reason: Text
    cited_event_ids: EventRefs = Field(default_factory=list)


class CaseClosedPayload(Payload):
    case_id: Name
    outcome: Text


# --- credit 信用 ----------------------------------------------------------------------


class CreditRepairApprovedPayload(Payload):
    """信用修复: ends a listing once penalties are performed and the violation rectified."""

    rule_id: Name | None = Field(default=None, description="the listing's rule, if only one ends")
    reason: Text
