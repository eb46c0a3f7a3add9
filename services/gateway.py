"""HTTP entrypoint (FastAPI): the ingest gateway, health, and the app factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from services import db
from services.auth import Principal, TokenVerifier
from services.config import Settings
from services.ingest import RequestRefused, ingest
from services.logging import get_logger
from services.relay import Relay

log = get_logger(__name__)

RETRY_AFTER_SECONDS = 2


class Unauthorized(Exception):
    pass


class Unavailable(Exception):
    """A dependency (the database) cannot be reached: answer 503, the client retries."""


def _json(status: int, content: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(content), status_code=status, media_type="application/json", headers=headers
    )


def _problem(status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
    return _json(status, {"status": status, "error": reason}, headers)


async def principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing bearer token")
    verifier: TokenVerifier = request.app.state.verifier
    try:
        found = await verifier.verify(token.strip())
    except Exception as exc:
        if db.is_unavailable(exc):
            raise Unavailable(repr(exc)) from exc
        raise
    if found is None:
        raise Unauthorized("unknown or revoked token")
    return found


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestRefused(413, f"body of {declared} bytes exceeds the limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestRefused(413, f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


_EVENTS_DOC = """Publish one event (a JSON object) or a batch (a JSON array of up to the configured
limit, 1,000 by default). Each event is validated against the contract (see `/schemas`), and the
valid ones are committed to the event store in one transaction before the answer is sent:
`accepted` means durable. A resend of a stored event is reported `duplicate` and stored once.

Answers: `202` with a result per event when at least one event was accepted or already known;
`422` with the same body when every event was rejected; `400` malformed JSON; `401` no or bad
token; `403` an event of a stream the token may not write (nothing is stored); `413` too large;
`415` not JSON; `503` the database is unavailable (retry after `Retry-After` seconds)."""


def create_app(settings: Settings, *, run_relay: bool = True) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await db.create_pool(settings.database_url)
        app.state.pool = pool
        app.state.verifier = TokenVerifier(pool)
        relay_task = None
        if run_relay:
            app.state.relay = Relay(settings, pool)
            relay_task = asyncio.create_task(app.state.relay.run(), name="relay")
        try:
            yield
        finally:
            if relay_task is not None:
                relay_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await relay_task
            await pool.close()

    app = FastAPI(
        title="jointcase",
        version="1",
        description="Joint case files and credit blacklist from multi-agency findings.",
        lifespan=lifespan,
    )
    app.state.settings = settings

    @app.exception_handler(Unauthorized)
    async def _unauthorized(_: Request, exc: Unauthorized) -> Response:
        return _problem(401, str(exc), {"WWW-Authenticate": "Bearer"})

    @app.exception_handler(Unavailable)
    async def _unavailable(_: Request, exc: Unavailable) -> Response:
        log.warning("database unavailable", error=str(exc))
        return _problem(
            503,
            "the database is unavailable; nothing was stored, retry later",
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    @app.exception_handler(RequestRefused)
    async def _refused(_: Request, exc: RequestRefused) -> Response:
        return _problem(exc.status, exc.reason)

    @app.post(
        "/v1/events",
        status_code=202,
        summary="Publish events",
        description=_EVENTS_DOC,
        tags=["ingest"],
        responses={
            202: {"description": "stored; one result per event"},
            422: {"description": "every event rejected; one result per event"},
        },
    )
    async def post_events(
        request: Request, who: Annotated[Principal, Depends(principal)]
    ) -> Response:
        media = request.headers.get("content-type", "application/json").split(";")[0].strip()
        if media not in ("application/json", ""):
            raise RequestRefused(415, f"content type {media!r}: send application/json")
        body = await _read_body(request, settings.max_body_bytes)
        try:
            report = await ingest(
                request.app.state.pool,
                who,
                body,
                now=datetime.now(UTC),
                skew=timedelta(seconds=settings.clock_skew_seconds),
                max_events=settings.max_batch_events,
            )
        except RequestRefused:
            raise
        except Exception as exc:
            if db.is_unavailable(exc):
                raise Unavailable(repr(exc)) from exc
            raise
        log.info(
            "events ingested",
            role=who.role,
            accepted=report.count("accepted"),
            duplicate=report.count("duplicate"),
            rejected=report.count("rejected"),
        )
        return _json(report.http_status, report.as_dict())

    @app.get("/healthz", tags=["operations"], summary="Liveness")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return app
