"""The envelope every event carries, and one model per event type (envelope + typed payload)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from events import payloads as p
from events.fields import Instant, Name
from events.streams import AGENCY_STREAMS, Stream
from events.uscc import Uscc

_AGENCIES = AGENCY_STREAMS
_ANY = AGENCY_STREAMS | {Stream.TASKFORCE}
_CAPACITY = frozenset({Stream.MIIT, Stream.NDRC})


class Envelope(BaseModel):
    """Fields common to every event. `event_id`, chosen by the producer, is the idempotency key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Which streams may publish this type; set on each subclass.
    allowed_streams: ClassVar[frozenset[Stream]] = frozenset()

    event_id: UUID = Field(description="chosen by the producer; resending it is safe")
    event_type: str
    schema_version: int = Field(default=1, ge=1, le=1000, strict=True)
    stream: Stream
    enterprise: Uscc
    occurred_at: Instant = Field(description="when it happened in the world")
    recorded_at: Instant = Field(description="when the agency recorded it")
    actor: Name = Field(description="officer or system that recorded it")
    correlation_id: UUID | None = None
    causation_id: UUID | None = None
    payload: Any

    @field_validator("stream")
    @classmethod
    def _stream_may_publish(cls, stream: Stream) -> Stream:
        if cls.allowed_streams and stream not in cls.allowed_streams:
            allowed = ", ".join(sorted(cls.allowed_streams))
            raise PydanticCustomError(
                "stream",
                "stream '{stream}' may not publish {event_type}; allowed: {allowed}",
                {"stream": stream.value, "event_type": cls.__name__, "allowed": allowed},
            )
        return stream


def _config(title_en: str, title_zh: str) -> ConfigDict:
    return ConfigDict(
        title=f"{title_en} / {title_zh}",
        json_schema_extra={"x-title-zh": title_zh, "x-title-en": title_en},
    )


class FindingRecorded(Envelope):
    """An agency's finding on one check dimension (检查发现)."""

    model_config = _config("Finding recorded", "检查发现")
    allowed_streams = _AGENCIES
    event_type: Literal["FindingRecorded"] = "FindingRecorded"
    payload: p.FindingRecordedPayload


class FindingAmended(Envelope):
    """A correction of an earlier finding (更正); the original stays in the record."""

    model_config = _config("Finding amended", "发现更正")
    allowed_streams = _AGENCIES
    event_type: Literal["FindingAmended"] = "FindingAmended"
    payload: p.FindingAmendedPayload


class FindingRetracted(Envelope):
    """A finding withdrawn (撤销): it counts as never made."""

    model_config = _config("Finding retracted", "发现撤销")
    allowed_streams = _AGENCIES
    event_type: Literal["FindingRetracted"] = "FindingRetracted"
    payload: p.FindingRetractedPayload


class PenaltyImposed(Envelope):
    """An administrative penalty (行政处罚)."""

    model_config = _config("Penalty imposed", "行政处罚")
    allowed_streams = _AGENCIES
    event_type: Literal["PenaltyImposed"] = "PenaltyImposed"
    payload: p.PenaltyImposedPayload


class RectificationVerified(Envelope):
    """Rectification verified (整改验收)."""

    model_config = _config("Rectification verified", "整改验收")
    allowed_streams = _AGENCIES
    event_type: Literal["RectificationVerified"] = "RectificationVerified"
    payload: p.RectificationVerifiedPayload


class IllegalSteelConfirmed(Envelope):
    """地条钢 confirmed: steel melted from scrap in induction furnaces."""

    model_config = _config("Illegal steel confirmed", "地条钢认定")
    allowed_streams = _ANY
    event_type: Literal["IllegalSteelConfirmed"] = "IllegalSteelConfirmed"
    payload: p.IllegalSteelConfirmedPayload


class EquipmentRegistered(Envelope):
    """Equipment enters the capacity ledger (一企一档)."""

    model_config = _config("Equipment registered", "设备登记")
    allowed_streams = _CAPACITY
    event_type: Literal["EquipmentRegistered"] = "EquipmentRegistered"
    payload: p.EquipmentRegisteredPayload


class EquipmentDismantled(Envelope):
    """Verified dismantling of registered equipment (设备拆除)."""

    model_config = _config("Equipment dismantled", "设备拆除")
    allowed_streams = _CAPACITY
    event_type: Literal["EquipmentDismantled"] = "EquipmentDismantled"
    payload: p.EquipmentDismantledPayload


class CapacityReductionTargetSet(Envelope):
    """A capacity-reduction target with a deadline (压减产能目标)."""

    model_config = _config("Capacity reduction target set", "压减产能目标")
    allowed_streams = _CAPACITY
    event_type: Literal["CapacityReductionTargetSet"] = "CapacityReductionTargetSet"
    payload: p.CapacityReductionTargetSetPayload


