"""What every HTTP route shares: the caller's identity, role checks, errors and JSON answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import orjson
from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel

from services import db
from services.auth import Principal, TokenVerifier

RETRY_AFTER_SECONDS = 2


class Unauthorized(Exception):
    """No or bad credentials: 401."""


class Forbidden(Exception):
    """Valid credentials, wrong role: 403."""


class Unavailable(Exception):
    """A dependency (the database) cannot be reached: answer 503, the client retries."""


class NotFound(Exception):
    """404 with a reason."""


class TooLarge(Exception):
    """413: the body is over the size limit; nothing of it was read further."""


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (TooLarge) as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"body of {declared} bytes exceeds the limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class FieldProblem(BaseModel):
    path: str
    reason: str


class Problem(BaseModel):
    """Every error answer: the status, a reason a person can act on, and for invalid input the
    fields at fault."""

    status: int
    error: str
    errors: list[FieldProblem] | None = None


def _doc(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


# Documented on every authenticated route (OpenAPI), so clients know every answer's shape.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: _doc("malformed JSON body"),
    401: _doc("no, unknown or revoked bearer token"),
    403: _doc("the token's role may not use this route"),
    422: _doc("invalid input; `errors` names each field and why"),
    503: _doc("the database is unavailable; retry after `Retry-After` seconds"),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _doc("nothing recorded about it")}
CONFLICT: dict[int | str, dict[str, Any]] = {409: _doc("the event_id is taken by another event")}
TOO_LARGE: dict[int | str, dict[str, Any]] = {413: _doc("the request is over the size limit")}


def json_response(status: int, content: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(content), status_code=status, media_type="application/json", headers=headers
    )


def problem(status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
    return json_response(status, {"status": status, "error": reason}, headers)


async def authenticate(authorization: str, verifier: TokenVerifier) -> Principal:
    """The caller named by an `Authorization` header's value, or Unauthorized."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing bearer token")
    try:
        found = await verifier.verify(token.strip())
    except Exception as exc:
        if db.is_unavailable(exc):
            raise Unavailable(repr(exc)) from exc
        raise
    if found is None:
        raise Unauthorized("unknown or revoked token")
    return found


def admit(who: Principal, kinds: tuple[str, ...]) -> Principal:
    """`who` if its role kind is one of `kinds`, else Forbidden."""
    if who.kind not in kinds:
        raise Forbidden(f"role {who.role!r} may not use this route; allowed: {', '.join(kinds)}")
    return who


async def principal(request: Request) -> Principal:
    verifier: TokenVerifier = request.app.state.verifier
    return await authenticate(request.headers.get("authorization", ""), verifier)


def require(*kinds: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency admitting only callers whose role kind is one of `kinds`
    (agency, taskforce, bank, admin)."""

    async def check(request: Request) -> Principal:
        return admit(await principal(request), kinds)

    return check


def pool_of(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool
