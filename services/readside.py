"""Queries behind the read API: stored read models for "now", the pure functions over the event
store for "as of T". Plain functions over a connection; the routes are thin."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from events import Event
from projections.asof import as_of as events_as_of
from projections.blacklist import BlacklistStatus, RuleExplanation, evaluate, explain
from projections.casefile import CaseFile, build_case_file
from projections.policy import CreditStatus, Policy
from projections.readmodels import UNSHAPING_TYPES
from services.db import Executor
from services.eventstore import decode


async def events_of(
    conn: Executor,
    uscc: str,
    *,
    shaping_only: bool = False,
    recorded_by: datetime | None = None,
) -> list[Event]:
    rows = await conn.fetch(
        "SELECT body::text AS body FROM event_store WHERE enterprise = $1 "
        "AND ($2::text[] IS NULL OR event_type <> ALL($2::text[])) "
        "AND ($3::timestamptz IS NULL OR recorded_at <= $3) ORDER BY position",
        uscc,
        list(UNSHAPING_TYPES) if shaping_only else None,
        recorded_by,
    )
    return [decode(r["body"]) for r in rows]


async def data_version(conn: Executor) -> int:
    """The change-feed cursor every answer is stamped with: the feed up to here is reflected."""
    return int(await conn.fetchval("SELECT coalesce(max(cursor), 0) FROM blacklist_change"))


async def case_file(conn: Executor, uscc: str, at: datetime) -> CaseFile | None:
    """The joint case file as known at `at` (events recorded by then), with its timeline;
    None for an enterprise with no events by then."""
    events = await events_of(conn, uscc, shaping_only=True, recorded_by=at)
    if not events:
        return None
    return build_case_file(events_as_of(events, at), uscc=uscc)


def bank_view(status: dict[str, Any], version: int) -> dict[str, Any]:
    """What a bank is told (DESIGN §1, §6): status, measures, dates, and the basis as rule ids,
    agencies and dimensions. Never an event id, description or evidence."""

    def basis(b: dict[str, Any]) -> dict[str, Any]:
        return {
            "rule_id": b["rule_id"],
            "rule_title_zh": b["rule_title_zh"],
            "rule_title_en": b["rule_title_en"],
            "policy_version": f"{b['policy_id']}/{b['policy_version']}",
            "agencies": b["agencies"],
            "dimensions": b["dimensions"],
        }

    return {
        "uscc": status["uscc"],
        "status": status["status"],
        "no_record": status["status"] == CreditStatus.CLEAR and not status["history"],
        "since": status["since"],
        "publication_ends_at": status["publication_ends_at"],
        "measures": status["measures"],
        "listings": [
            {
                "status": x["status"],
                "started_at": x["started_at"],
                "publication_ends_at": x["publication_ends_at"],
                "repair_eligible_from": x["repair_eligible_from"],
                "measures": x["measures"],
                "basis": basis(x["basis"]),
            }
            for x in status["listings"]
        ],
        "history": [
            {
                "status": x["status"],
                "started_at": x["started_at"],
                "ended_at": x["ended_at"],
                "ended_by": x["ended_by"],
                "basis": basis(x["basis"]),
            }
            for x in status["history"]
        ],
        "evaluated_at": status["evaluated_at"],
        "data_version": version,
    }


def _clear(uscc: str, at: datetime, policy: Policy) -> dict[str, Any]:
    return evaluate([], at, policy, uscc=uscc).model_dump(mode="json")


async def blacklist_now(
    conn: Executor, codes: Sequence[str], at: datetime, policy: Policy
) -> list[dict[str, Any]]:
    """The stored statuses of valid codes (kept current by the worker and its scheduler), in
    order, all from one snapshot; a code with no events is CLEAR, "no record"."""
    rows = await conn.fetch(
        "SELECT s.body::text AS body, "
        "(SELECT coalesce(max(cursor), 0) FROM blacklist_change) AS v "
        "FROM unnest($1::text[]) WITH ORDINALITY AS a(uscc, n) "
        "LEFT JOIN blacklist_status s ON s.uscc = a.uscc ORDER BY a.n",
        list(codes),
    )
    return [
        bank_view(_clear(code, at, policy), int(r["v"]))
        if r["body"] is None
        else bank_view(orjson.loads(r["body"]), int(r["v"]))
        for code, r in zip(codes, rows, strict=True)
    ]


async def blacklist_as_of(
    conn: Executor, uscc: str, at: datetime, policy: Policy
) -> dict[str, Any]:
    """The status as it stood at `at`, from what had been recorded by then."""
    events = await events_of(conn, uscc, shaping_only=True, recorded_by=at)
    status: BlacklistStatus = evaluate(events, at, policy, uscc=uscc)
    return bank_view(status.model_dump(mode="json"), await data_version(conn))


async def explanation(
    conn: Executor, uscc: str, at: datetime, policy: Policy
) -> list[RuleExplanation]:
    events = await events_of(conn, uscc, shaping_only=True, recorded_by=at)
    return explain(events, at, policy, uscc=uscc)


async def blacklist_bulk(conn: Executor, codes: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Compact answers for many valid codes at once; codes without a row are absent."""
    rows = await conn.fetch(
        """
        SELECT uscc, status, since, publication_ends_at, body->'measures' AS measures,
               jsonb_path_query_array(body, '$.listings[*].basis.rule_id') AS rule_ids
        FROM blacklist_status WHERE uscc = ANY($1::text[])
        """,
        list(codes),
    )
    return {
        r["uscc"]: {
            "uscc": r["uscc"],
            "status": r["status"],
            "since": r["since"],
            "publication_ends_at": r["publication_ends_at"],
            "measures": orjson.loads(r["measures"]),
            "rule_ids": sorted(set(orjson.loads(r["rule_ids"]))),
        }
        for r in rows
    }


