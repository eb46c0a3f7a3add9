"""Cross-agency correlation rules that escalate a case (联动研判).

Each agency sees its own piece: the grid sees a foundry's meter run hot at night, the land bureau
finds a workshop built without approval, the steel association's platform logs a tip-off. The
seed's 江西 notice asks for exactly this join (加强用电监测排查 … 对出现用电量异常的企业及时通报
属地政府和相关部门进行调查处理; 接到一起、核实一起、查处一起). `correlate` reads one enterprise's
case file and names the escalations (升级督办) its rules call for:

- **C1 疑似地条钢 (suspected illegal steel).** The enterprise's registered industry is one the
  seed warns about (假借铸造名义 / 假借特钢名义: foundry and special steel by default), it has a
  power anomaly, and within `c1_window_days` of that anomaly's window an agency made a finding
  showing it lacks the licence or approval to make steel. The contract has no "licence"
  dimension and no shared violation codes (`violation_code` is each agency's own), so the
  findings that count are chosen by dimension, optionally narrowed by code
  (`c1_findings`). By default:

  * ``land_approval`` 用地审批 — every finding on this dimension is about the land-use approval;
  * ``product_quality`` 产品质量 — the production licence for steel products (生产许可证) is issued
    and checked by quality inspection (质检), whose dimension this is; the blacklist files a
    withdrawn production licence under the same dimension. A 地条钢 maker is typically found
    selling unlicensed, sub-standard rebar, so any quality finding against a foundry or special
    steel works counts unless the operator narrows it to the codes its quality bureau uses.

  Findings of severity below `c1_min_severity` (default ``minor``, so bare ``info`` notes) do not
  count.
- **C2 举报 + 用电异常.** A power anomaly and an open tip-off on the same enterprise within
  `c2_window_days` of each other, whatever the industry.

Decisions (the boundaries are tested):

- "Within N days" is the distance between the other fact's time (a finding's `occurred_at`, a
  tip-off's receipt) and the anomaly's window ``[window_start, window_end]``: zero inside it,
  and at most N days either side — exactly N days counts, a microsecond more does not.
- The other fact (the *partner*) must be open when the pair is complete: a finding not yet
  rectified, a tip-off neither closed nor verified as unsubstantiated. Retracted findings are not
  in the case file at all.
- Only what had happened by `at` counts: anomalies whose window ended, findings that occurred,
  tip-offs received at or before `at`.
- One escalation per rule and partner. It fires at the moment the pair was first complete,
  ``t* = max(partner time, earliest qualifying anomaly's window end)``, and cites the partner and
  every qualifying anomaly that had ended by t* (plus, for C1, the registration event that gives
  the industry). Later anomalies near the same partner do not escalate again: a partner already
  cited together with a power anomaly by any escalation in the case file (one of these, or an
  officer's own) is taken as escalated.
- The escalation's `event_id` is a UUIDv5 over rule id, enterprise and the sorted cause ids
  (anomalies and partner), so every evaluation of the same causes yields the same id; if the
  case file already holds an escalation with that id, nothing is returned.
- A tip-off is cited by its first event in canonical order (normally 接到举报): citing its later
  stages would make the cause set, and so the id, depend on when the rule ran.
- The escalated case is the enterprise's open case opened last; with none open, a case id is
  made from `case_id_prefix`, the enterprise and the escalation id (an escalation of an unknown
  case opens it in the case file).

`correlate` is a pure function of the case file, `at` and the config.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from events import envelope as e
from events.dimensions import DIMENSION_NAMES, SEVERITY_NAMES, Dimension, Severity
from events.payloads import AnomalyKind, CaseEscalatedPayload, Industry
from events.streams import Stream
from projections.asof import require_aware
from projections.casefile import (
    CaseActionKind,
    CaseFile,
    CaseState,
    Finding,
    PowerAnomaly,
    TipOff,
    utc,
)

_NAMESPACE = uuid5(NAMESPACE_URL, "urn:jointcase:correlation")
_MAX_CITED = 1000  # EventRefs in CaseEscalatedPayload

_INDUSTRY_NAMES: dict[Industry, tuple[str, str]] = {
    Industry.STEEL: ("钢铁冶炼", "steel"),
    Industry.SPECIAL_STEEL: ("特钢", "special steel"),
    Industry.FOUNDRY: ("铸造", "foundry"),
    Industry.ROLLING: ("轧钢", "rolling"),
    Industry.OTHER: ("其他", "other"),
}
_ANOMALY_NAMES: dict[AnomalyKind, tuple[str, str]] = {
    AnomalyKind.NIGHT_USE: ("夜间用电明显高于白天", "night use"),
    AnomalyKind.SUDDEN_JUMP: ("用电量突增", "sudden jump"),
    AnomalyKind.LARGE_SWING: ("用电量大幅波动", "large swing"),
}


# C1's default findings: any code on land approval (用地审批) or product quality (产品质量, where
# the production licence 生产许可证 is checked).
_C1_DEFAULT_DIMENSIONS = (Dimension.LAND_APPROVAL, Dimension.PRODUCT_QUALITY)
_ANY_CODE: tuple[str, ...] = ()


class RuleId(StrEnum):
    C1 = "C1"  # 疑似地条钢: 铸造/特钢 + 用电异常 + 缺少生产许可或用地审批
    C2 = "C2"  # 举报 + 用电异常


RULE_TITLES: dict[RuleId, tuple[str, str]] = {
    RuleId.C1: ("疑似地条钢", "Suspected illegal steel (地条钢)"),
    RuleId.C2: ("举报与用电异常", "Tip-off and power anomaly"),
}


# --- configuration --------------------------------------------------------------------


class CorrelationConfigError(ValueError):
    """A correlation configuration that cannot be used; the message names every bad field."""


class CorrelationConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    anomaly_kinds: tuple[AnomalyKind, ...] = tuple(AnomalyKind)
    c1_window_days: int = Field(default=30, ge=0, le=3650)
    c1_industries: tuple[Industry, ...] = (Industry.FOUNDRY, Industry.SPECIAL_STEEL)
    c1_findings: dict[Dimension, tuple[str, ...]] = Field(
        default_factory=lambda: dict.fromkeys(_C1_DEFAULT_DIMENSIONS, _ANY_CODE),
        description="dimension -> violation codes that count (none listed: every code)",
    )
    c1_min_severity: Severity = Severity.MINOR
    c1_level: str = Field(default="省级 province", min_length=1, max_length=200)
    c2_window_days: int = Field(default=30, ge=0, le=3650)
    c2_level: str = Field(default="市级 city", min_length=1, max_length=200)
    case_id_prefix: str = Field(default="联动-", min_length=1, max_length=50)

    @field_validator("anomaly_kinds", "c1_industries")
    @classmethod
    def _some_sorted(cls, value: tuple[StrEnum, ...]) -> tuple[StrEnum, ...]:
        if not value:
            raise ValueError("name at least one")
        return tuple(sorted(set(value)))

    @field_validator("c1_findings")
    @classmethod
    def _codes(cls, value: dict[Dimension, tuple[str, ...]]) -> dict[Dimension, tuple[str, ...]]:
        if not value:
            raise ValueError("name at least one dimension")
        for dim, codes in value.items():
            if any(not c.strip() for c in codes):
                raise ValueError(f"blank violation code under {dim.value}")
        return {d: tuple(sorted({c.strip() for c in value[d]})) for d in sorted(value)}

    def window(self, rule: RuleId) -> timedelta:
        return timedelta(days=self.c1_window_days if rule is RuleId.C1 else self.c2_window_days)

    def level(self, rule: RuleId) -> str:
        return self.c1_level if rule is RuleId.C1 else self.c2_level


DEFAULT_CORRELATION = CorrelationConfig()


def load_correlation_config(source: Mapping[str, Any] | str | bytes) -> CorrelationConfig:
    """A configuration from a mapping or JSON text; raises `CorrelationConfigError` naming each
    bad field."""
    try:
        if isinstance(source, str | bytes):
            return CorrelationConfig.model_validate_json(source)
        return CorrelationConfig.model_validate(dict(source))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(config)'}: "
            f"{err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors(include_url=False, include_input=False)
        )
        raise CorrelationConfigError(f"invalid correlation config: {problems}") from None


# --- escalations ----------------------------------------------------------------------


class Escalation(BaseModel):
    """An escalation a rule calls for. `cause_ids` (anomalies and the partner, sorted) make the
    `event_id`; `cited_event_ids` adds the context (the registration giving the industry)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    rule_id: RuleId
    enterprise: str
    case_id: str
    level: str
    occurred_at: datetime
    cause_ids: tuple[UUID, ...]
    cited_event_ids: tuple[UUID, ...]
    causation_id: UUID
    reason: str


