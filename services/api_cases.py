"""The joint case file API (联合调查案卷) for the task force: read, search, audit trail, and case
actions that become `taskforce` events through the same write path as every agency's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from events import Dimension, Severity, Stream
from events import envelope as e
from events.payloads import (
    CaseAssignedPayload,
    CaseClosedPayload,
    CaseEscalatedPayload,
    CaseOpenedPayload,
)
from projections.policy import CreditStatus
from services import eventstore, readside
from services.api_blacklist import AsOf, UsccPath, checked, evaluation_time
from services.auth import Principal
from services.eventstore import AppendOutcome
from services.http import CONFLICT, ERRORS, NOT_FOUND, NotFound, json_response, pool_of, require

router = APIRouter(prefix="/v1/cases", tags=["cases"], responses=ERRORS)

READERS = require("taskforce", "admin")
NO_CONTROLS = r"^[^\x00-\x1f\x7f]*$"
TASKFORCE = require("taskforce")


@router.get("", summary="Search and triage case files")
async def search(
    request: Request,
    _: Annotated[Principal, Depends(READERS)],
    region: Annotated[
        str | None, Query(pattern=r"^\d{2,6}$", description="administrative code prefix")
    ] = None,
    dimension: Dimension | None = None,
    min_severity: Severity | None = None,
    status: CreditStatus | None = None,
    agency: Stream | None = None,
    case_state: Annotated[str | None, Query(pattern="^(open|closed)$")] = None,
    q: Annotated[
        str | None, Query(max_length=100, pattern=NO_CONTROLS, description="part of the name")
    ] = None,
    after: Annotated[
        str | None,
        Query(pattern=r"^[0-9A-Z]{1,18}$", description="last USCC of the previous page"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    severities = (
        [s.value for s in Severity if s.rank >= min_severity.rank] if min_severity else None
    )
    rows = await pool_of(request).fetch(
        """
        SELECT uscc, name, region, industry, credit_status, max_severity, open_dimensions,
               agencies, case_state, event_count, last_recorded_at
        FROM case_file
        WHERE ($1::text IS NULL OR region LIKE $1 || '%')
          AND ($2::text IS NULL OR $2 = ANY(open_dimensions))
          AND ($3::text[] IS NULL OR max_severity = ANY($3))
          AND ($4::text IS NULL OR credit_status = $4)
          AND ($5::text IS NULL OR $5 = ANY(agencies))
          AND ($6::text IS NULL OR case_state = $6)
          AND ($7::text IS NULL OR name ILIKE '%' || $7 || '%')
          AND ($8::text IS NULL OR uscc > $8)
        ORDER BY uscc LIMIT $9
        """,
        region,
        dimension.value if dimension else None,
        severities,
        status.value if status else None,
        agency.value if agency else None,
        case_state,
        q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") if q else None,
        after,
        limit,
    )
    items = [dict(r) for r in rows]
    return json_response(
        200,
        {"cases": items, "next_after": items[-1]["uscc"] if len(items) == limit else None},
    )


@router.get("/{uscc}", summary="The joint case file of one enterprise", responses=NOT_FOUND)
async def case_file(
    request: Request,
    _: Annotated[Principal, Depends(READERS)],
    uscc: UsccPath,
    as_of: AsOf = None,
) -> Response:
    code = checked(uscc)
    at = evaluation_time(as_of)
    pool = pool_of(request)
    found = await readside.case_file(pool, code, at)
    if found is None:
        raise NotFound(f"no events about {code} recorded by {at.isoformat()}")
    body = found.model_dump(mode="json")
    body["as_of"] = at
    body["data_version"] = await readside.data_version(pool)
    return json_response(200, body)


@router.get("/{uscc}/events", summary="The audit trail: every event about the enterprise")
async def audit_trail(
    request: Request,
    _: Annotated[Principal, Depends(READERS)],
    uscc: UsccPath,
    stream: Stream | None = None,
    event_type: Annotated[str | None, Query(pattern=r"^[A-Za-z]{1,64}$")] = None,
    after: Annotated[int, Query(ge=0, description="last position of the previous page")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    code = checked(uscc)
    rows = await pool_of(request).fetch(
        "SELECT position, stored_at, body::text AS body FROM event_store "
        "WHERE enterprise = $1 AND position > $2 "
        "AND ($3::text IS NULL OR stream = $3) AND ($4::text IS NULL OR event_type = $4) "
        "ORDER BY position LIMIT $5",
        code,
        after,
        stream.value if stream else None,
        event_type,
        limit,
    )
    items = [
        {
            "position": r["position"],
            "stored_at": r["stored_at"],
            "event": eventstore.decode(r["body"]).model_dump(mode="json"),
        }
        for r in rows
    ]
    return json_response(
        200,
        {"events": items, "next_after": items[-1]["position"] if len(items) == limit else None},
    )


# --- case actions: taskforce events ---------------------------------------------------


class ActionResult(BaseModel):
    event_id: uuid.UUID
    status: str  # accepted | duplicate


async def _act(
    request: Request,
    who: Principal,
    uscc: str,
    event_type: type[Any],
    payload: BaseModel,
    event_id: uuid.UUID | None,
) -> Response:
    code = checked(uscc)
    now = datetime.now(UTC)
    event: Any = event_type(
        event_id=event_id or uuid.uuid4(),
        stream=Stream.TASKFORCE,
        enterprise=code,
        occurred_at=now,
        recorded_at=now,
        actor=f"{who.role} ({who.token_id})",
        payload=payload,
    )
    [outcome] = await eventstore.append(pool_of(request), [event], outbox=True)
    if outcome is AppendOutcome.CONFLICT:
        return json_response(
            409, {"status": 409, "error": "event_id already used for another event"}
        )
    return json_response(202, {"event_id": event.event_id, "status": outcome.value})


EventId = Annotated[
    uuid.UUID | None,
    Query(description="choose it to make a retry safe: a resend is reported as duplicate"),
]


@router.post("/{uscc}/open", status_code=202, responses=CONFLICT, summary="Open a case (立案)")
async def open_case(
    request: Request,
    who: Annotated[Principal, Depends(TASKFORCE)],
    uscc: UsccPath,
    body: CaseOpenedPayload,
    event_id: EventId = None,
) -> Response:
    return await _act(request, who, uscc, e.CaseOpened, body, event_id)


@router.post("/{uscc}/assign", status_code=202, responses=CONFLICT, summary="Assign a case (分派)")
async def assign_case(
    request: Request,
    who: Annotated[Principal, Depends(TASKFORCE)],
    uscc: UsccPath,
    body: CaseAssignedPayload,
    event_id: EventId = None,
) -> Response:
    return await _act(request, who, uscc, e.CaseAssigned, body, event_id)


@router.post(
    "/{uscc}/escalate", status_code=202, responses=CONFLICT, summary="Escalate a case (升级督办)"
)
async def escalate_case(
    request: Request,
    who: Annotated[Principal, Depends(TASKFORCE)],
    uscc: UsccPath,
    body: CaseEscalatedPayload,
    event_id: EventId = None,
) -> Response:
    return await _act(request, who, uscc, e.CaseEscalated, body, event_id)


@router.post("/{uscc}/close", status_code=202, responses=CONFLICT, summary="Close a case (结案)")
async def close_case(
    request: Request,
    who: Annotated[Principal, Depends(TASKFORCE)],
    uscc: UsccPath,
    body: CaseClosedPayload,
    event_id: EventId = None,
) -> Response:
    return await _act(request, who, uscc, e.CaseClosed, body, event_id)
