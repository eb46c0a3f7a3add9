"""The read models in PostgreSQL (asyncpg): case files, blacklist statuses and the change feed.

A thin repository: what goes in is computed by the pure functions of `projections.casefile`
and `projections.blacklist`; this module only loads event histories and writes rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import orjson

from projections.blacklist import BlacklistStatus
from projections.casefile import CaseFile, CaseState, DimensionState
from projections.policy import CreditStatus
from services.db import Connection, Executor
from services.topics import key_hash

# Raw meter readings feed the detector, not the case file (DESIGN §4: cost of recomputing).
UNSHAPING_TYPES = ("PowerReading",)

# Transaction-level advisory lock taken before inserting change-feed rows: cursors then
# become visible in commit order.
_CHANGE_FEED_LOCK = 0x6A6F696E7463  # "jointc"
_ENTERPRISE_LOCK_SPACE = 0x6A6F  # first key of the two-key enterprise locks


async def histories(conn: Executor, usccs: Sequence[str]) -> dict[str, list[str]]:
    """The events that shape each enterprise's read models, as stored (JSON text): decoding
    them is part of the fold, which may run away from the event loop."""
    rows = await conn.fetch(
        "SELECT enterprise, body::text AS body FROM event_store "
        "WHERE enterprise = ANY($1::text[]) AND event_type <> ALL($2::text[])",
        list(usccs),
        list(UNSHAPING_TYPES),
    )
    out: dict[str, list[str]] = {u: [] for u in usccs}
    for r in rows:
        out[r["enterprise"]].append(r["body"])
    return out


# Enterprises share advisory locks by bucket (the lock table is small). The bucket is the
# enterprise's Kafka key hash, as the producers partition (murmur2), modulo a number that the
# usual partition counts divide (12 by default): workers owning different partitions then take
# different locks and never wait on each other, and rebuild jobs given different buckets
# neither. Correctness does not depend on it: every process computes the same bucket.
LOCK_BUCKETS = 384  # 2^7 x 3


def lock_bucket(uscc: str) -> int:
    return key_hash(uscc.encode()) % LOCK_BUCKETS


async def lock_enterprises(conn: Connection, usccs: Iterable[str]) -> None:
    """Serialise recomputes of the same enterprise across workers, the scheduler and rebuild
    (held to the end of the transaction). Buckets are taken in order, so a batch of any size
    fits the lock table and two batches never deadlock."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock($1, b) FROM unnest($2::int[]) AS b ORDER BY b",
        _ENTERPRISE_LOCK_SPACE,
        sorted({lock_bucket(u) for u in usccs}),
    )


@dataclass(frozen=True, slots=True)
class Figures:
    """Time-dependent counts of a case file, for roll-ups and alerts."""

    targets: int = 0
    targets_missed: int = 0
    reduction_tonnes: float = 0.0
    reduction_done_tonnes: float = 0.0
    tipoffs_open: int = 0
    tipoffs_overdue: int = 0
    tipoffs_reward: int = 0


@dataclass(frozen=True, slots=True)
class Projection:
    """Everything written for one enterprise; `recheck_at`: when the answer may change without
    a new event (the scheduler recomputes it then)."""

    case_file: CaseFile
    status: BlacklistStatus
    figures: Figures = Figures()
    recheck_at: datetime | None = None


def _max_open_severity(cf: CaseFile) -> str | None:
    open_ = [d.highest_open_severity for d in cf.dimensions if d.highest_open_severity]
    return max(open_, key=lambda s: s.rank).value if open_ else None


def _case_state(cf: CaseFile) -> str | None:
    if not cf.cases:
        return None
    return CaseState.OPEN.value if any(c.state is CaseState.OPEN for c in cf.cases) else "closed"


def _summary(status: BlacklistStatus) -> bytes:
    """What a change-feed row says: status, measures and basis, never investigation details."""
    return orjson.dumps(
        {
            "status": status.status,
            "since": status.since,
            "publication_ends_at": status.publication_ends_at,
            "measures": status.measures,
            "rule_ids": sorted({x.rule_id for x in status.listings}),
            "agencies": sorted({a for x in status.listings for a in x.basis.agencies}),
            "dimensions": sorted({d for x in status.listings for d in x.basis.dimensions}),
        },
        default=_default,
    )


def _default(value: object) -> object:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot serialise {type(value).__name__}")


