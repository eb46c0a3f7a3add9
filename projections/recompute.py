"""Recomputing enterprises: the one handler behind the worker, the scheduler and `rebuild`.

Load each enterprise's full event history from the event store, fold it with the pure
functions, emit the deadline notices that are due, and write the read models, all inside the
caller's transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import orjson
from pydantic import ValidationError

from events import Event
from events.envelope import PowerReading
from projections import correlation, detectors, readmodels, tipoffs
from projections.blacklist import BlacklistStatus, evaluate, evaluate_case_file
from projections.casefile import CaseFile, build_case_file
from projections.correlation import DEFAULT_CORRELATION, CorrelationConfig
from projections.deadlines import overdue_notices
from projections.detectors import DEFAULT_CONFIG, DetectorConfig
from projections.policy import DEFAULT_POLICY, Policy, policy_from_file
from projections.tipoffs import DEFAULT_TIPOFFS, TipOffConfig
from services import eventstore
from services.db import Connection

CHUNK = 500  # enterprises loaded and folded at a time


@dataclass(frozen=True, slots=True)
class Rules:
    """Everything that decides the read models besides the events and the clock."""

    policy: Policy = DEFAULT_POLICY
    detector: DetectorConfig = DEFAULT_CONFIG
    correlation: CorrelationConfig = DEFAULT_CORRELATION
    tipoffs: TipOffConfig = DEFAULT_TIPOFFS


def load_rules(policy_file: str = "", rules_file: str = "") -> Rules:
    """The blacklist policy from its file, and the detector, correlation and tip-off settings
    from a JSON document `{"detector": {...}, "correlation": {...}, "tipoffs": {...}}`; each
    part left out keeps its defaults. Errors name the part and the field."""
    policy = policy_from_file(policy_file)
    if not rules_file:
        return Rules(policy)
    with open(rules_file, "rb") as f:
        doc = orjson.loads(f.read())
    unknown = set(doc) - {"detector", "correlation", "tipoffs"}
    if unknown:
        raise ValueError(f"{rules_file}: unknown sections {sorted(unknown)}")
    try:
        tips = TipOffConfig.model_validate(doc.get("tipoffs", {}))
    except ValidationError as exc:
        raise ValueError(f"{rules_file}: tipoffs: {exc}") from None
    return Rules(
        policy,
        detectors.load_config(doc.get("detector", {})),
        correlation.load_correlation_config(doc.get("correlation", {})),
        tips,
    )


@dataclass(frozen=True, slots=True)
class Recomputed:
    enterprises: int
    changes: int  # change-feed rows written
    notices: int  # derived events emitted: deadline notices, anomalies, escalations


def project(
    uscc: str, events: Sequence[Event], now: datetime, rules: Rules
) -> readmodels.Projection:
    """The read models of one enterprise (pure)."""
    cf = build_case_file(events, uscc=uscc, include_timeline=False)
    status = _status(cf, events, now, rules.policy)
    tips = tipoffs.summarise(cf, now, rules.tipoffs)
    targets = cf.capacity.targets
    figures = readmodels.Figures(
        targets=len(targets),
        targets_missed=sum(t.deadline <= now and not t.met_by_deadline for t in targets),
        reduction_tonnes=sum(t.iron_tonnes + t.steel_tonnes for t in targets),
        reduction_done_tonnes=sum(
            min(t.iron_dismantled_tonnes, t.iron_tonnes)
            + min(t.steel_dismantled_tonnes, t.steel_tonnes)
            for t in targets
        ),
        tipoffs_open=tips.open,
        tipoffs_overdue=tips.overdue,
        tipoffs_reward=tips.reward_eligible,
    )
    deadlines = [t.deadline for t in targets if t.deadline > now]
    recheck = [x for x in (status.next_change_at, tips.next_deadline, *deadlines) if x]
    return readmodels.Projection(cf, status, figures, min(recheck, default=None))


def _status(
    cf: CaseFile, events: Sequence[Event], now: datetime, policy: Policy
) -> BlacklistStatus:
    # An event may legitimately occur slightly ahead of this clock (allowed skew): then the
    # evaluation has to leave it out, which only the event-level function does.
    if cf.last_occurred_at is not None and cf.last_occurred_at > now:
        return evaluate(events, now, policy, uscc=cf.uscc)
    return evaluate_case_file(cf, now, policy)


SYSTEM_ACTOR = "联动研判 cross-agency correlation"


def derived_events(cf: CaseFile, now: datetime, rules: Rules = Rules()) -> list[Event]:
    """Events the rules call for at `now` and not yet recorded: deadline notices and
    cross-agency escalations. Their ids are derived from their causes, so emitting the same
    one twice (two workers, a retry) stores it once."""
    out: list[Event] = list(overdue_notices(cf, now))
    out += [
        correlation.to_event(x, now=now, actor=SYSTEM_ACTOR)
        for x in correlation.correlate(cf, at=now, config=rules.correlation)
    ]
    return out


async def detect_power(
    conn: Connection,
    readings: Mapping[str, Sequence[PowerReading]],
    now: datetime,
    config: DetectorConfig = DEFAULT_CONFIG,
) -> list[Event]:
    """用电监测: for enterprises with new meter readings, judge every window those readings
    touch (once closed) against its trailing history, from the readings in the event store.
    Anomalies already recorded are left out."""
    found: list[Event] = []
    for uscc, new in readings.items():
        starts = {detectors.window_of(r.payload.period_start, config)[0] for r in new}
        closed = {s for s in starts if detectors.closes_at(s, config) <= now}
        if not closed:
            continue
        since = min(closed) - config.window * config.jump_baseline_windows
        until = max(closed) + config.window
        rows = await conn.fetch(
            "SELECT body::text AS body FROM event_store WHERE enterprise = $1 "
            "AND event_type = 'PowerReading' "
            "AND (body->'payload'->>'period_start')::timestamptz >= $2 "
            "AND (body->'payload'->>'period_start')::timestamptz < $3",
            uscc,
            since,
            until,
        )
        series = [e for r in rows if isinstance(e := eventstore.decode(r["body"]), PowerReading)]
        anomalies = [a for a in detectors.scan(series, config) if a.window_start in closed]
        if not anomalies:
            continue
        recorded = {
            r["event_id"]
            for r in await conn.fetch(
                "SELECT event_id FROM event_store WHERE event_id = ANY($1::uuid[])",
                [a.event_id for a in anomalies],
            )
        }
        found += [
            detectors.to_event(a, now=now, actor=POWER_ACTOR)
            for a in anomalies
            if a.event_id not in recorded
        ]
    return found


POWER_ACTOR = "用电监测 power-use detector"


async def recompute(
    conn: Connection,
    usccs: Sequence[str],
    *,
    now: datetime,
    rules: Rules,
    readings: Mapping[str, Sequence[PowerReading]] | None = None,
) -> Recomputed:
    """Recompute and write these enterprises; the caller holds the transaction. `readings`: new
    meter readings by enterprise, for the power-use detector."""
    if not usccs:
        return Recomputed(0, 0, 0)
    await readmodels.lock_enterprises(conn, usccs)
    changes = notices = 0
    if readings:
        anomalies = await detect_power(conn, readings, now, rules.detector)
        await eventstore.append(conn, anomalies, outbox=True)
        notices += len(anomalies)
    # In chunks, so memory holds two chunks' histories and case files, not the whole batch's.
    # A chunk is folded in a thread while the connection writes the one before and reads the
    # one after: PostgreSQL works while Python folds, and the event loop stays responsive.
    loop = asyncio.get_running_loop()
    folding: asyncio.Future[Folded] | None = None
    for i in range(0, len(usccs) + CHUNK, CHUNK):
        done = folding
        if i < len(usccs):
            histories = await readmodels.histories(conn, usccs[i : i + CHUNK])
            folding = loop.run_in_executor(_folder(), fold, histories, now, rules)
        if done is not None:
            folded = await done
            if folded.notices:
                # Through the outbox, so the notices reach Kafka and every reader like any event.
                await eventstore.append(conn, folded.notices, outbox=True)
                notices += len(folded.notices)
            changes += await readmodels.save(conn, folded.projections)
    return Recomputed(len(usccs), changes, notices)


@dataclass(frozen=True, slots=True)
class Folded:
    projections: list[readmodels.Projection]
    notices: list[Event]  # derived events to append


def fold(histories: Mapping[str, Sequence[str]], now: datetime, rules: Rules) -> Folded:
    """The read models of these enterprises from their stored events (pure)."""
    projections = []
    notices: list[Event] = []
    for uscc, bodies in histories.items():
        events = [eventstore.decode(b) for b in bodies]
        p = project(uscc, events, now, rules)
        # Derived events can call for more (an overdue notice, then an escalation): a couple
        # of rounds settle it, since each is emitted once.
        for _ in range(3):
            due = derived_events(p.case_file, now, rules)
            if not due:
                break
            notices.extend(due)
            events = [*events, *due]
            p = project(uscc, events, now, rules)
        projections.append(p)
    return Folded(projections, notices)


_fold_thread: ThreadPoolExecutor | None = None


def _folder() -> ThreadPoolExecutor:
    global _fold_thread
    if _fold_thread is None:
        _fold_thread = ThreadPoolExecutor(1, thread_name_prefix="fold")
    return _fold_thread
