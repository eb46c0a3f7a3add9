"""The credit-blacklist status of one enterprise (信用黑名单): rules R1–R5 of DESIGN §5.

`evaluate(events, at, policy)` is a pure function of the event set and the evaluation time `at`.
It reads the world as it stood at `at`: events that occurred after `at` have not happened yet
(their time is when the answer may next change), so `evaluate(events, D)` answers "was this
enterprise listed on date D?", and `evaluate(as_of(events, T), D)` the same with only what had
been recorded by T.

Each rule yields *listings*, intervals [started_at, ended_at) with a basis; the status is the
highest effect among the listings active at `at`, else WATCH when a serious finding or a case is
open, else CLEAR.

Decisions (the boundaries are tested):

- R1 地条钢: each `IllegalSteelConfirmed` opens a BLACKLISTED listing at its occurred_at.
- R2 missed reduction target: dismantled tonnage is credited to targets by the capacity ledger
  (`projections.casefile`): only equipment registered with its product and tonnage counts, only
  dismantling at or after the target was first set, and each tonne once (earliest deadline
  first). A target is *met* when the credited iron and steel tonnes both reach it. A deadline
  has *passed* when ``deadline <= at``; a dismantling at exactly the deadline is on time. A target
  not met by its deadline opens a CREDIT_RESTRICTED listing at the deadline, which ends
  (rectification) when later dismantling completes the tonnage.
- R3 joint serious violations: the findings that stand (not retracted, severity after
  amendments in `policy.serious_severities`) are swept in occurred_at order; a listing opens at
  the first moment some window of `r3_window_days` days, ``[t - 365 days, t]`` with both ends
  included, holds findings from `r3_min_agencies` distinct agencies that are not rectified at t.
  "Within 365 days" is read as the findings lying within 365 days of each other, not as "in the
  last 365 days before `at`": a serious-dishonesty listing is then published for the full
  publication period rather than fading as findings age. Findings used by a listing are not used
  again, so a later listing needs a fresh set. A rectification after the listing opened does not
  end it (the listing ends by repair or expiry, DESIGN §5); so the end of a 365-day window
  never changes the answer.
- R4: a `PenaltyImposed` of a kind in `policy.r4_penalty_kinds` opens a CREDIT_RESTRICTED listing,
  ended by a `RectificationVerified` naming the penalty.
- R5: a replacement approving more new than retired capacity opens a CREDIT_RESTRICTED listing at
  its approval, ended when later dismantling makes up the excess.
- Leaving: BLACKLISTED listings expire `publication_years` after they began (at that instant
  they are no longer active). A `CreditRepairApproved` (for its `rule_id`, or for every listing
  when it names none) ends a listing active at its time if at least `repair_min_years` have
  passed since the listing began (exactly that long is enough); otherwise it is recorded as
  refused and the listing stays. Years are calendar years in UTC (29 February → 28 February).

The bank-facing status holds statuses, dates, rule ids, agencies, dimensions and event ids: never
a finding's description or evidence, nor any free text from an event.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from events.dimensions import Dimension
from events.payloads import PenaltyKind
from events.registry import Event
from events.streams import Stream
from projections.asof import require_aware
from projections.casefile import (
    CaseActionKind,
    CaseFile,
    CaseState,
    Finding,
    Ids,
    build_case_file,
    dimensions_in_order,
    shaping_events,
    streams_in_order,
    utc,
)
from projections.policy import (
    DEFAULT_POLICY,
    RULES,
    CreditStatus,
    Measure,
    Policy,
    RuleId,
)

# The dimension a listing is about when its events carry none.
_R1_DIMENSIONS = (Dimension.CAPACITY_REPLACEMENT, Dimension.PRODUCT_QUALITY)  # 违规产能, 产品质量
_CAPACITY_DIMENSIONS = (Dimension.CAPACITY_REPLACEMENT,)  # 产能置换 / 压减产能 (MIIT)
_PENALTY_DIMENSION = {
    PenaltyKind.DISCHARGE_PERMIT_REVOKED: Dimension.ENVIRONMENTAL_PROTECTION,
    PenaltyKind.PRODUCTION_LICENCE_WITHDRAWN: Dimension.PRODUCT_QUALITY,
    PenaltyKind.SAFETY_LICENCE_WITHDRAWN: Dimension.WORK_SAFETY,
    PenaltyKind.LAND_APPROVAL_REVOKED: Dimension.LAND_APPROVAL,
    PenaltyKind.BUSINESS_LICENCE_REVOKED: Dimension.REGISTRATION,
}


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ListingEnd(StrEnum):
    REPAIR = "repair"  # 信用修复
    RECTIFICATION = "rectification"  # 整改完成
    EXPIRY = "expiry"  # 公示期满


class Basis(Model):
    """Why a listing exists: the rule (under which policy version) and the events behind it."""

    rule_id: RuleId
    rule_title_zh: str
    rule_title_en: str
    policy_id: str
    policy_version: str
    event_ids: Ids
    agencies: tuple[Stream, ...]
    dimensions: tuple[Dimension, ...]


class RefusedRepair(Model):
    event_id: UUID
    at: datetime
    reason_zh: str
    reason_en: str


class Listing(Model):
    """A listing active at the evaluation time."""

    listing_id: str
    rule_id: RuleId
    status: CreditStatus
    started_at: datetime
    publication_ends_at: datetime | None  # BLACKLISTED only: when it expires unless repaired
    repair_eligible_from: datetime
    repair_eligible: bool
    measures: Measure
    basis: Basis
    refused_repairs: tuple[RefusedRepair, ...]


class EndedListing(Model):
    """A listing that ended (tombstone): it answers "was it listed on date D?"."""

    listing_id: str
    rule_id: RuleId
    status: CreditStatus
    started_at: datetime
    ended_at: datetime
    ended_by: ListingEnd
    end_event_ids: Ids
    basis: Basis
    refused_repairs: tuple[RefusedRepair, ...]


class WatchBasis(Model):
    """Open items that put an enterprise on WATCH (shown whenever they exist)."""

    open_serious_findings: int
    open_cases: int
    event_ids: Ids
    agencies: tuple[Stream, ...]
    dimensions: tuple[Dimension, ...]


class BlacklistStatus(Model):
    uscc: str | None
    policy_id: str
    policy_version: str
    evaluated_at: datetime
    status: CreditStatus
    since: datetime | None  # when the current status began; None if never anything but CLEAR
    publication_ends_at: datetime | None  # BLACKLISTED: the latest end of the active listings
    measures: tuple[Measure, ...]
    listings: tuple[Listing, ...]
    watch: WatchBasis | None
    history: tuple[EndedListing, ...]
    next_change_at: datetime | None  # re-evaluate then: the answer may change without an event


class RuleExplanation(Model):
    """Why a rule did or did not list the enterprise, without investigation details."""

    rule_id: RuleId
    title_zh: str
    title_en: str
    effect: CreditStatus
    policy_id: str
    policy_version: str
    fired: bool  # a listing under this rule began at or before the evaluation time
    active: bool  # one is active at the evaluation time
    reason_zh: str
    reason_en: str
    event_ids: Ids  # the events the rule considered


# --- time -----------------------------------------------------------------------------


def add_years(t: datetime, years: int) -> datetime:
    """The same calendar date `years` later; 29 February becomes 28 February."""
    try:
        return t.replace(year=t.year + years)
    except ValueError:
        return t.replace(year=t.year + years, day=28)


def _fmt(t: datetime) -> str:
    return utc(t).strftime("%Y-%m-%d %H:%M UTC")


# --- listings as intervals ------------------------------------------------------------


@dataclass
class _Span:
    rule: RuleId
    listing_id: str
    start: datetime
    event_ids: Ids
    agencies: tuple[Stream, ...]
    dimensions: tuple[Dimension, ...]
    # The end set by the rule's own events (rectification), if any.
    end: datetime | None = None
    ended_by: ListingEnd | None = None
    end_event_ids: Ids = ()
    refused: list[RefusedRepair] = field(default_factory=list)

    @property
    def status(self) -> CreditStatus:
        return RULES[self.rule].effect

    def end_at(self, t: datetime, by: ListingEnd, ids: Ids) -> None:
        if self.end is None or t < self.end:
            self.end, self.ended_by, self.end_event_ids = t, by, ids


def _r1(cf: CaseFile) -> list[_Span]:
    return [
        _Span(
            rule=RuleId.R1,
            listing_id=f"R1:{x.event_id}",
            start=x.occurred_at,
            event_ids=(x.event_id,),
            agencies=(x.stream,),
            dimensions=_R1_DIMENSIONS,
        )
        for x in cf.illegal_steel
    ]


def _r2(cf: CaseFile, at: datetime) -> list[_Span]:
    spans = []
    for t in cf.capacity.targets:
        if t.deadline > at or t.met_by_deadline:
            continue
        span = _Span(
            rule=RuleId.R2,
            listing_id=f"R2:{t.target_id}",
            # A target set after its own deadline is overdue from the moment it is set.
            start=max(t.deadline, t.set_at),
            event_ids=(*t.set_event_ids, *t.overdue_notice_ids),
            agencies=t.streams,
            dimensions=_CAPACITY_DIMENSIONS,
        )
        if t.met_at is not None:
            ids = tuple(dict.fromkeys(a.dismantling_id for a in t.allocations))
            span.end_at(t.met_at, ListingEnd.RECTIFICATION, ids)
        spans.append(span)
    return spans


@dataclass
class _R3Stats:
    """What the R3 sweep saw, for `explain`."""

    considered: list[UUID] = field(default_factory=list)
    below_threshold: int = 0
    rectified_before_counting: int = 0
    most_agencies_in_a_window: int = 0


@dataclass
class _Candidate:
    finding: Finding
    valid: bool = True  # not rectified yet


def _r3(cf: CaseFile, policy: Policy) -> tuple[list[_Span], _R3Stats]:
    stats = _R3Stats()
    serious = []
    for f in cf.findings:  # in canonical order
        if f.severity in policy.serious_severities:
            serious.append(f)
            stats.considered.append(f.finding_id)
        else:
            stats.below_threshold += 1
    width = timedelta(days=policy.r3_window_days)
    spans: list[_Span] = []
    window: deque[_Candidate] = deque()
    per_agency: dict[Stream, int] = {}
    rectifications: list[tuple[datetime, int, _Candidate]] = []  # heap by rectification time
    seq = 0

    def drop(c: _Candidate) -> None:
        if c.valid:
            c.valid = False
            per_agency[c.finding.stream] -= 1
            if not per_agency[c.finding.stream]:
                del per_agency[c.finding.stream]

    i = 0
    while i < len(serious):
        now = serious[i].occurred_at
        while rectifications and rectifications[0][0] <= now:
            drop(heapq.heappop(rectifications)[2])
        # Findings of the same instant enter together, so none is left out of a listing.
        while i < len(serious) and serious[i].occurred_at == now:
            f = serious[i]
            i += 1
            if f.rectified_at is not None and f.rectified_at <= now:
                stats.rectified_before_counting += 1
                continue
            c = _Candidate(f)
            window.append(c)
            per_agency[f.stream] = per_agency.get(f.stream, 0) + 1
            if f.rectified_at is not None:
                seq += 1
                heapq.heappush(rectifications, (f.rectified_at, seq, c))
        while window and window[0].finding.occurred_at < now - width:
            drop(window.popleft())
        stats.most_agencies_in_a_window = max(stats.most_agencies_in_a_window, len(per_agency))
        if len(per_agency) >= policy.r3_min_agencies:
            basis = [c.finding for c in window if c.valid]
            spans.append(
                _Span(
                    rule=RuleId.R3,
                    listing_id=f"R3:{basis[0].finding_id}",
                    start=now,
                    event_ids=tuple(
                        i
                        for f in basis
                        for i in (f.finding_id, *(a.event_id for a in f.amendments))
                    ),
                    agencies=streams_in_order(f.stream for f in basis),
                    dimensions=dimensions_in_order(f.dimension for f in basis),
                )
            )
            # Findings behind a listing are used up: a later listing needs new ones.
            window.clear()
            per_agency.clear()
            rectifications.clear()
    return spans, stats


def _r4(cf: CaseFile, policy: Policy) -> list[_Span]:
    dims_of = {f.finding_id: f.dimension for f in cf.findings}
    spans = []
    for p in cf.penalties:
        if p.kind not in policy.r4_penalty_kinds:
            continue
        dims = [dims_of[i] for i in p.finding_ids]
        if p.kind in _PENALTY_DIMENSION:
            dims.append(_PENALTY_DIMENSION[p.kind])
        span = _Span(
            rule=RuleId.R4,
            listing_id=f"R4:{p.penalty_id}",
            start=p.occurred_at,
            event_ids=(p.penalty_id, *p.finding_ids),
            agencies=(p.stream,),
            dimensions=dimensions_in_order(dims),
        )
        if p.rectified_at is not None:
            span.end_at(p.rectified_at, ListingEnd.RECTIFICATION, p.rectification_ids[:1])
        spans.append(span)
    return spans


def _r5(cf: CaseFile) -> list[_Span]:
    spans = []
    for r in cf.capacity.replacements:
        if not r.exceeds_retired:
            continue
        span = _Span(
            rule=RuleId.R5,
            listing_id=f"R5:{r.project_id}",
            start=r.approved_at,
            event_ids=r.approval_event_ids,
            agencies=r.streams,
            dimensions=_CAPACITY_DIMENSIONS,
        )
        if r.made_up_at is not None:
            ids = tuple(dict.fromkeys(a.dismantling_id for a in r.allocations))
            span.end_at(r.made_up_at, ListingEnd.RECTIFICATION, ids)
        spans.append(span)
    return spans


def _apply_leaving(spans: list[_Span], cf: CaseFile, policy: Policy) -> None:
    """Publication periods, then credit repairs (信用修复) in their order."""
    for s in spans:
        if s.status is CreditStatus.BLACKLISTED:
            s.end_at(add_years(s.start, policy.publication_years), ListingEnd.EXPIRY, ())
    for repair in cf.credit_repairs:
        t = repair.occurred_at
        for s in spans:
            if repair.rule_id is not None and repair.rule_id != s.rule.value:
                continue
            if not (s.start <= t and (s.end is None or t < s.end)):
                continue  # not listed at the time of the repair
            eligible = add_years(s.start, policy.repair_min_years)
            if t >= eligible:
                s.end_at(t, ListingEnd.REPAIR, (repair.event_id,))
            else:
                s.refused.append(
                    RefusedRepair(
                        event_id=repair.event_id,
                        at=t,
                        reason_zh=(
                            f"未满{policy.repair_min_years}年最短公示期：自{_fmt(s.start)}起列入，"
                            f"{_fmt(eligible)}起方可修复"
                        ),
                        reason_en=(
                            f"minimum period of {policy.repair_min_years} year(s) not reached: "
                            f"listed since {_fmt(s.start)}, repair possible from {_fmt(eligible)}"
                        ),
                    )
                )


# --- the evaluation -------------------------------------------------------------------


@dataclass
class _Evaluation:
    uscc: str | None
    at: datetime
    case_file: CaseFile | None
    spans: list[_Span]
    r3: _R3Stats
    first_future: datetime | None


def _run(events: Iterable[Event], at: datetime, policy: Policy, uscc: str | None) -> _Evaluation:
    at = utc(require_aware(at, "at"))
    ordered = shaping_events(events)
    codes = {ev.enterprise for ev in ordered} | ({uscc} if uscc else set())
    if len(codes) > 1:
        raise ValueError(f"events of several enterprises in one evaluation: {sorted(codes)}")
    code = next(iter(codes), None)
    happened = [ev for ev in ordered if ev.occurred_at <= at]
    future = [ev.occurred_at for ev in ordered if ev.occurred_at > at]
    first_future = utc(min(future)) if future else None
    if code is None:
        return _Evaluation(None, at, None, [], _R3Stats(), first_future)
    cf = build_case_file(happened, uscc=code, include_timeline=False)
    return _from_case_file(cf, at, policy, first_future)


def _from_case_file(
    cf: CaseFile, at: datetime, policy: Policy, first_future: datetime | None
) -> _Evaluation:
    r3, stats = _r3(cf, policy)
    spans = [*_r1(cf), *_r2(cf, at), *r3, *_r4(cf, policy), *_r5(cf)]
    _apply_leaving(spans, cf, policy)
    # A listing ended at or before it began never was.
    spans = [s for s in spans if s.end is None or s.end > s.start]
    spans.sort(key=lambda s: (s.start, s.rule, s.listing_id))
    return _Evaluation(cf.uscc, at, cf, spans, stats, first_future)


def _basis(s: _Span, policy: Policy) -> Basis:
    info = RULES[s.rule]
    return Basis(
        rule_id=s.rule,
        rule_title_zh=info.title_zh,
        rule_title_en=info.title_en,
        policy_id=policy.policy_id,
        policy_version=policy.version,
        event_ids=s.event_ids,
        agencies=s.agencies,
        dimensions=s.dimensions,
    )


def _watch_intervals(cf: CaseFile, policy: Policy) -> Iterator[tuple[datetime, datetime | None]]:
    """When each watch reason was open: serious findings until rectified, cases until closed."""
    for f in cf.findings:
        if f.severity in policy.serious_severities:
            yield f.occurred_at, f.rectified_at
    for case in cf.cases:
        opened: datetime | None = None
        for i, a in enumerate(case.actions):
            if a.action is CaseActionKind.OPENED or (
                i == 0 and a.action is not CaseActionKind.CLOSED
            ):
                opened = opened or a.occurred_at
            elif a.action is CaseActionKind.CLOSED and opened is not None:
                yield opened, a.occurred_at
                opened = None
        if opened is not None:
            yield opened, None


def _status_since(ev: _Evaluation, policy: Policy) -> tuple[CreditStatus, datetime | None]:
    """Sweep every start and end up to `at`: the status now, and when it last changed."""
    assert ev.case_file is not None
    points: list[tuple[datetime, CreditStatus, int]] = []
    for s in ev.spans:
        points.append((s.start, s.status, 1))
        if s.end is not None and s.end <= ev.at:
            points.append((s.end, s.status, -1))
    for start, end in _watch_intervals(ev.case_file, policy):
        if end is not None and end <= start:
            continue
        points.append((start, CreditStatus.WATCH, 1))
        if end is not None and end <= ev.at:
            points.append((end, CreditStatus.WATCH, -1))
    points.sort(key=lambda p: p[0])
    open_: dict[CreditStatus, int] = dict.fromkeys(CreditStatus, 0)
    status, since = CreditStatus.CLEAR, None
    i = 0
    while i < len(points):
        t = points[i][0]
        while i < len(points) and points[i][0] == t:
            open_[points[i][1]] += points[i][2]
            i += 1
        now = max((s for s, n in open_.items() if n > 0), key=lambda s: s.rank, default=None)
        now = now or CreditStatus.CLEAR
        if now is not status:
            status, since = now, t
    return status, since


def evaluate(
    events: Iterable[Event],
    at: datetime,
    policy: Policy = DEFAULT_POLICY,
    *,
    uscc: str | None = None,
) -> BlacklistStatus:
    """The blacklist status of one enterprise at `at` (timezone-aware) under `policy`.

    `uscc` names the enterprise when there are no events; a code with no events is CLEAR."""
    return _status(_run(events, at, policy, uscc), policy)


def evaluate_case_file(
    case_file: CaseFile, at: datetime, policy: Policy = DEFAULT_POLICY
) -> BlacklistStatus:
    """`evaluate` from a case file already built from the same events, saving a second fold.

    Valid only when no event of the case file occurred after `at` (the usual case: `at` is now);
    otherwise use `evaluate`, which leaves such events out."""
    at = utc(require_aware(at, "at"))
    if case_file.last_occurred_at is not None and case_file.last_occurred_at > at:
        raise ValueError(
            f"the case file holds events up to {case_file.last_occurred_at.isoformat()}, "
            f"after {at.isoformat()}: evaluate the events instead"
        )
    return _status(_from_case_file(case_file, at, policy, None), policy)


def _status(ev: _Evaluation, policy: Policy) -> BlacklistStatus:
    if ev.case_file is None:
        return BlacklistStatus(
            uscc=None,
            policy_id=policy.policy_id,
            policy_version=policy.version,
            evaluated_at=ev.at,
            status=CreditStatus.CLEAR,
            since=None,
            publication_ends_at=None,
            measures=(),
            listings=(),
            watch=None,
            history=(),
            next_change_at=ev.first_future,
        )
    at = ev.at
    listings, history = [], []
    changes: list[datetime] = [ev.first_future] if ev.first_future else []
    for s in ev.spans:
        basis = _basis(s, policy)
        refused = tuple(s.refused)
        if s.end is not None and s.end <= at:
            assert s.ended_by is not None
            history.append(
                EndedListing(
                    listing_id=s.listing_id,
                    rule_id=s.rule,
                    status=s.status,
                    started_at=s.start,
                    ended_at=s.end,
                    ended_by=s.ended_by,
                    end_event_ids=s.end_event_ids,
                    basis=basis,
                    refused_repairs=refused,
                )
            )
            continue
        eligible = add_years(s.start, policy.repair_min_years)
        measure = policy.measures.for_status(s.status)
        assert measure is not None
        listings.append(
            Listing(
                listing_id=s.listing_id,
                rule_id=s.rule,
                status=s.status,
                started_at=s.start,
                publication_ends_at=s.end if s.ended_by is ListingEnd.EXPIRY else None,
                repair_eligible_from=eligible,
                repair_eligible=eligible <= at,
                measures=measure,
                basis=basis,
                refused_repairs=refused,
            )
        )
        changes.extend(t for t in (s.end, eligible) if t is not None and t > at)
    cf = ev.case_file
    changes.extend(t.deadline for t in cf.capacity.targets if t.deadline > at and t.met_at is None)
    status, since = _status_since(ev, policy)
    # Every active BLACKLISTED listing expires; the status lasts until the last one does.
    ends = [x.publication_ends_at for x in listings if x.publication_ends_at is not None]
    measures = tuple(
        dict.fromkeys(x.measures for x in sorted(listings, key=lambda x: -x.status.rank))
    )
    return BlacklistStatus(
        uscc=ev.uscc,
        policy_id=policy.policy_id,
        policy_version=policy.version,
        evaluated_at=at,
        status=status,
        since=since,
        publication_ends_at=max(ends) if status is CreditStatus.BLACKLISTED and ends else None,
        measures=measures,
        listings=tuple(listings),
        watch=_watch(cf, policy),
        history=tuple(history),
        next_change_at=min(changes) if changes else None,
    )


def _watch(cf: CaseFile, policy: Policy) -> WatchBasis | None:
    findings = [
        f for f in cf.findings if f.severity in policy.serious_severities and f.rectified_at is None
    ]
    cases = [c for c in cf.cases if c.state is CaseState.OPEN]
    if not findings and not cases:
        return None
    return WatchBasis(
        open_serious_findings=len(findings),
        open_cases=len(cases),
        event_ids=(
            *(f.finding_id for f in findings),
            *(c.source_event_ids[0] for c in cases),
        ),
        agencies=streams_in_order(f.stream for f in findings),
        dimensions=dimensions_in_order(f.dimension for f in findings),
    )


# --- explain --------------------------------------------------------------------------


def _t(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.2f}"


_END_ZH = {
    ListingEnd.REPAIR: "信用修复",
    ListingEnd.RECTIFICATION: "整改完成",
    ListingEnd.EXPIRY: "公示期满",
}


def _describe(spans: list[_Span], at: datetime) -> tuple[list[str], list[str]]:
    zh, en = [], []
    for s in spans:
        agencies = ", ".join(a.value for a in s.agencies)
        if s.end is not None and s.end <= at:
            assert s.ended_by is not None
            zh.append(
                f"{_fmt(s.start)}起列入，{_fmt(s.end)}因{_END_ZH[s.ended_by]}移出（部门：{agencies}）"
            )
            en.append(
                f"listed {_fmt(s.start)}, ended {_fmt(s.end)} by {s.ended_by.value} "
                f"(agencies: {agencies})"
            )
        else:
            until_zh = f"，公示至{_fmt(s.end)}" if s.ended_by is ListingEnd.EXPIRY and s.end else ""
            until_en = (
                f", published until {_fmt(s.end)}"
                if s.ended_by is ListingEnd.EXPIRY and s.end
                else ""
            )
            zh.append(f"{_fmt(s.start)}起列入，现仍有效{until_zh}（部门：{agencies}）")
            en.append(f"listed since {_fmt(s.start)}, active{until_en} (agencies: {agencies})")
        for r in s.refused:
            zh.append(f"信用修复申请 {str(r.event_id)[:8]} 未予采纳：{r.reason_zh}")
            en.append(f"credit repair {str(r.event_id)[:8]} refused: {r.reason_en}")
    return zh, en


def _explain_r1(cf: CaseFile, at: datetime) -> tuple[str, str, Ids]:
    n = len(cf.illegal_steel)
    ids = tuple(x.event_id for x in cf.illegal_steel)
    if not n:
        return (
            f"截至{_fmt(at)}无地条钢认定。",
            f"No illegal-steel confirmation up to {_fmt(at)}.",
            ids,
        )
    return f"地条钢认定{n}起。", f"{n} illegal-steel (地条钢) confirmation(s).", ids


def _explain_r2(cf: CaseFile, at: datetime) -> tuple[str, str, Ids]:
    targets = cf.capacity.targets
    if not targets:
        return (
            f"截至{_fmt(at)}无压减产能目标。",
            f"No capacity-reduction target up to {_fmt(at)}.",
            (),
        )
    zh: list[str] = []
    en: list[str] = []
    ids: list[UUID] = []
    for t in targets:
        ids.extend((*t.set_event_ids, *t.overdue_notice_ids))
        ids.extend(dict.fromkeys(a.dismantling_id for a in t.allocations))
        head_zh = (
            f"目标 {t.target_id}：已拆除炼铁{_t(t.iron_dismantled_tonnes)}/{_t(t.iron_tonnes)}吨、"
            f"炼钢{_t(t.steel_dismantled_tonnes)}/{_t(t.steel_tonnes)}吨，期限{_fmt(t.deadline)}"
        )
        head_en = (
            f"target {t.target_id}: dismantled iron {_t(t.iron_dismantled_tonnes)} of "
            f"{_t(t.iron_tonnes)} t, steel {_t(t.steel_dismantled_tonnes)} of "
            f"{_t(t.steel_tonnes)} t; deadline {_fmt(t.deadline)}"
        )
        if t.met_by_deadline and t.met_at is not None:
            zh.append(f"{head_zh}，已于{_fmt(t.met_at)}按期完成")
            en.append(f"{head_en}: met on {_fmt(t.met_at)}, by the deadline")
        elif t.deadline > at:
            zh.append(f"{head_zh}，尚未到期")
            en.append(f"{head_en}: not yet due")
        elif t.met_at is not None:
            zh.append(f"{head_zh}，逾期，于{_fmt(t.met_at)}补足")
            en.append(f"{head_en}: missed, completed late on {_fmt(t.met_at)}")
        else:
            zh.append(f"{head_zh}，逾期未完成")
            en.append(f"{head_en}: missed and not completed")
    return "；".join(zh) + "。", "; ".join(en) + ".", tuple(ids)


def _explain_r3(cf: CaseFile, stats: _R3Stats, policy: Policy) -> tuple[str, str, Ids]:
    n, w, k = len(stats.considered), policy.r3_window_days, policy.r3_min_agencies
    severities = "/".join(s.value for s in policy.serious_severities)
    zh = (
        f"考虑有效的严重（{severities}）发现{n}项；任一{w}天窗口内最多涉及{stats.most_agencies_in_a_window}"
        f"个部门，需{k}个。未计入：已撤销{len(cf.retracted_findings)}项，"
        f"严重程度不足{stats.below_threshold}项，计入前已整改{stats.rectified_before_counting}项。"
    )
    en = (
        f"{n} standing {severities} finding(s) considered; at most "
        f"{stats.most_agencies_in_a_window} agencies within any {w}-day window, {k} needed. "
        f"Not counted: {len(cf.retracted_findings)} retracted, {stats.below_threshold} below "
        f"that severity, {stats.rectified_before_counting} rectified before they could count."
    )
    return zh, en, tuple(stats.considered)


def _explain_r4(cf: CaseFile, policy: Policy) -> tuple[str, str, Ids]:
    hits = [p for p in cf.penalties if p.kind in policy.r4_penalty_kinds]
    kinds = ", ".join(k.value for k in policy.r4_penalty_kinds)
    others = len(cf.penalties) - len(hits)
    zh = f"触发本规则的处罚（{kinds}）{len(hits)}项；其他处罚{others}项不触发本规则。"
    en = f"{len(hits)} penalty(ies) of the kinds {kinds}; {others} other penalty(ies) do not apply."
    return zh, en, tuple(p.penalty_id for p in cf.penalties)


def _explain_r5(cf: CaseFile, at: datetime) -> tuple[str, str, Ids]:
    reps = cf.capacity.replacements
    if not reps:
        return (
            f"截至{_fmt(at)}无产能置换批复。",
            f"No capacity replacement approved up to {_fmt(at)}.",
            (),
        )
    zh: list[str] = []
    en: list[str] = []
    ids: list[UUID] = []
    for r in reps:
        ids.extend(r.approval_event_ids)
        ids.extend(dict.fromkeys(a.dismantling_id for a in r.allocations))
        head_zh = (
            f"项目 {r.project_id}：新建{_t(r.new_capacity_tonnes)}吨，"
            f"退出{_t(r.retired_capacity_tonnes)}吨"
        )
        head_en = (
            f"project {r.project_id}: new {_t(r.new_capacity_tonnes)} t, "
            f"retired {_t(r.retired_capacity_tonnes)} t"
        )
        if not r.exceeds_retired:
            zh.append(f"{head_zh}，等量或减量置换")
            en.append(f"{head_en}: equal or less (等量或减量)")
        elif r.made_up_at is not None:
            zh.append(f"{head_zh}，超出{_t(r.excess_tonnes)}吨，已于{_fmt(r.made_up_at)}补足")
            en.append(
                f"{head_en}: exceeds by {_t(r.excess_tonnes)} t, made up on {_fmt(r.made_up_at)}"
            )
        else:
            zh.append(f"{head_zh}，超出{_t(r.excess_tonnes)}吨，尚未补足")
            en.append(f"{head_en}: exceeds by {_t(r.excess_tonnes)} t, not made up")
    return "；".join(zh) + "。", "; ".join(en) + ".", tuple(ids)


def explain(
    events: Iterable[Event],
    at: datetime,
    policy: Policy = DEFAULT_POLICY,
    *,
    uscc: str | None = None,
) -> list[RuleExplanation]:
    """For each rule R1–R5: did it fire, is it active, and why or why not, in plain words.

    Safe to show a bank: counts, dates, agencies, tonnages and event ids, never a finding's
    description or evidence."""
    ev = _run(events, at, policy, uscc)
    cf = ev.case_file
    out = []
    for rule, info in RULES.items():
        spans = [s for s in ev.spans if s.rule is rule]
        ids: Ids
        if cf is None:
            zh, en, ids = f"截至{_fmt(ev.at)}无任何记录。", f"No record up to {_fmt(ev.at)}.", ()
        elif rule is RuleId.R1:
            zh, en, ids = _explain_r1(cf, ev.at)
        elif rule is RuleId.R2:
            zh, en, ids = _explain_r2(cf, ev.at)
        elif rule is RuleId.R3:
            zh, en, ids = _explain_r3(cf, ev.r3, policy)
        elif rule is RuleId.R4:
            zh, en, ids = _explain_r4(cf, policy)
        else:
            zh, en, ids = _explain_r5(cf, ev.at)
        more_zh, more_en = _describe(spans, ev.at)
        active = any(s.end is None or s.end > ev.at for s in spans)
        verdict_zh = ("现列入" if active else "曾列入") if spans else "未触发"
        verdict_en = ("listed" if active else "was listed") if spans else "not triggered"
        out.append(
            RuleExplanation(
                rule_id=rule,
                title_zh=info.title_zh,
                title_en=info.title_en,
                effect=info.effect,
                policy_id=policy.policy_id,
                policy_version=policy.version,
                fired=bool(spans),
                active=active,
                reason_zh="；".join([f"{verdict_zh}。{zh}", *more_zh]),
                reason_en="; ".join([f"{verdict_en}. {en}", *more_en]),
                event_ids=ids,
            )
        )
    return out