def escalation_event_id(rule: RuleId, enterprise: str, cause_ids: Sequence[UUID]) -> UUID:
    causes = ",".join(sorted(str(i) for i in cause_ids))
    return uuid5(_NAMESPACE, f"{rule.value}|{enterprise}|{causes}")


@dataclass(frozen=True, slots=True)
class _Partner:
    """The non-power side of a pair: a finding (C1) or a tip-off (C2)."""

    at: datetime
    cited_id: UUID
    ids: frozenset[UUID]  # any of these, cited with an anomaly, means already escalated
    open_at: Callable[[datetime], bool]
    label_zh: str
    label_en: str


def _gap(t: datetime, a: PowerAnomaly) -> timedelta:
    if t < a.window_start:
        return a.window_start - t
    if t > a.window_end:
        return t - a.window_end
    return timedelta(0)


def _finding_partner(f: Finding) -> _Partner:
    def open_at(t: datetime) -> bool:
        return f.rectified_at is None or f.rectified_at > t

    dim_zh, dim_en = DIMENSION_NAMES[f.dimension]
    return _Partner(
        at=f.occurred_at,
        cited_id=f.finding_id,
        ids=frozenset({f.finding_id}),
        open_at=open_at,
        label_zh=f"{f.agency_zh}{SEVERITY_NAMES[f.severity][0]}{dim_zh}问题发现（{f.violation_code}）",
        label_en=f"a {f.severity.value} {dim_en} finding by {f.agency_en} ({f.violation_code})",
    )