class CapacityReductionOverdue(Envelope):
    """A reduction target's deadline passed unmet (逾期未完成压减); emitted by the scheduler."""

    model_config = _config("Capacity reduction overdue", "压减产能逾期")
    allowed_streams = frozenset({Stream.TASKFORCE, Stream.MIIT})
    event_type: Literal["CapacityReductionOverdue"] = "CapacityReductionOverdue"
    payload: p.CapacityReductionOverduePayload


class CapacityReplacementApproved(Envelope):
    """A capacity replacement approved (产能置换): new capacity must not exceed retired capacity."""

    model_config = _config("Capacity replacement approved", "产能置换批复")
    allowed_streams = _CAPACITY
    event_type: Literal["CapacityReplacementApproved"] = "CapacityReplacementApproved"
    payload: p.CapacityReplacementApprovedPayload


class EnterpriseRegistered(Envelope):
    """Registration facts of an enterprise (企业登记)."""

    model_config = _config("Enterprise registered", "企业登记")
    allowed_streams = frozenset({Stream.MARKET})
    event_type: Literal["EnterpriseRegistered"] = "EnterpriseRegistered"
    payload: p.EnterpriseRegisteredPayload


class EnterpriseUpdated(Envelope):
    """A change of registration facts (变更登记)."""

    model_config = _config("Enterprise updated", "变更登记")
    allowed_streams = frozenset({Stream.MARKET})
    event_type: Literal["EnterpriseUpdated"] = "EnterpriseUpdated"
    payload: p.EnterpriseUpdatedPayload


class TipOffReceived(Envelope):
    """A tip-off received (接到举报)."""

    model_config = _config("Tip-off received", "接到举报")
    allowed_streams = _ANY
    event_type: Literal["TipOffReceived"] = "TipOffReceived"
    payload: p.TipOffReceivedPayload


class TipOffVerified(Envelope):
    """A tip-off verified (核实举报)."""

    model_config = _config("Tip-off verified", "核实举报")
    allowed_streams = _ANY
    event_type: Literal["TipOffVerified"] = "TipOffVerified"
    payload: p.TipOffVerifiedPayload


class TipOffClosed(Envelope):
    """A tip-off handled and closed (查处举报)."""

    model_config = _config("Tip-off closed", "查处举报")
    allowed_streams = _ANY
    event_type: Literal["TipOffClosed"] = "TipOffClosed"
    payload: p.TipOffClosedPayload


class PowerReading(Envelope):
    """A meter reading from the grid (用电数据)."""

    model_config = _config("Power reading", "用电数据")
    allowed_streams = frozenset({Stream.POWER})
    event_type: Literal["PowerReading"] = "PowerReading"
    payload: p.PowerReadingPayload


class PowerAnomalyDetected(Envelope):
    """A power-use anomaly found by the detector (用电异常)."""

    model_config = _config("Power anomaly detected", "用电异常")
    allowed_streams = frozenset({Stream.POWER})
    event_type: Literal["PowerAnomalyDetected"] = "PowerAnomalyDetected"
    payload: p.PowerAnomalyDetectedPayload


class CaseOpened(Envelope):
    """The task force opens a case (立案)."""

    model_config = _config("Case opened", "立案")
    allowed_streams = frozenset({Stream.TASKFORCE})
    event_type: Literal["CaseOpened"] = "CaseOpened"
    payload: p.CaseOpenedPayload


class CaseAssigned(Envelope):
    """The case is assigned (分派)."""

    model_config = _config("Case assigned", "分派")
    allowed_streams = frozenset({Stream.TASKFORCE})
    event_type: Literal["CaseAssigned"] = "CaseAssigned"
    payload: p.CaseAssignedPayload


class CaseEscalated(Envelope):
    """The case is escalated (升级督办)."""

    model_config = _config("Case escalated", "升级督办")
    allowed_streams = frozenset({Stream.TASKFORCE})
    event_type: Literal["CaseEscalated"] = "CaseEscalated"
    payload: p.CaseEscalatedPayload


class CaseClosed(Envelope):
    """The case is closed (结案)."""

    model_config = _config("Case closed", "结案")
    allowed_streams = frozenset({Stream.TASKFORCE})
    event_type: Literal["CaseClosed"] = "CaseClosed"
    payload: p.CaseClosedPayload


class CreditRepairApproved(Envelope):
    """Credit repair approved (信用修复): ends a listing."""

    model_config = _config("Credit repair approved", "信用修复")
    allowed_streams = frozenset({Stream.CREDIT, Stream.NDRC})
    event_type: Literal["CreditRepairApproved"] = "CreditRepairApproved"
    payload: p.CreditRepairApprovedPayload
