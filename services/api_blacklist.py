"""The credit-blacklist API (信用黑名单查询) for banks, the task force and administrators.

Banks are told status, measures, dates and the basis as rule ids, agencies and dimensions,
never anything of the investigation; every bank query is audited.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from events.uscc import InvalidUscc, validate
from projections.policy import Policy
from services import readside
from services.audit import AuditWriter
from services.auth import Principal
from services.batching import GroupRunner
from services.http import ERRORS, TOO_LARGE, json_response, pool_of, require
from services.readside import AuditRow

router = APIRouter(prefix="/v1", tags=["blacklist"], responses=ERRORS)

READER_KINDS = ("bank", "taskforce", "admin")
READERS = require(*READER_KINDS)
MAX_BULK = 10_000

UsccPath = Annotated[
    str,
    Path(description="Unified Social Credit Code (18 characters)", examples=["91350100M000100Y43"]),
]
AsOf = Annotated[
    datetime | None,
    Query(description="RFC 3339 time with offset: the answer as it stood then (as-of view)"),
]


class InvalidCode(Exception):
    """A path USCC that is not valid: 422 naming the reason."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def checked(uscc: str) -> str:
    try:
        return validate(uscc)
    except InvalidUscc as exc:
        raise InvalidCode(f"uscc: invalid USCC: {exc.reason}") from None


def evaluation_time(as_of: datetime | None) -> datetime:
    if as_of is None:
        return datetime.now(UTC)
    if as_of.tzinfo is None:
        raise InvalidCode("as_of: must carry a UTC offset (RFC 3339)")
    return as_of


def policy_of(request: Request) -> Policy:
    policy: Policy = request.app.state.policy
    return policy


def audit_writer(request: Request) -> AuditWriter:
    writer: AuditWriter = request.app.state.audit
    return writer


async def audited(
    writer: AuditWriter,
    who: Principal,
    route: str,
    codes: list[str],
    answers: list[str],
    version: int,
) -> None:
    """Returns once a bank's query is in the audit; other roles are not audited."""
    if who.bank_id is not None:
        await writer.write(AuditRow(who.bank_id, route, codes, answers, version))


async def _audit(
    request: Request, who: Principal, route: str, codes: list[str], answers: list[str], v: int
) -> None:
    await audited(audit_writer(request), who, route, codes, answers, v)


class StatusReader:
    """Current statuses for the lookups of concurrent requests, one statement per group
    (services/batching.py). `pool` may be one for single statements (`db.create_pool`)."""

    def __init__(self, pool: asyncpg.Pool, policy: Policy) -> None:
        self._pool = pool
        self._policy = policy
        # Two groups in flight: one slow statement does not hold up every lookup.
        self._runner: GroupRunner[str, dict[str, Any]] = GroupRunner(self._read, concurrency=2)

    async def status(self, code: str) -> dict[str, Any]:
        """What a bank is told about a valid code now; Unavailable without the database."""
        return await self._runner.run(code)

    async def close(self) -> None:
        await self._runner.close()

    @property
    def statements(self) -> int:
        """How many statements have answered the lookups so far."""
        return self._runner.groups

    async def _read(self, codes: list[str]) -> list[dict[str, Any]]:
        async with self._pool.acquire() as conn:
            return await readside.blacklist_now(conn, codes, datetime.now(UTC), self._policy)


def status_reader(request: Request) -> StatusReader:
    reader: StatusReader = request.app.state.status_reader
    return reader


async def current_status(
    reader: StatusReader, writer: AuditWriter, who: Principal, uscc: str
) -> dict[str, Any]:
    """The answer to `GET /v1/blacklist/{uscc}` without `as_of`, audited: the route and the
    fast lookup in front of the framework (services/fast_lookup.py) both give this."""
    code = checked(uscc)
    answer = await reader.status(code)
    await audited(writer, who, "status", [code], [answer["status"]], answer["data_version"])
    return answer


