"""HTTP entrypoint (FastAPI): the ingest gateway, health, and the app factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

import asyncpg
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from projections.policy import policy_from_file
from services import (
    api_blacklist,
    api_cases,
    api_regions,
    console,
    db,
    observability,
    watch,
)
from services.api_blacklist import InvalidCode
from services.audit import AuditWriter
from services.auth import Principal, TokenVerifier
from services.config import Settings
from services.fast_lookup import FastLookup
from services.http import (
    ERRORS,
    RETRY_AFTER_SECONDS,
    TOO_LARGE,
    Forbidden,
    NotFound,
    Problem,
    TooLarge,
    Unauthorized,
    Unavailable,
    json_response,
    principal,
    problem,
    read_body,
)
from services.ingest import RequestRefused, ingest
from services.logging import get_logger
from services.relay import Relay

log = get_logger(__name__)


_EVENTS_DOC = """Publish one event (a JSON object) or a batch (a JSON array of up to the configured
limit, 1,000 by default). Each event is validated against the contract (see `/schemas`), and the
valid ones are committed to the event store in one transaction before the answer is sent:
`accepted` means durable. A resend of a stored event is reported `duplicate` and stored once.

Answers: `202` with a result per event when at least one event was accepted or already known;
`422` with the same body when every event was rejected; `400` malformed JSON; `401` no or bad
token; `403` an event of a stream the token may not write (nothing is stored); `413` too large;
`415` not JSON; `503` the database is unavailable (retry after `Retry-After` seconds)."""


LOOKUP_CONNECTIONS = 4


def create_app(settings: Settings, *, run_relay: bool = True, fast_lookup: bool = True) -> FastAPI:
    """The service. `fast_lookup=False` leaves the busiest route to the framework alone (the
    tests compare the two)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await db.create_pool(settings.database_url)
        app.state.pool = pool
        app.state.verifier = TokenVerifier(pool)
        app.state.policy = policy_from_file(settings.policy_file)
        # Current-status lookups and audit rows, the busiest statements, are grouped single
        # statements: a pool of their own spares each a reset round trip.
        lookups = await db.create_pool(
            settings.database_url, max_size=LOOKUP_CONNECTIONS, single_statements=True
        )
        app.state.status_reader = api_blacklist.StatusReader(lookups, app.state.policy)
        app.state.audit = AuditWriter(lookups)
        app.state.notifier = watch.Notifier(settings.database_url)
        await app.state.notifier.start()
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
            await app.state.notifier.stop()
            await app.state.status_reader.close()
            await app.state.audit.close()
            await lookups.close()
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
        return problem(401, str(exc), {"WWW-Authenticate": "Bearer"})

    @app.exception_handler(Unavailable)
    async def _unavailable(_: Request, exc: Unavailable) -> Response:
        log.warning("database unavailable", error=str(exc))
        return problem(
            503,
            "the database is unavailable; nothing was stored, retry later",
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        # A dependency lost in the middle of any route is still "unavailable", never a 500.
        if db.is_unavailable(exc):
            return await _unavailable(_, Unavailable(repr(exc)))
        log.error("unexpected error", error=repr(exc))
        return problem(500, "internal error; nothing was changed by this request")

    @app.exception_handler(Forbidden)
    async def _forbidden(_: Request, exc: Forbidden) -> Response:
        return problem(403, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        return problem(exc.status_code, str(exc.detail), dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"path": ".".join(str(x) for x in e["loc"]), "reason": e["msg"]} for e in exc.errors()
        ]
        reason = "; ".join(f"{e['path']}: {e['reason']}" for e in errors)
        return json_response(422, {"status": 422, "error": reason, "errors": errors})

    @app.exception_handler(InvalidCode)
    async def _invalid_code(_: Request, exc: InvalidCode) -> Response:
        return problem(422, exc.reason)

    @app.exception_handler(asyncpg.DataError)
    async def _bad_data(_: Request, exc: asyncpg.DataError) -> Response:
        # Input the database cannot represent (a NUL character, say) is the caller's error.
        return problem(422, f"invalid input: {exc}")

    @app.exception_handler(TooLarge)
    async def _too_large(_: Request, exc: TooLarge) -> Response:
        return problem(413, str(exc))

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> Response:
        return problem(404, str(exc))

    @app.exception_handler(RequestRefused)
    async def _refused(_: Request, exc: RequestRefused) -> Response:
        return problem(exc.status, exc.reason)

    @app.post(
        "/v1/events",
        status_code=202,
        summary="Publish events",
        description=_EVENTS_DOC,
        tags=["ingest"],
        responses={
            **ERRORS,
            **TOO_LARGE,
            202: {"description": "stored; one result per event"},
            415: {"model": Problem, "description": "not JSON"},
            422: {"description": "every event rejected; one result per event"},
        },
    )
    async def post_events(
        request: Request, who: Annotated[Principal, Depends(principal)]
    ) -> Response:
        media = request.headers.get("content-type", "application/json").split(";")[0].strip()
        if media not in ("application/json", ""):
            raise RequestRefused(415, f"content type {media!r}: send application/json")
        body = await read_body(request, settings.max_body_bytes)
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
        return json_response(report.http_status, report.as_dict())

    @app.get("/healthz", tags=["operations"], summary="Liveness")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app.include_router(observability.router)
    app.include_router(api_cases.router)
    app.include_router(api_blacklist.router)
    app.include_router(api_regions.router)
    app.include_router(watch.router)
    app.include_router(console.router)
    if fast_lookup:
        app.add_middleware(FastLookup)
    # Added last, so outermost: it measures the fast lookups as well.
    app.add_middleware(observability.Metrics)
    return app