async def changes(conn: Executor, after: int, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT cursor, uscc, previous_status, status, effective_at, recorded_at, "
        "summary::text AS summary FROM blacklist_change WHERE cursor > $1 "
        "ORDER BY cursor LIMIT $2",
        after,
        limit,
    )
    return [dict(r) | {"summary": orjson.loads(r["summary"])} for r in rows]


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One bank query (DESIGN §6): which bank, which route, the codes asked with the answer
    given for each, and the data version the answers reflected."""

    bank_id: str
    route: str
    codes: Sequence[str]
    answers: Sequence[str]
    data_version: int


# Rows carry arrays of different lengths and unnest would flatten a 2-D array, so every row's
# codes and answers travel in two flat arrays and each row names its slice of them.
_AUDIT_SQL = """
INSERT INTO bank_query_audit (bank_id, route, codes, answers, data_version)
SELECT r.bank_id, r.route, ($3::text[])[r.codes_from:r.codes_to],
       ($4::text[])[r.answers_from:r.answers_to], r.data_version
FROM unnest($1::text[], $2::text[], $5::int[], $6::int[], $7::int[], $8::int[], $9::bigint[])
     WITH ORDINALITY AS r(bank_id, route, codes_from, codes_to, answers_from, answers_to,
                          data_version, n)
ORDER BY r.n
"""


async def audit(conn: Executor, rows: Sequence[AuditRow]) -> None:
    """Insert audit rows with one statement: one transaction, in the order given."""
    codes: list[str] = []
    answers: list[str] = []
    codes_from, codes_to, answers_from, answers_to = [], [], [], []
    for row in rows:
        codes_from.append(len(codes) + 1)
        codes.extend(row.codes)
        codes_to.append(len(codes))
        answers_from.append(len(answers) + 1)
        answers.extend(row.answers)
        answers_to.append(len(answers))
    await conn.execute(
        _AUDIT_SQL,
        [r.bank_id for r in rows],
        [r.route for r in rows],
        codes,
        answers,
        codes_from,
        codes_to,
        answers_from,
        answers_to,
        [r.data_version for r in rows],
    )