@router.get(
    "/blacklist/changes",
    summary="Change feed: one row per status change, in cursor order",
    description="Page with `after` = the last cursor you have; an empty page means caught up. "
    "Cursors are monotonic in commit order, so paging never skips a change.",
)
async def changes(
    request: Request,
    who: Annotated[Principal, Depends(READERS)],
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Response:
    rows = await readside.changes(pool_of(request), after, limit)
    next_after = rows[-1]["cursor"] if rows else after
    await _audit(
        request,
        who,
        "changes",
        [r["uscc"] for r in rows],
        [r["status"] for r in rows],
        next_after,
    )
    return json_response(200, {"changes": rows, "next_after": next_after})


@router.get("/blacklist/{uscc}", summary="Credit status of one enterprise")
async def status(
    request: Request,
    who: Annotated[Principal, Depends(READERS)],
    uscc: UsccPath,
    as_of: AsOf = None,
) -> Response:
    if as_of is None:
        # Usually answered before the framework by services/fast_lookup.py, the same way.
        answer = await current_status(status_reader(request), audit_writer(request), who, uscc)
        return json_response(200, answer)
    code = checked(uscc)
    at = evaluation_time(as_of)
    async with pool_of(request).acquire() as conn:
        answer = await readside.blacklist_as_of(conn, code, at, policy_of(request))
    await _audit(request, who, "status", [code], [answer["status"]], answer["data_version"])
    return json_response(200, answer)


@router.get(
    "/blacklist/{uscc}/explain",
    summary="Every rule, and why it did or did not list the enterprise",
)
async def explain(
    request: Request,
    who: Annotated[Principal, Depends(READERS)],
    uscc: UsccPath,
    as_of: AsOf = None,
) -> Response:
    code = checked(uscc)
    at = evaluation_time(as_of)
    pool = pool_of(request)
    rules = await readside.explanation(pool, code, at, policy_of(request))
    version = await readside.data_version(pool)
    fired = ",".join(r.rule_id for r in rules if r.active) or "none"
    await _audit(request, who, "explain", [code], [fired], version)
    return json_response(
        200,
        {
            "uscc": code,
            "evaluated_at": at,
            "data_version": version,
            "rules": [r.model_dump(mode="json", exclude={"event_ids"}) for r in rules],
        },
    )


class BulkRequest(BaseModel):
    codes: list[str] = Field(description=f"up to {MAX_BULK:,} codes", min_length=1)


@router.post(
    "/blacklist/bulk",
    responses=TOO_LARGE,
    summary=f"Credit status of up to {MAX_BULK:,} enterprises",
    description="One answer per code, in order. An invalid code is answered with its reason "
    "and does not fail the others.",
)
async def bulk(
    request: Request, who: Annotated[Principal, Depends(READERS)], body: BulkRequest
) -> Response:
    if len(body.codes) > MAX_BULK:
        return json_response(
            413, {"status": 413, "error": f"{len(body.codes)} codes; the limit is {MAX_BULK}"}
        )
    valid: list[str] = []
    answers: list[dict[str, Any]] = []
    for code in body.codes:
        try:
            valid.append(validate(code))
            answers.append({"uscc": code})
        except InvalidUscc as exc:
            answers.append({"uscc": code, "error": f"invalid USCC: {exc.reason}"})
    pool = pool_of(request)
    async with pool.acquire() as conn:
        found = await readside.blacklist_bulk(conn, valid)
        version = await readside.data_version(conn)
    for a in answers:
        if "error" not in a:
            a.update(found.get(a["uscc"]) or _no_record(a["uscc"]))
    await _audit(
        request,
        who,
        "bulk",
        [a["uscc"] for a in answers],
        [a.get("status", "INVALID") for a in answers],
        version,
    )
    return json_response(200, {"data_version": version, "answers": answers})


def _no_record(uscc: str) -> dict[str, Any]:
    return {
        "uscc": uscc,
        "status": "CLEAR",
        "no_record": True,
        "since": None,
        "publication_ends_at": None,
        "measures": [],
        "rule_ids": [],
    }


@router.get("/audit/bank-queries", tags=["operations"], summary="Audit of bank queries (admin)")
async def bank_queries(
    request: Request,
    who: Annotated[Principal, Depends(require("admin"))],
    bank: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")] = None,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    rows = await pool_of(request).fetch(
        "SELECT * FROM bank_query_audit WHERE id > $1 AND ($2::text IS NULL OR bank_id = $2) "
        "ORDER BY id LIMIT $3",
        after,
        bank,
        limit,
    )
    items = [dict(r) for r in rows]
    return json_response(200, {"queries": items, "next_after": items[-1]["id"] if items else after})