def _tipoff_partner(tip: TipOff) -> _Partner | None:
    start = tip.received_at or tip.verified_at
    if start is None or not tip.source_event_ids:
        return None  # known only from its closing: it was never open in this record

    def open_at(t: datetime) -> bool:
        if tip.closed_at is not None and tip.closed_at <= t:
            return False  # 查处: handled
        dismissed = tip.substantiated is False and tip.verified_at is not None
        return not (dismissed and tip.verified_at is not None and tip.verified_at <= t)

    return _Partner(
        at=start,
        cited_id=tip.source_event_ids[0],
        ids=frozenset(tip.source_event_ids),
        open_at=open_at,
        label_zh=f"举报 {tip.tipoff_id}（{tip.channel or '渠道不详'}）",
        label_en=f"tip-off {tip.tipoff_id} ({tip.channel or 'channel unknown'})",
    )


def _c1_counts(f: Finding, config: CorrelationConfig) -> bool:
    if f.severity.rank < config.c1_min_severity.rank:
        return False
    codes = config.c1_findings.get(f.dimension)
    if codes is None:
        return False
    return not codes or f.violation_code.strip().casefold() in {c.casefold() for c in codes}


def _case_id(case_file: CaseFile, event_id: UUID, config: CorrelationConfig) -> str:
    open_cases = [c for c in case_file.cases if c.state is CaseState.OPEN]
    if open_cases:
        latest = max(open_cases, key=lambda c: (c.opened_at or c.actions[0].occurred_at, c.case_id))
        return latest.case_id
    return f"{config.case_id_prefix}{case_file.uscc}-{str(event_id)[:8]}"


def _kinds(anomalies: Sequence[PowerAnomaly]) -> tuple[str, str]:
    kinds = [k for k in AnomalyKind if any(a.kind is k for a in anomalies)]
    return (
        "、".join(_ANOMALY_NAMES[k][0] for k in kinds),
        ", ".join(_ANOMALY_NAMES[k][1] for k in kinds),
    )


def _reason(
    rule: RuleId,
    partner: _Partner,
    anomalies: Sequence[PowerAnomaly],
    days: int,
    industry: Industry | None,
) -> str:
    n = len(anomalies)
    kinds_zh, kinds_en = _kinds(anomalies)
    plural = "anomaly" if n == 1 else "anomalies"
    first = anomalies[0].window_start.date().isoformat()
    if rule is RuleId.C1 and industry is not None:
        ind_zh, ind_en = _INDUSTRY_NAMES[industry]
        return (
            f"疑似地条钢（规则 C1）：{ind_zh}企业自 {first} 起用电异常 {n} 次（{kinds_zh}），"
            f"{days} 天内有{partner.label_zh}，与假借{ind_zh}名义生产“地条钢”的特征相符，"
            f"提请联合调查。\n"
            f"Suspected illegal steel (地条钢, rule C1): a {ind_en} enterprise with {n} power "
            f"{plural} ({kinds_en}) from {first}, within {days} days of {partner.label_en}."
        )
    return (
        f"举报与用电异常（规则 C2）：自 {first} 起用电异常 {n} 次（{kinds_zh}），"
        f"{days} 天内有未办结的{partner.label_zh}，提请核查。\n"
        f"Tip-off and power anomaly (rule C2): {n} power {plural} ({kinds_en}) from {first}, "
        f"within {days} days of open {partner.label_en}."
    )


@dataclass(frozen=True, slots=True)
class _Context:
    case_file: CaseFile
    at: datetime
    config: CorrelationConfig
    anomalies: tuple[PowerAnomaly, ...]  # of the configured kinds, ended by `at`
    all_anomaly_ids: frozenset[UUID]
    escalation_ids: frozenset[UUID]
    escalation_citations: tuple[frozenset[UUID], ...]


