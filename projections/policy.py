"""The credit-blacklist policy (DESIGN §5): rule ids, statuses, and the versioned parameters.

A `Policy` is data: the rules R1–R5 are fixed in `projections.blacklist`, their thresholds,
periods and measures come from here, and every listing names the policy version it was decided
under. A new policy is a new version, never an edit of a published one.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from events.dimensions import Severity
from events.payloads import PenaltyKind


class RuleId(StrEnum):
    """The five listing rules of policy v1."""

    R1 = "R1"  # 地条钢认定
    R2 = "R2"  # 未按期压减产能
    R3 = "R3"  # 多部门严重违法违规
    R4 = "R4"  # 吊销排污许可证 / 撤回生产许可证
    R5 = "R5"  # 产能置换未等量或减量


class CreditStatus(StrEnum):
    """What a bank sees, ordered: CLEAR < WATCH < CREDIT_RESTRICTED < BLACKLISTED."""

    CLEAR = "CLEAR"  # 无记录
    WATCH = "WATCH"  # 关注: open serious finding or open case
    CREDIT_RESTRICTED = "CREDIT_RESTRICTED"  # 限制新增授信
    BLACKLISTED = "BLACKLISTED"  # 严重失信名单 (联合惩戒)

    @property
    def rank(self) -> int:
        return _STATUS_RANK[self]


_STATUS_RANK = {s: i for i, s in enumerate(CreditStatus)}


class RuleInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    rule_id: RuleId
    title_zh: str
    title_en: str
    effect: CreditStatus


RULES: dict[RuleId, RuleInfo] = {
    r.rule_id: r
    for r in (
        RuleInfo(
            rule_id=RuleId.R1,
            title_zh="地条钢",
            title_en="Illegal steel (地条钢) confirmed",
            effect=CreditStatus.BLACKLISTED,
        ),
        RuleInfo(
            rule_id=RuleId.R2,
            title_zh="未按期完成压减产能任务",
            title_en="Capacity reduction target missed",
            effect=CreditStatus.CREDIT_RESTRICTED,
        ),
        RuleInfo(
            rule_id=RuleId.R3,
            title_zh="多部门认定严重违法违规",
            title_en="Serious violations found by several agencies",
            effect=CreditStatus.BLACKLISTED,
        ),
        RuleInfo(
            rule_id=RuleId.R4,
            title_zh="吊销排污许可证或撤回生产许可证",
            title_en="Discharge permit revoked or production licence withdrawn",
            effect=CreditStatus.CREDIT_RESTRICTED,
        ),
        RuleInfo(
            rule_id=RuleId.R5,
            title_zh="产能置换未等量或减量",
            title_en="Capacity approved without equal or greater retired capacity",
            effect=CreditStatus.CREDIT_RESTRICTED,
        ),
    )
}


class Measure(BaseModel):
    """What a bank is told to do about a listing (惩戒措施), in both languages."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    zh: str = Field(min_length=1, max_length=500)
    en: str = Field(min_length=1, max_length=500)


class Measures(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # The seed's 石家庄 plan for missed reduction targets.
    credit_restricted: Measure = Measure(
        zh="金融机构不得提供任何形式的新增授信支持", en="no new credit of any form"
    )
    blacklisted: Measure = Measure(
        zh="严格审查，审慎参考", en="strict review, prudential reference"
    )

    def for_status(self, status: CreditStatus) -> Measure | None:
        if status is CreditStatus.BLACKLISTED:
            return self.blacklisted
        if status is CreditStatus.CREDIT_RESTRICTED:
            return self.credit_restricted
        return None


class PolicyError(ValueError):
    """A policy document that cannot be used; the message names every bad field."""


class Policy(BaseModel):
    """The parameters of the blacklist rules. Frozen: a changed policy is a new version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy_id: str = Field(default="credit-blacklist", min_length=1, max_length=100)
    version: str = Field(default="v1", min_length=1, max_length=50)
    # R3: findings from at least this many agencies within a window of this many days.
    r3_window_days: int = Field(default=365, ge=1, le=3650)
    r3_min_agencies: int = Field(default=3, ge=1, le=14)
    serious_severities: tuple[Severity, ...] = (Severity.SERIOUS, Severity.CRITICAL)
    # 公示期: serious entries are published 1 to 3 years; repair possible after the minimum.
    publication_years: int = Field(default=3, ge=1, le=3)
    repair_min_years: int = Field(default=1, ge=0, le=3)
    # R4: the penalties that restrict credit.
    r4_penalty_kinds: tuple[PenaltyKind, ...] = (
        PenaltyKind.DISCHARGE_PERMIT_REVOKED,
        PenaltyKind.PRODUCTION_LICENCE_WITHDRAWN,
    )
    measures: Measures = Measures()

    @field_validator("serious_severities")
    @classmethod
    def _severities_sorted(cls, value: tuple[Severity, ...]) -> tuple[Severity, ...]:
        if not value:
            raise ValueError("name at least one severity")
        # Sorted and unique, so the dumped policy is the same however it was written.
        return tuple(sorted(set(value), key=lambda s: s.rank))

    @field_validator("r4_penalty_kinds")
    @classmethod
    def _kinds_sorted(cls, value: tuple[PenaltyKind, ...]) -> tuple[PenaltyKind, ...]:
        return tuple(sorted(set(value)))

    @model_validator(mode="after")
    def _repair_within_publication(self) -> Policy:
        if self.repair_min_years > self.publication_years:
            raise ValueError(
                f"repair_min_years ({self.repair_min_years}) must not exceed "
                f"publication_years ({self.publication_years})"
            )
        return self

    @property
    def label(self) -> str:
        """`policy_id@version`, as listings cite it."""
        return f"{self.policy_id}@{self.version}"


DEFAULT_POLICY = Policy()


def load_policy(source: Mapping[str, Any] | str | bytes) -> Policy:
    """A policy from a dict or JSON text; raises `PolicyError` naming each bad field."""
    try:
        if isinstance(source, str | bytes):
            return Policy.model_validate_json(source)
        return Policy.model_validate(dict(source))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(policy)'}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)
        )
        raise PolicyError(f"invalid policy: {problems}") from None


def policy_from_file(path: str) -> Policy:
    """The policy in a JSON file; an empty path means the built-in policy v1."""
    if not path:
        return DEFAULT_POLICY
    with open(path, "rb") as f:
        return load_policy(f.read())