async def save(conn: Connection, projections: Sequence[Projection]) -> int:
    """Write the read models of these enterprises (inside the caller's transaction) and one
    change-feed row per status that changed. Returns the number of changes."""
    if not projections:
        return 0
    usccs = [p.case_file.uscc for p in projections]
    before = {
        r["uscc"]: r["status"]
        for r in await conn.fetch(
            "SELECT uscc, status FROM blacklist_status WHERE uscc = ANY($1::text[])", usccs
        )
    }
    cfs = [p.case_file for p in projections]
    sts = [p.status for p in projections]
    await conn.execute(
        """
        INSERT INTO case_file (uscc, name, region, industry, credit_status, max_severity,
                               open_dimensions, agencies, case_state, event_count,
                               last_recorded_at, body, updated_at, targets, targets_missed,
                               reduction_tonnes, reduction_done_tonnes, tipoffs_open,
                               tipoffs_overdue, tipoffs_reward)
        SELECT u, n, r, i, cs, ms, string_to_array(od, ','), string_to_array(ag, ','), st, ec,
               lr, b::json, now(), tg, tm, rt, rd, toa, tov, trw
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                    $7::text[], $8::text[], $9::text[], $10::int[], $11::timestamptz[],
                    $12::text[], $13::int[], $14::int[], $15::float8[], $16::float8[],
                    $17::int[], $18::int[], $19::int[])
             AS t(u, n, r, i, cs, ms, od, ag, st, ec, lr, b, tg, tm, rt, rd, toa, tov, trw)
        ON CONFLICT (uscc) DO UPDATE SET
            name = excluded.name, region = excluded.region, industry = excluded.industry,
            credit_status = excluded.credit_status, max_severity = excluded.max_severity,
            open_dimensions = excluded.open_dimensions, agencies = excluded.agencies,
            case_state = excluded.case_state, event_count = excluded.event_count,
            last_recorded_at = excluded.last_recorded_at, body = excluded.body,
            updated_at = excluded.updated_at, targets = excluded.targets,
            targets_missed = excluded.targets_missed,
            reduction_tonnes = excluded.reduction_tonnes,
            reduction_done_tonnes = excluded.reduction_done_tonnes,
            tipoffs_open = excluded.tipoffs_open, tipoffs_overdue = excluded.tipoffs_overdue,
            tipoffs_reward = excluded.tipoffs_reward
        """,
        usccs,
        [cf.enterprise.name.value if cf.enterprise.name else None for cf in cfs],
        [cf.region.code for cf in cfs],
        [cf.enterprise.industry.value.value if cf.enterprise.industry else None for cf in cfs],
        [st.status.value for st in sts],
        [_max_open_severity(cf) for cf in cfs],
        [
            ",".join(d.dimension.value for d in cf.dimensions if d.status is DimensionState.OPEN)
            for cf in cfs
        ],
        [",".join(a.stream.value for a in cf.agencies) for cf in cfs],
        [_case_state(cf) for cf in cfs],
        [cf.event_count for cf in cfs],
        [cf.last_recorded_at for cf in cfs],
        [cf.model_dump_json() for cf in cfs],
        [p.figures.targets for p in projections],
        [p.figures.targets_missed for p in projections],
        [p.figures.reduction_tonnes for p in projections],
        [p.figures.reduction_done_tonnes for p in projections],
        [p.figures.tipoffs_open for p in projections],
        [p.figures.tipoffs_overdue for p in projections],
        [p.figures.tipoffs_reward for p in projections],
    )
    changed = [
        st for st in sts if before.get(st.uscc or "", CreditStatus.CLEAR.value) != st.status.value
    ]
    if changed:
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _CHANGE_FEED_LOCK)
        await conn.execute(
            """
            INSERT INTO blacklist_change (uscc, previous_status, status, effective_at, summary)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[],
                                 $5::jsonb[])
            """,
            [st.uscc for st in changed],
            [before.get(st.uscc or "", CreditStatus.CLEAR.value) for st in changed],
            [st.status.value for st in changed],
            [st.since or st.evaluated_at for st in changed],
            [_summary(st).decode() for st in changed],
        )
    await conn.execute(
        """
        INSERT INTO blacklist_status (uscc, status, since, publication_ends_at, next_change_at,
                                      evaluated_at, body, data_version)
        SELECT u, s, si, pe, nc, ev, b::jsonb,
               coalesce((SELECT max(cursor) FROM blacklist_change c WHERE c.uscc = t.u), 0)
        FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[],
                    $5::timestamptz[], $6::timestamptz[], $7::text[])
             AS t(u, s, si, pe, nc, ev, b)
        ON CONFLICT (uscc) DO UPDATE SET
            status = excluded.status, since = excluded.since,
            publication_ends_at = excluded.publication_ends_at,
            next_change_at = excluded.next_change_at, evaluated_at = excluded.evaluated_at,
            body = excluded.body, data_version = excluded.data_version
        """,
        usccs,
        [st.status.value for st in sts],
        [st.since for st in sts],
        [st.publication_ends_at for st in sts],
        [p.recheck_at for p in projections],
        [st.evaluated_at for st in sts],
        [st.model_dump_json() for st in sts],
    )
    return len(changed)


async def due(conn: Connection, now: datetime, limit: int) -> list[str]:
    """Enterprises whose answer may have changed by `now` without a new event."""
    rows = await conn.fetch(
        "SELECT uscc FROM blacklist_status WHERE next_change_at <= $1 "
        "ORDER BY next_change_at LIMIT $2",
        now,
        limit,
    )
    return [r["uscc"] for r in rows]