def _escalation(
    ctx: _Context,
    rule: RuleId,
    partner: _Partner,
    context_ids: Sequence[UUID] = (),
    industry: Industry | None = None,
) -> Escalation | None:
    if partner.at > ctx.at:
        return None
    window = ctx.config.window(rule)
    near = sorted(
        (a for a in ctx.anomalies if _gap(partner.at, a) <= window),
        key=lambda a: (a.window_end, a.event_id),
    )
    if not near:
        return None
    first = near[0]
    complete_at = max(partner.at, first.window_end)
    if not partner.open_at(complete_at):
        return None
    # The partner already went up together with the power evidence: later anomalies near it
    # add nothing the joint investigation team (联合调查组) has not been told.
    for cited in ctx.escalation_citations:
        if cited & partner.ids and cited & ctx.all_anomaly_ids:
            return None
    room = _MAX_CITED - 1 - len(context_ids)
    cited_anomalies = [a for a in near if a.window_end <= complete_at][:room]
    cause_ids = (*(a.event_id for a in cited_anomalies), partner.cited_id)
    event_id = escalation_event_id(rule, ctx.case_file.uscc, cause_ids)
    if event_id in ctx.escalation_ids:
        return None
    causation = partner.cited_id if partner.at >= first.window_end else first.event_id
    return Escalation(
        event_id=event_id,
        rule_id=rule,
        enterprise=ctx.case_file.uscc,
        case_id=_case_id(ctx.case_file, event_id, ctx.config),
        level=ctx.config.level(rule),
        occurred_at=complete_at,
        cause_ids=tuple(sorted(cause_ids)),
        cited_event_ids=tuple(dict.fromkeys((*cause_ids, *context_ids))),
        causation_id=causation,
        reason=_reason(rule, partner, cited_anomalies, window.days, industry),
    )


def correlate(
    case_file: CaseFile, *, at: datetime, config: CorrelationConfig = DEFAULT_CORRELATION
) -> list[Escalation]:
    """The escalations the rules call for on this case file at time `at`, not yet in it.

    Ordered by when each became due, then rule and id. Evaluating again after the escalations
    are in the case file returns nothing for them."""
    at = utc(require_aware(at, "at"))
    anomalies = tuple(
        a
        for a in case_file.power_anomalies
        if a.kind in config.anomaly_kinds and a.window_end <= at
    )
    if not anomalies:
        return []
    escalations = [
        action
        for case in case_file.cases
        for action in case.actions
        if action.action is CaseActionKind.ESCALATED
    ]
    ctx = _Context(
        case_file=case_file,
        at=at,
        config=config,
        anomalies=anomalies,
        all_anomaly_ids=frozenset(a.event_id for a in case_file.power_anomalies),
        escalation_ids=frozenset(x.event_id for x in escalations),
        escalation_citations=tuple(frozenset(x.cited_event_ids) for x in escalations),
    )
    found: list[Escalation | None] = []
    industry = case_file.enterprise.industry
    if industry is not None and industry.value in config.c1_industries:
        for f in case_file.findings:
            if _c1_counts(f, config):
                found.append(
                    _escalation(
                        ctx,
                        RuleId.C1,
                        _finding_partner(f),
                        industry.source_event_ids,
                        industry.value,
                    )
                )
    for tip in case_file.tipoffs:
        partner = _tipoff_partner(tip)
        if partner is not None:
            found.append(_escalation(ctx, RuleId.C2, partner))
    out = [x for x in found if x is not None]
    out.sort(key=lambda x: (x.occurred_at, x.rule_id, x.event_id))
    return out


def to_event(escalation: Escalation, *, now: datetime, actor: str) -> e.CaseEscalated:
    """The `CaseEscalated` event (stream `taskforce`) of an escalation: it occurred when the
    rule's pair was complete and is recorded `now`; its causation is the event that completed
    the pair. The rule is named in the reason (the payload has no rule field)."""
    if now < escalation.occurred_at:
        raise ValueError(
            f"escalation due at {escalation.occurred_at.isoformat()} recorded before it, "
            f"at {now.isoformat()}"
        )
    return e.CaseEscalated(
        event_id=escalation.event_id,
        stream=Stream.TASKFORCE,
        enterprise=escalation.enterprise,
        occurred_at=escalation.occurred_at,
        recorded_at=now,
        actor=actor,
        causation_id=escalation.causation_id,
        payload=CaseEscalatedPayload(
            case_id=escalation.case_id,
            level=escalation.level,
            reason=escalation.reason,
            cited_event_ids=list(escalation.cited_event_ids),
        ),
    )
