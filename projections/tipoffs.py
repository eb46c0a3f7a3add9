"""Tip-off handling (举报办理): received → verified → handled, each stage with a deadline from
configuration; overdue tip-offs raise alerts; substantiated tip-offs that led to a penalty are
marked for a reward (举报奖励). Pure functions of a case file's tip-offs and a clock."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from projections.casefile import CaseFile, TipOff, TipOffState


class TipOffConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    verify_within_days: int = Field(default=15, ge=1, le=365, description="核实时限")
    handle_within_days: int = Field(default=60, ge=1, le=730, description="查处时限, from receipt")


DEFAULT_TIPOFFS = TipOffConfig()


def deadline(t: TipOff, config: TipOffConfig = DEFAULT_TIPOFFS) -> datetime | None:
    """When the tip-off's current stage must be done; None once it is closed (or undated)."""
    if t.state is TipOffState.CLOSED or t.received_at is None:
        return None
    days = (
        config.verify_within_days if t.state is TipOffState.RECEIVED else config.handle_within_days
    )
    return t.received_at + timedelta(days=days)


def is_overdue(t: TipOff, now: datetime, config: TipOffConfig = DEFAULT_TIPOFFS) -> bool:
    """Overdue from the deadline itself (a deadline at `now` has passed)."""
    due = deadline(t, config)
    return due is not None and due <= now


def reward_eligible(t: TipOff, penalised_findings: Collection[UUID] = ()) -> bool:
    """Substantiated, and it led to a penalty: named when the tip-off was closed, or imposed
    for a finding its verification named."""
    led_to_penalty = bool(t.penalty_ids) or any(f in penalised_findings for f in t.finding_ids)
    return bool(t.substantiated) and led_to_penalty


@dataclass(frozen=True, slots=True)
class TipOffSummary:
    open: int
    overdue: int
    reward_eligible: int
    next_deadline: datetime | None  # the earliest deadline still ahead: re-evaluate then


def summarise(
    case_file: CaseFile, now: datetime, config: TipOffConfig = DEFAULT_TIPOFFS
) -> TipOffSummary:
    items = case_file.tipoffs
    penalised = {f.finding_id for f in case_file.findings if f.penalty_ids}
    ahead = [d for t in items if (d := deadline(t, config)) is not None and d > now]
    return TipOffSummary(
        open=sum(t.state is not TipOffState.CLOSED for t in items),
        overdue=sum(is_overdue(t, now, config) for t in items),
        reward_eligible=sum(reward_eligible(t, penalised) for t in items),
        next_deadline=min(ahead, default=None),
    )
