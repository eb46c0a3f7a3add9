"""A bank's watch list (DESIGN §6): it registers the codes of its loan book and is pushed every
status change of a watched code, within a second of the change, instead of re-checking on a
timer.

Register codes, then hold the stream open (Server-Sent Events)::

    curl -X PUT http://127.0.0.1:8000/v1/watchlist -H "Authorization: Bearer $TOKEN" \\
         -H 'Content-Type: application/json' -d '{"codes": ["91350100M000100Y43"]}'
    curl -N http://127.0.0.1:8000/v1/watchlist/events -H "Authorization: Bearer $TOKEN"

Each change arrives as::

    id: 42
    event: status-change
    data: {"cursor":42,"uscc":"91350100M000100Y43","previous_status":"CLEAR",...}

`id` is the change-feed cursor. After a disconnect, reconnect with the header
`Last-Event-ID: 42` (browsers' EventSource does this by itself) or `?after=42`: the changes
missed in between are replayed first, in cursor order, then live ones follow. Without either the
stream starts from now. A `: keep-alive` comment is sent every 15 seconds of silence. A client
that reads too slowly to keep up is disconnected (the stream ends with a comment saying so); it
resumes from its last id without losing anything.

Open streams hold a graceful shutdown of the server until their clients leave: run uvicorn with
a `timeout_graceful_shutdown`, after which they are cut and their clients resume elsewhere.

The application runs one `Notifier` (one PostgreSQL connection LISTENing for committed changes)
on `app.state.notifier`, shared by every open stream::

    app.include_router(watch.router)
    # in the lifespan:
    app.state.notifier = watch.Notifier(settings.database_url)
    await app.state.notifier.start()
    ...
    await app.state.notifier.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from events.uscc import InvalidUscc, validate
from services import db
from services.audit import AuditWriter
from services.auth import Principal
from services.http import (
    ERRORS,
    NOT_FOUND,
    TOO_LARGE,
    NotFound,
    Unavailable,
    json_response,
    pool_of,
    read_body,
    require,
)
from services.logging import get_logger
from services.readside import AuditRow

log = get_logger(__name__)

CHANNEL = "jointcase_change"
MAX_CODES = 10_000
# 10,000 codes of 18 characters in JSON take ~210 kB; the rest is room for whitespace.
MAX_BODY_BYTES = 1024 * 1024
HEARTBEAT_SECONDS = 15.0
# How long a new stream waits for the notifier's first connection before answering 503.
READY_WAIT_SECONDS = 3.0
RETRY_MILLISECONDS = 2000
MAX_CURSOR = 2**63 - 1  # bigint

router = APIRouter(prefix="/v1/watchlist", tags=["watch list"], responses=ERRORS)

BANK = require("bank")

_CHANGE_COLUMNS = (
    "c.cursor, c.uscc, c.previous_status, c.status, c.effective_at, c.recorded_at, "
    "c.summary::text AS summary"
)


# --- the change stream ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Change:
    """One change-feed row, rendered once as an SSE message for every stream it goes to."""

    cursor: int
    uscc: str
    message: bytes


def render(row: asyncpg.Record) -> Change:
    data = orjson.dumps(
        {
            "cursor": row["cursor"],
            "uscc": row["uscc"],
            "previous_status": row["previous_status"],
            "status": row["status"],
            "effective_at": row["effective_at"],
            "recorded_at": row["recorded_at"],
            "summary": orjson.Fragment(row["summary"]),
        }
    )
    message = b"id: %d\nevent: status-change\ndata: %s\n\n" % (row["cursor"], data)
    return Change(row["cursor"], row["uscc"], message)


class Subscription:
    """One open stream's mailbox: the changes of its bank's watched codes, in cursor order."""

    def __init__(self, bank_id: str, capacity: int) -> None:
        self.bank_id = bank_id
        # One slot more than the capacity: the end-of-stream mark always fits.
        self._queue: asyncio.Queue[Change | None] = asyncio.Queue(capacity + 1)
        self._capacity = capacity
        self.closed_reason: str | None = None

    def offer(self, change: Change) -> bool:
        """Queue a change without waiting; False when the reader has fallen too far behind."""
        if self.closed_reason is not None:
            return True
        if self._queue.qsize() >= self._capacity:
            return False
        self._queue.put_nowait(change)
        return True

    def close(self, reason: str) -> None:
        """End the stream. What is still queued is dropped: the client resumes from the last id
        it received, so nothing is lost, and a slow reader is not made to catch up from
        memory."""
        if self.closed_reason is not None:
            return
        self.closed_reason = reason
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    async def next(self) -> Change | None:
        """The next change; None once the stream is closed."""
        return await self._queue.get()


class Notifier:
    """Pushes committed change-feed rows to the open streams of the banks watching their codes.

    One dedicated connection LISTENs on `jointcase_change` (notified by a trigger when a
    transaction that inserted changes commits). On each notification, and at least every
    `poll_seconds` in case one is missed, it reads the rows after the last cursor it has seen,
    looks up in one query which of the subscribed banks watch their codes, and queues each row
    to those banks' streams. A stream whose queue is full is closed rather than waited for. If
    the database goes away the connection is re-established with backoff and reading resumes
    from the last cursor, so no change is skipped.
    """

    def __init__(
        self,
        dsn: str,
        *,
        poll_seconds: float = 1.0,
        queue_size: int = 10_000,
        page_size: int = 1000,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> None:
        self._dsn = dsn
        self._poll_seconds = poll_seconds
        self._queue_size = queue_size
        self._page_size = page_size
        self.heartbeat_seconds = heartbeat_seconds
        self._subscribers: dict[str, set[Subscription]] = {}
        self._position: int | None = None  # the last cursor dispatched
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()
        self._attempted = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.connects = 0

    @property
    def position(self) -> int | None:
        return self._position

    async def start(self, wait_seconds: float = 5.0) -> None:
        """Start listening. Waits for the first connection attempt (at most `wait_seconds`) but
        does not fail if the database is down: the service starts and retries meanwhile."""
        if self._task is not None:
            return
        self._task = asyncio.create_task(self._run(), name="watch-notifier")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_seconds):
                await self._attempted.wait()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for subs in list(self._subscribers.values()):
            for sub in list(subs):
                sub.close("the server is shutting down")
        self._subscribers.clear()

    @property
    def is_ready(self) -> bool:
        """True once the notifier knows where the change feed stands (it has connected once)."""
        return self._ready.is_set()

    async def wait_ready(self) -> None:
        await self._ready.wait()

    def subscribe(self, bank_id: str) -> Subscription:
        sub = Subscription(bank_id, self._queue_size)
        self._subscribers.setdefault(bank_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subscribers.get(sub.bank_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subscribers[sub.bank_id]

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _run(self) -> None:
        backoff = 0.2
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(
                    self._dsn, timeout=5, server_settings={"application_name": "jointcase-watch"}
                )
                conn.add_termination_listener(self._on_notify)
                await conn.add_listener(CHANNEL, self._on_notify)
                if self._position is None:
                    self._position = int(
                        await conn.fetchval("SELECT coalesce(max(cursor), 0) FROM blacklist_change")
                    )
                self.connects += 1
                self._ready.set()
                self._attempted.set()
                backoff = 0.2
                while True:
                    # Cleared before reading: a notification that arrives while the rows are
                    # being read wakes the next round instead of being lost.
                    self._wake.clear()
                    await self._catch_up(conn)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._poll_seconds):
                            await self._wake.wait()
                    if conn.is_closed():
                        raise ConnectionError("the listening connection was closed")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._attempted.set()
                if db.is_unavailable(exc) or isinstance(exc, ConnectionError):
                    log.warning("watch notifier lost the database", error=repr(exc), retry=backoff)
                elif isinstance(exc, asyncpg.PostgresError):
                    # A refusal by the server (no such database, no permission): no traceback
                    # worth printing on every retry.
                    log.error("watch notifier refused by the database", error=repr(exc))
                else:
                    log.exception("watch notifier failed", retry=backoff)
            finally:
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)

    async def _catch_up(self, conn: asyncpg.Connection) -> None:
        assert self._position is not None
        while True:
            if not self._subscribers:
                # Nobody to tell: skip ahead. A stream opened meanwhile replays from the
                # database whatever committed before it subscribed.
                top = int(
                    await conn.fetchval("SELECT coalesce(max(cursor), 0) FROM blacklist_change")
                )
                if self._subscribers:
                    # One subscribed while the query ran; its replay may have been read before
                    # rows this maximum covers, so those rows are dispatched, not skipped.
                    continue
                self._position = max(self._position, top)
                return
            rows = await conn.fetch(
                f"SELECT {_CHANGE_COLUMNS} FROM blacklist_change c "
                "WHERE c.cursor > $1 ORDER BY c.cursor LIMIT $2",
                self._position,
                self._page_size,
            )
            if not rows:
                return
            # The banks are read after the rows: a stream that subscribes later than this
            # replays these rows from the database (they are committed), one that subscribed
            # earlier is in the list.
            banks = list(self._subscribers)
            watchers = await conn.fetch(
                "SELECT uscc, bank_id FROM watchlist "
                "WHERE uscc = ANY($1::text[]) AND bank_id = ANY($2::text[])",
                list({r["uscc"] for r in rows}),
                banks,
            )
            by_code: dict[str, list[str]] = {}
            for w in watchers:
                by_code.setdefault(w["uscc"], []).append(w["bank_id"])
            # No await from here to the position update: every subscriber present now gets
            # every row it watches, and one subscribing after reads them from the database.
            self._dispatch(rows, by_code)
            self._position = int(rows[-1]["cursor"])
            if len(rows) < self._page_size:
                return

    def _dispatch(self, rows: Sequence[asyncpg.Record], by_code: dict[str, list[str]]) -> None:
        for row in rows:
            banks = by_code.get(row["uscc"])
            if not banks:
                continue
            change = render(row)
            for bank in banks:
                for sub in list(self._subscribers.get(bank, ())):
                    if not sub.offer(change):
                        log.warning("watch stream too slow, closed", bank_id=bank)
                        sub.close("the client fell behind; reconnect with Last-Event-ID")
                        self.unsubscribe(sub)


def notifier_of(request: Request) -> Notifier:
    notifier: Notifier | None = getattr(request.app.state, "notifier", None)
    if notifier is None:
        raise Unavailable("the change notifier is not running")
    return notifier


async def _replay(
    pool: asyncpg.Pool, bank_id: str, after: int, page_size: int
) -> AsyncIterator[Change]:
    while True:
        rows = await pool.fetch(
            f"SELECT {_CHANGE_COLUMNS} FROM blacklist_change c "
            "WHERE c.cursor > $2 AND c.uscc IN (SELECT uscc FROM watchlist WHERE bank_id = $1) "
            "ORDER BY c.cursor LIMIT $3",
            bank_id,
            after,
            page_size,
        )
        for row in rows:
            yield render(row)
        if len(rows) < page_size:
            return
        after = int(rows[-1]["cursor"])


async def _stream(
    pool: asyncpg.Pool, notifier: Notifier, bank_id: str, after: int
) -> AsyncIterator[bytes]:
    # Subscribed before the replay is read: a change committed in between is then both
    # replayed and queued, and the cursor check below drops the second copy.
    sub = notifier.subscribe(bank_id)
    try:
        yield b"retry: %d\n: watching\n\n" % RETRY_MILLISECONDS
        last = after
        async for change in _replay(pool, bank_id, after, 1000):
            yield change.message
            last = change.cursor
        while True:
            try:
                async with asyncio.timeout(notifier.heartbeat_seconds):
                    item = await sub.next()
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if item is None:
                yield f": closed: {sub.closed_reason}\n\n".encode()
                return
            if item.cursor > last:
                yield item.message
                last = item.cursor
    except Exception as exc:
        if not db.is_unavailable(exc):
            raise
        log.warning("watch stream ended: database unavailable", error=repr(exc))
        yield b": closed: the database is unavailable; reconnect with Last-Event-ID\n\n"
    finally:
        notifier.unsubscribe(sub)


# --- routes -------------------------------------------------------------------------------


class AddResult(BaseModel):
    uscc: str
    result: Literal["added", "already watched", "invalid"]
    reason: str | None = None  # why the code is invalid


class AddReport(BaseModel):
    added: int
    already_watched: int
    invalid: int
    results: list[AddResult]  # one per code sent, in order


class WatchedCode(BaseModel):
    uscc: str
    added_at: datetime
    status: Literal["CLEAR", "WATCH", "CREDIT_RESTRICTED", "BLACKLISTED"]
    no_record: bool  # CLEAR because nothing was ever recorded about the enterprise
    since: datetime | None
    publication_ends_at: datetime | None
    measures: list[dict[str, Any]]
    rule_ids: list[str]
    data_version: int  # the change-feed cursor this status reflects


class WatchListPage(BaseModel):
    data_version: int
    codes: list[WatchedCode]
    next_after: str | None  # pass as `after` for the next page; null on the last


@contextlib.contextmanager
def _database() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        if db.is_unavailable(exc):
            raise Unavailable(repr(exc)) from exc
        raise


def _bank(who: Principal) -> str:
    assert who.bank_id is not None  # require("bank") admits only bank roles
    return who.bank_id


class _Refused(Exception):
    def __init__(self, status: int, reason: str, path: str | None = None) -> None:
        self.status = status
        self.reason = reason
        self.path = path
        super().__init__(reason)

    def response(self) -> Response:
        if self.path is None:
            return json_response(self.status, {"status": self.status, "error": self.reason})
        return json_response(
            self.status,
            {
                "status": self.status,
                "error": f"{self.path}: {self.reason}",
                "errors": [{"path": self.path, "reason": self.reason}],
            },
        )


async def _read_codes(request: Request) -> list[str]:
    try:
        body = orjson.loads(await read_body(request, MAX_BODY_BYTES))
    except orjson.JSONDecodeError as exc:
        raise _Refused(400, f"malformed JSON: {exc}") from None
    if not isinstance(body, dict):
        raise _Refused(422, 'must be an object {"codes": [...]}', "body")
    unexpected = sorted(set(body) - {"codes"})
    if unexpected:
        raise _Refused(422, "unexpected field; the body has only 'codes'", unexpected[0])
    if "codes" not in body:
        raise _Refused(422, "required: an array of USCC strings", "codes")
    codes = body["codes"]
    if not isinstance(codes, list):
        raise _Refused(422, "must be an array of USCC strings", "codes")
    if len(codes) > MAX_CODES:
        raise _Refused(413, f"{len(codes)} codes in one request; the limit is {MAX_CODES:,}")
    for i, code in enumerate(codes):
        if not isinstance(code, str):
            raise _Refused(422, f"must be a string, got {type(code).__name__}", f"codes[{i}]")
    return codes


_PUT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["codes"],
                    "additionalProperties": False,
                    "properties": {
                        "codes": {
                            "type": "array",
                            "items": {"type": "string"},
                            "maxItems": MAX_CODES,
                            "description": "USCCs (18 characters each)",
                        }
                    },
                }
            }
        },
    }
}


@router.put(
    "",
    summary="Watch codes",
    description=f"Add up to {MAX_CODES:,} codes to the calling bank's watch list. One result per "
    "code, in order: `added`, `already watched`, or `invalid` with the reason; an invalid code "
    "does not fail the others. `422` (naming the field) for a body of the wrong shape, `400` "
    "malformed JSON, `413` too many codes.",
    openapi_extra=_PUT_BODY,
    responses={200: {"model": AddReport, "description": "one result per code"}, **TOO_LARGE},
)
async def add(request: Request, who: Annotated[Principal, Depends(BANK)]) -> Response:
    bank_id = _bank(who)
    try:
        codes = await _read_codes(request)
    except _Refused as exc:
        return exc.response()
    reasons: dict[str, str] = {}
    valid: dict[str, None] = {}  # ordered and without repeats
    for code in codes:
        if code in reasons or code in valid:
            continue
        try:
            valid[validate(code)] = None
        except InvalidUscc as exc:
            reasons[code] = exc.reason
    with _database():
        rows = await pool_of(request).fetch(
            "INSERT INTO watchlist (bank_id, uscc) SELECT $1, u FROM unnest($2::text[]) AS u "
            "ON CONFLICT DO NOTHING RETURNING uscc",
            bank_id,
            list(valid),
        )
    added = {r["uscc"] for r in rows}
    results: list[dict[str, str]] = []
    for code in codes:
        if code in reasons:
            results.append({"uscc": code, "result": "invalid", "reason": reasons[code]})
        elif code in added:
            added.discard(code)  # a code sent twice is added once, then already watched
            results.append({"uscc": code, "result": "added"})
        else:
            results.append({"uscc": code, "result": "already watched"})
    count = {k: sum(1 for r in results if r["result"] == k) for k in ("added", "invalid")}
    log.info("watch list extended", bank_id=bank_id, added=count["added"])
    return json_response(
        200,
        {
            "added": count["added"],
            "already_watched": len(results) - count["added"] - count["invalid"],
            "invalid": count["invalid"],
            "results": results,
        },
    )


@router.delete(
    "/{uscc}",
    status_code=204,
    summary="Stop watching a code",
    description="`204` removed; `404` the code is not on the bank's list; `422` invalid code.",
    responses={**NOT_FOUND, 204: {"description": "no longer watched"}},
)
async def remove(
    request: Request,
    who: Annotated[Principal, Depends(BANK)],
    uscc: Annotated[str, Path(description="Unified Social Credit Code (18 characters)")],
) -> Response:
    try:
        validate(uscc)
    except InvalidUscc as exc:
        return _Refused(422, f"invalid USCC: {exc.reason}", "uscc").response()
    with _database():
        status = await pool_of(request).execute(
            "DELETE FROM watchlist WHERE bank_id = $1 AND uscc = $2", _bank(who), uscc
        )
    if status != "DELETE 1":
        raise NotFound(f"{uscc} is not on the watch list")
    return Response(status_code=204)


@router.get(
    "",
    summary="The watched codes, with their current status",
    description="The calling bank's codes in code order, each with its current credit status "
    "(a code with no record is `CLEAR`, `no_record: true`). Page with `after` = the last code "
    "of the previous page (`next_after`, null on the last page). `data_version` is the change-"
    "feed cursor the statuses reflect: the event stream from there on carries what follows.",
    responses={200: {"model": WatchListPage, "description": "one page of the list"}},
)
async def listing(
    request: Request,
    who: Annotated[Principal, Depends(BANK)],
    after: Annotated[
        str | None,
        Query(pattern="^[0-9A-Z]{1,18}$", description="the last code of the previous page"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_CODES)] = 1000,
) -> Response:
    bank_id = _bank(who)
    # One snapshot: the statuses and the data version they reflect agree.
    with _database():
        async with (
            pool_of(request).acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            version = int(
                await conn.fetchval("SELECT coalesce(max(cursor), 0) FROM blacklist_change")
            )
            rows = await conn.fetch(
                """
                SELECT w.uscc, w.added_at, s.status, s.since, s.publication_ends_at,
                       s.data_version, s.body->'measures' AS measures,
                       jsonb_path_query_array(s.body, '$.listings[*].basis.rule_id')
                           AS rule_ids,
                       s.uscc IS NULL OR (s.status = 'CLEAR'
                           AND jsonb_array_length(coalesce(s.body->'history', '[]')) = 0)
                           AS no_record
                FROM watchlist w LEFT JOIN blacklist_status s ON s.uscc = w.uscc
                WHERE w.bank_id = $1 AND w.uscc > $2
                ORDER BY w.uscc LIMIT $3
                """,
                bank_id,
                after or "",
                limit,
            )
    codes = [
        {
            "uscc": r["uscc"],
            "added_at": r["added_at"],
            "status": r["status"] or "CLEAR",
            "no_record": r["no_record"],
            "since": r["since"],
            "publication_ends_at": r["publication_ends_at"],
            "measures": orjson.Fragment(r["measures"] or "[]"),
            "rule_ids": sorted(set(orjson.loads(r["rule_ids"] or "[]"))),
            "data_version": r["data_version"] or 0,
        }
        for r in rows
    ]
    next_after = rows[-1]["uscc"] if len(rows) == limit else None
    # Statuses were answered: audited like every bank query.
    writer: AuditWriter = request.app.state.audit
    with _database():
        await writer.write(
            AuditRow(
                bank_id,
                "watchlist",
                [c["uscc"] for c in codes],
                [c["status"] for c in codes],
                version,
            )
        )
    return json_response(200, {"data_version": version, "codes": codes, "next_after": next_after})


@router.get(
    "/events",
    summary="Stream of status changes of the watched codes (Server-Sent Events)",
    description="`text/event-stream`. Each change of a watched code is a message with `id:` "
    "the change cursor, `event: status-change` and `data:` a JSON object (cursor, uscc, "
    "previous_status, status, effective_at, recorded_at, summary), pushed within a second of "
    "the change. To resume, send `Last-Event-ID` (or `?after=`): missed changes are replayed "
    "first, then live ones follow. Without either the stream starts from now. A "
    "`: keep-alive` comment every 15 s of silence. `503` when the database or the notifier is "
    "unavailable.",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "description": "the event stream",
        }
    },
)
async def events(
    request: Request,
    who: Annotated[Principal, Depends(BANK)],
    after: Annotated[
        int | None, Query(ge=0, le=MAX_CURSOR, description="resume after this cursor")
    ] = None,
    last_event_id: Annotated[
        str | None, Header(description="resume after this cursor (sent by EventSource)")
    ] = None,
) -> Response:
    bank_id = _bank(who)
    # The header wins: an EventSource reconnects with it, keeping the URL it started with.
    if last_event_id is not None and last_event_id.strip():
        value = last_event_id.strip()
        if not (value.isascii() and value.isdigit() and int(value) <= MAX_CURSOR):
            return _Refused(422, "must be a change cursor (an integer)", "Last-Event-ID").response()
        after = int(value)
    notifier = notifier_of(request)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(READY_WAIT_SECONDS):
            await notifier.wait_ready()
    if not notifier.is_ready:
        raise Unavailable("the change notifier cannot reach the database")
    pool = pool_of(request)
    if after is None:
        with _database():
            after = int(
                await pool.fetchval("SELECT coalesce(max(cursor), 0) FROM blacklist_change")
            )
    log.info("watch stream opened", bank_id=bank_id, after=after)
    return StreamingResponse(
        _stream(pool, notifier, bank_id, after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
