"""The bank watch list against the real PostgreSQL and a real HTTP server: the list itself, roles,
the Server-Sent Events stream (push delay, filtering, resuming), the notifier's behaviour when a
reader is slow or the database connection drops, and the whole path from published events
through the projection worker to a bank's stream."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
import uvicorn
from fastapi import FastAPI

from services import auth, db, watch
from services.config import Settings
from services.gateway import create_app
from services.producer import EventProducer
from tests.factories import uscc
from tests.fixtures_api import running
from tests.fixtures_db import DatabaseFactory
from tests.fixtures_http import free_port
from tests.integration.test_worker import r3_events, settings_for

pytestmark = pytest.mark.integration

EVENTS = "/v1/watchlist/events"


# --- the service -------------------------------------------------------------------------


def _has_watch_routes(app: FastAPI) -> bool:
    for route in app.routes:
        if getattr(route, "original_router", None) is watch.router:
            return True
        if str(getattr(route, "path", "")).startswith("/v1/watchlist"):
            return True
    return False


def with_watch_list(app: FastAPI, settings: Settings) -> FastAPI:
    """The watch list on an app from `create_app`: its routes, and a notifier started in the
    lifespan. Either is left alone when the app factory provides it already."""
    if not _has_watch_routes(app):
        app.include_router(watch.router)
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        async with inner(a) as state:
            own: watch.Notifier | None = None
            if getattr(a.state, "notifier", None) is None:
                own = watch.Notifier(settings.database_url)
                await own.start()
                a.state.notifier = own
            try:
                yield state
            finally:
                if own is not None:
                    await own.stop()

    app.router.lifespan_context = lifespan
    return app


@dataclass
class WatchService:
    url: str
    app: FastAPI
    pool: asyncpg.Pool

    async def token(self, role: str) -> str:
        return await auth.issue(self.pool, role)

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        timeout = httpx.Timeout(30, read=None)  # streams stay silent between heartbeats
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=timeout)

    @property
    def notifier(self) -> watch.Notifier:
        notifier: watch.Notifier = self.app.state.notifier
        return notifier


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[WatchService]:
    app = with_watch_list(create_app(settings, run_relay=False), settings)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=settings.http_port, log_config=None, lifespan="on"
        )
    )
    task = asyncio.create_task(server.serve())
    pool = await db.create_pool(settings.database_url)
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield WatchService(f"http://127.0.0.1:{settings.http_port}", app, pool)
    finally:
        server.should_exit = True
        await task
        await pool.close()


@pytest.fixture(scope="module")
async def svc(new_database: DatabaseFactory) -> AsyncIterator[WatchService]:
    dsn = await new_database()
    async with serving(Settings(database_url=dsn, http_port=free_port())) as service:
        yield service


def bank_role() -> str:
    return f"bank:b{uuid.uuid4().hex[:10]}"


_numbers = iter(range(700_000, 800_000))


def fresh_code() -> str:
    """A valid code no other test in the session uses."""
    return uscc(next(_numbers))


# --- Server-Sent Events ------------------------------------------------------------------


@dataclass
class Message:
    id: str | None = None
    event: str | None = None
    data: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    received_at: float = 0.0

    def json(self) -> Any:
        return orjson.loads("\n".join(self.data))


class EventStream:
    """An open SSE response read in the background, message by message."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._messages: asyncio.Queue[Message | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        current = Message()
        try:
            async for line in self._response.aiter_lines():
                if line == "":
                    current.received_at = time.monotonic()
                    await self._messages.put(current)
                    current = Message()
                elif line.startswith(":"):
                    current.comments.append(line[1:].strip())
                else:
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if name == "id":
                        current.id = value
                    elif name == "event":
                        current.event = value
                    elif name == "data":
                        current.data.append(value)
        finally:
            await self._messages.put(None)

    async def next(self, timeout: float = 10) -> Message:
        async with asyncio.timeout(timeout):
            message = await self._messages.get()
        assert message is not None, "the stream ended"
        return message

    async def next_change(self, timeout: float = 10) -> Message:
        """The next status change, skipping comments (keep-alive)."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self.next(timeout)
                if message.event is not None:
                    assert message.event == "status-change"
                    return message

    async def ended(self, timeout: float = 10) -> list[Message]:
        """Every message until the server ends the stream."""
        got: list[Message] = []
        async with asyncio.timeout(timeout):
            while (message := await self._messages.get()) is not None:
                got.append(message)
        return got

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await self._task


@contextlib.asynccontextmanager
async def stream(
    client: httpx.AsyncClient, *, headers: dict[str, str] | None = None, after: int | None = None
) -> AsyncIterator[EventStream]:
    params = {"after": str(after)} if after is not None else None
    async with client.stream("GET", EVENTS, headers=headers, params=params) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        events = EventStream(response)
        try:
            # The first message says the subscription is in place: what commits from here on
            # is on this stream.
            first = await events.next()
            assert "watching" in first.comments
            yield events
        finally:
            await events.close()


# --- the change feed, written as the projection worker writes it --------------------------


async def record_change(
    pool: asyncpg.Pool, code: str, previous: str, status: str, rule_ids: list[str] | None = None
) -> tuple[int, float]:
    """One status change in its own transaction; returns its cursor and the monotonic time just
    before the commit."""
    summary = {"status": status, "rule_ids": rule_ids or [], "agencies": [], "dimensions": []}
    async with pool.acquire() as conn, conn.transaction():
        cursor: int = await conn.fetchval(
            "INSERT INTO blacklist_change (uscc, previous_status, status, effective_at, "
            "summary) VALUES ($1, $2, $3, now(), $4::jsonb) RETURNING cursor",
            code,
            previous,
            status,
            orjson.dumps(summary).decode(),
        )
        body = {
            "uscc": code,
            "status": status,
            "measures": [],
            "listings": [{"rule_id": r, "basis": {"rule_id": r}} for r in rule_ids or []],
            "history": [],
        }
        await conn.execute(
            """
                INSERT INTO blacklist_status (uscc, status, since, evaluated_at, body,
                                              data_version)
                VALUES ($1, $2, now(), now(), $3::jsonb, $4)
                ON CONFLICT (uscc) DO UPDATE SET status = excluded.status, body = excluded.body,
                    data_version = excluded.data_version
                """,
            code,
            status,
            orjson.dumps(body).decode(),
            cursor,
        )
        committing = time.monotonic()
    return cursor, committing


async def watch_codes(client: httpx.AsyncClient, *codes: str) -> None:
    response = await client.put("/v1/watchlist", json={"codes": list(codes)})
    assert response.status_code == 200, response.text


# --- the list ----------------------------------------------------------------------------


async def test_add_list_and_remove_with_a_result_per_code(svc: WatchService) -> None:
    a, b = sorted([fresh_code(), fresh_code()])
    lower = fresh_code()[:-1] + "a"
    wrong_check = b[:-1] + ("0" if b[-1] != "0" else "1")
    async with svc.client(await svc.token(bank_role())) as client:
        response = await client.put("/v1/watchlist", json={"codes": [a, b, lower, wrong_check, a]})
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["added"], body["already_watched"], body["invalid"]) == (2, 1, 2)
        results = body["results"]
        assert [r["uscc"] for r in results] == [a, b, lower, wrong_check, a]
        assert [r["result"] for r in results] == [
            "added",
            "added",
            "invalid",
            "invalid",
            "already watched",
        ]
        assert "lower case" in results[2]["reason"]
        assert "check character" in results[3]["reason"]

        again = (await client.put("/v1/watchlist", json={"codes": [b]})).json()
        assert again["results"] == [{"uscc": b, "result": "already watched"}]
        assert again["added"] == 0

        listed = (await client.get("/v1/watchlist")).json()
        assert [c["uscc"] for c in listed["codes"]] == [a, b]
        assert all(c["status"] == "CLEAR" and c["no_record"] for c in listed["codes"])
        assert listed["next_after"] is None

        cursor, _ = await record_change(svc.pool, b, "CLEAR", "BLACKLISTED", ["R3"])
        listed = (await client.get("/v1/watchlist")).json()
        assert listed["data_version"] >= cursor
        second = listed["codes"][1]
        assert (second["uscc"], second["status"], second["no_record"]) == (b, "BLACKLISTED", False)
        assert second["rule_ids"] == ["R3"] and second["data_version"] == cursor

        # Keyset pages of one.
        page = (await client.get("/v1/watchlist", params={"limit": 1})).json()
        assert [c["uscc"] for c in page["codes"]] == [a] and page["next_after"] == a
        page = (await client.get("/v1/watchlist", params={"limit": 1, "after": a})).json()
        assert [c["uscc"] for c in page["codes"]] == [b]
        page = (await client.get("/v1/watchlist", params={"limit": 1, "after": b})).json()
        assert page["codes"] == [] and page["next_after"] is None

        assert (await client.delete(f"/v1/watchlist/{a}")).status_code == 204
        gone = await client.delete(f"/v1/watchlist/{a}")
        assert gone.status_code == 404 and a in gone.json()["error"]
        invalid = await client.delete(f"/v1/watchlist/{lower}")
        assert invalid.status_code == 422 and "lower case" in invalid.json()["error"]
        listed = (await client.get("/v1/watchlist")).json()
        assert [c["uscc"] for c in listed["codes"]] == [b]


async def test_bodies_of_the_wrong_shape_are_refused_naming_the_field(svc: WatchService) -> None:
    async with svc.client(await svc.token(bank_role())) as client:

        async def put(content: bytes) -> httpx.Response:
            return await client.put(
                "/v1/watchlist", content=content, headers={"Content-Type": "application/json"}
            )

        for body, status, names in [
            (b'{"codes": "91350100M000100Y43"}', 422, "codes"),
            (b"{}", 422, "codes"),
            (b'{"codes": ["91350100M000100Y43", 7]}', 422, "codes[1]"),
            (b'{"codes": [], "bank": "other"}', 422, "bank"),
            (b'["91350100M000100Y43"]', 422, "body"),
            (b'{"codes": [', 400, "malformed JSON"),
        ]:
            response = await put(body)
            assert response.status_code == status, (body, response.text)
            problem = response.json()
            assert names in problem["error"], (body, response.text)
            if status == 422:
                assert [e["path"] for e in problem["errors"]] == [names]

        too_many = await client.put("/v1/watchlist", json={"codes": [fresh_code()] * 10_001})
        assert too_many.status_code == 413 and "10,000" in too_many.json()["error"]

        at_limit = await client.put("/v1/watchlist", json={"codes": ["X"] * 10_000})
        assert at_limit.status_code == 200
        assert at_limit.json()["invalid"] == 10_000

        assert (await client.get("/v1/watchlist")).json()["codes"] == []


async def test_only_banks_may_use_the_watch_list(svc: WatchService) -> None:
    code = fresh_code()
    calls = [
        ("PUT", "/v1/watchlist", {"codes": [code]}),
        ("GET", "/v1/watchlist", None),
        ("DELETE", f"/v1/watchlist/{code}", None),
        ("GET", EVENTS, None),
    ]
    async with svc.client() as anonymous:
        for method, path, body in calls:
            response = await anonymous.request(method, path, json=body)
            assert response.status_code == 401, (method, path)
            assert response.headers["www-authenticate"] == "Bearer"
    async with svc.client("jc_000000000000_" + "x" * 43) as forged:
        assert (await forged.get("/v1/watchlist")).status_code == 401
    for role in ["agency:environment", "taskforce", "admin"]:
        async with svc.client(await svc.token(role)) as client:
            for method, path, body in calls:
                response = await client.request(method, path, json=body)
                assert response.status_code == 403, (role, method, path)
                assert "bank" in response.json()["error"]
    async with svc.client(await svc.token(bank_role())) as bank:
        assert (await bank.put("/v1/watchlist", json={"codes": [code]})).status_code == 200
        assert (await bank.get("/v1/watchlist")).status_code == 200
        assert (await bank.delete(f"/v1/watchlist/{code}")).status_code == 204


async def test_one_bank_never_sees_another_banks_list_or_changes(svc: WatchService) -> None:
    x, y = fresh_code(), fresh_code()
    async with (
        svc.client(await svc.token(bank_role())) as first,
        svc.client(await svc.token(bank_role())) as second,
    ):
        await watch_codes(first, x)
        await watch_codes(second, y)
        assert [c["uscc"] for c in (await first.get("/v1/watchlist")).json()["codes"]] == [x]
        assert [c["uscc"] for c in (await second.get("/v1/watchlist")).json()["codes"]] == [y]
        assert (await second.delete(f"/v1/watchlist/{x}")).status_code == 404
        assert [c["uscc"] for c in (await first.get("/v1/watchlist")).json()["codes"]] == [x]

        async with stream(first) as a, stream(second) as b:
            cx, _ = await record_change(svc.pool, x, "CLEAR", "WATCH")
            cy, _ = await record_change(svc.pool, y, "CLEAR", "WATCH")
            cx2, _ = await record_change(svc.pool, x, "WATCH", "CLEAR")
            assert [int((await a.next_change()).id or 0) for _ in range(2)] == [cx, cx2]
            got = await b.next_change()
            assert (got.id, got.json()["uscc"]) == (str(cy), y)

        # Replays are filtered the same way.
        async with stream(second, after=cx - 1) as b:
            assert (await b.next_change()).json()["uscc"] == y


# --- the stream ----------------------------------------------------------------------------


async def test_a_change_of_a_watched_code_is_pushed_within_a_second(svc: WatchService) -> None:
    watched, unwatched = fresh_code(), fresh_code()
    async with svc.client(await svc.token(bank_role())) as client:
        await watch_codes(client, watched)
        delays = []
        async with stream(client) as events:
            status = "CLEAR"
            for new in ["WATCH", "CREDIT_RESTRICTED", "BLACKLISTED", "WATCH", "CLEAR"]:
                await record_change(svc.pool, unwatched, "CLEAR", "BLACKLISTED")
                cursor, committing = await record_change(svc.pool, watched, status, new, ["R4"])
                message = await events.next_change(timeout=5)
                delays.append(message.received_at - committing)
                assert message.id == str(cursor)
                data = message.json()
                assert data["cursor"] == cursor
                assert (data["uscc"], data["previous_status"], data["status"]) == (
                    watched,
                    status,
                    new,
                )
                assert data["summary"]["rule_ids"] == ["R4"]
                assert set(data) == {
                    "cursor",
                    "uscc",
                    "previous_status",
                    "status",
                    "effective_at",
                    "recorded_at",
                    "summary",
                }
                status = new
        print(f"push delays (s): {', '.join(f'{d:.4f}' for d in delays)}")
        assert max(delays) < 1.0, delays


async def test_resuming_replays_the_changes_missed_while_away(svc: WatchService) -> None:
    watched, other = fresh_code(), fresh_code()
    async with svc.client(await svc.token(bank_role())) as client:
        await watch_codes(client, watched)
        async with stream(client) as events:
            c1, _ = await record_change(svc.pool, watched, "CLEAR", "WATCH")
            assert (await events.next_change()).id == str(c1)

        # Away: two changes of the watched code, one of another.
        c2, _ = await record_change(svc.pool, watched, "WATCH", "BLACKLISTED")
        await record_change(svc.pool, other, "CLEAR", "WATCH")
        c3, _ = await record_change(svc.pool, watched, "BLACKLISTED", "CLEAR")

        async with stream(client, headers={"Last-Event-ID": str(c1)}) as events:
            assert [(await events.next_change()).id for _ in range(2)] == [str(c2), str(c3)]
            c4, committing = await record_change(svc.pool, watched, "CLEAR", "WATCH")
            live = await events.next_change()
            assert live.id == str(c4) and live.received_at - committing < 1.0

        async with stream(client, after=c2) as events:
            assert (await events.next_change()).id == str(c3)

        # The header wins over the query (an EventSource keeps its first URL).
        async with stream(client, headers={"Last-Event-ID": str(c3)}, after=c1) as events:
            assert (await events.next_change()).id == str(c4)

        # Without either: from now on only.
        async with stream(client) as events:
            c5, _ = await record_change(svc.pool, watched, "WATCH", "CLEAR")
            assert (await events.next_change()).id == str(c5)

        bad = await client.get(EVENTS, headers={"Last-Event-ID": "abc"})
        assert bad.status_code == 422 and "Last-Event-ID" in bad.json()["error"]
        negative = await client.get(EVENTS, params={"after": "-1"})
        assert negative.status_code == 422


async def test_silence_is_broken_by_keep_alive_comments(svc: WatchService) -> None:
    notifier = svc.notifier
    assert notifier.heartbeat_seconds == watch.HEARTBEAT_SECONDS == 15.0
    notifier.heartbeat_seconds = 0.3
    try:
        async with svc.client(await svc.token(bank_role())) as client, stream(client) as events:
            started = time.monotonic()
            beats = [await events.next(timeout=3) for _ in range(2)]
            assert all(m.comments == ["keep-alive"] and m.event is None for m in beats)
            assert time.monotonic() - started >= 0.5
    finally:
        notifier.heartbeat_seconds = watch.HEARTBEAT_SECONDS


async def test_a_stream_is_released_when_its_client_leaves(svc: WatchService) -> None:
    notifier = svc.notifier

    async def subscribers(n: int) -> None:
        async with asyncio.timeout(5):
            while notifier.subscriber_count != n:
                await asyncio.sleep(0.02)

    await subscribers(0)  # the streams of earlier tests are gone too
    async with svc.client(await svc.token(bank_role())) as client:
        async with stream(client), stream(client):
            assert notifier.subscriber_count == 2
        await subscribers(0)
    assert notifier.subscriber_count == 0


# --- the notifier --------------------------------------------------------------------------


async def watched_by(pool: asyncpg.Pool, bank_id: str, *codes: str) -> None:
    await pool.execute(
        "INSERT INTO watchlist (bank_id, uscc) SELECT $1, u FROM unnest($2::text[]) AS u",
        bank_id,
        list(codes),
    )


async def test_a_reader_that_falls_behind_is_closed_and_the_others_go_on(
    svc: WatchService,
) -> None:
    notifier = watch.Notifier(svc.app.state.settings.database_url, queue_size=5)
    await notifier.start()
    try:
        shared, only_slow = fresh_code(), fresh_code()
        await watched_by(svc.pool, "slow", shared, only_slow)
        await watched_by(svc.pool, "fast", shared)
        slow, fast = notifier.subscribe("slow"), notifier.subscribe("fast")
        cursors = []
        async with svc.pool.acquire() as conn, conn.transaction():
            for code in [shared, only_slow] * 3:  # six changes for "slow", three for "fast"
                cursors.append(
                    await conn.fetchval(
                        "INSERT INTO blacklist_change (uscc, previous_status, status, "
                        "effective_at, summary) VALUES ($1, 'CLEAR', 'WATCH', now(), '{}') "
                        "RETURNING cursor",
                        code,
                    )
                )
        async with asyncio.timeout(5):
            got = [await fast.next() for _ in range(3)]
            assert await slow.next() is None
        assert [c.cursor for c in got if c is not None] == cursors[0::2]
        assert slow.closed_reason is not None and "fell behind" in slow.closed_reason
        assert notifier.subscriber_count == 1 and fast.closed_reason is None
    finally:
        await notifier.stop()
    assert fast.closed_reason == "the server is shutting down"


async def test_the_notifier_reconnects_and_skips_nothing(svc: WatchService) -> None:
    dsn = svc.app.state.settings.database_url
    notifier = watch.Notifier(dsn)
    await notifier.start()
    try:
        code = fresh_code()
        await watched_by(svc.pool, "steady", code)
        sub = notifier.subscribe("steady")
        assert notifier.connects == 1
        dropped = await svc.pool.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'jointcase-watch' AND datname = current_database() "
            "AND pid <> pg_backend_pid()",
        )
        assert dropped >= 1
        # Committed while the notifier is away: read when it is back.
        cursor, _ = await record_change(svc.pool, code, "CLEAR", "WATCH")
        async with asyncio.timeout(10):
            change = await sub.next()
        assert change is not None and change.cursor == cursor
        assert notifier.connects >= 2
    finally:
        await notifier.stop()


async def test_without_notifications_the_poll_still_delivers_within_a_second(
    new_database: DatabaseFactory,
) -> None:
    dsn = await new_database()
    pool = await db.create_pool(dsn)
    notifier = watch.Notifier(dsn, poll_seconds=0.5)
    try:
        await pool.execute(
            "ALTER TABLE blacklist_change DISABLE TRIGGER blacklist_change_wakes_listeners"
        )
        await notifier.start()
        code = fresh_code()
        await watched_by(pool, "polled", code)
        sub = notifier.subscribe("polled")
        cursor, committing = await record_change(pool, code, "CLEAR", "WATCH")
        async with asyncio.timeout(3):
            change = await sub.next()
        assert change is not None and change.cursor == cursor
        assert time.monotonic() - committing < 1.0
    finally:
        await notifier.stop()
        await pool.close()


async def test_the_notifier_starts_while_the_database_is_down() -> None:
    notifier = watch.Notifier("postgresql://postgres@127.0.0.1:1/nowhere")
    started = time.monotonic()
    await notifier.start(wait_seconds=2)
    try:
        assert time.monotonic() - started < 2.5
        assert not notifier.is_ready and notifier.connects == 0
    finally:
        await notifier.stop()


# --- the whole path ------------------------------------------------------------------------


async def test_a_bank_is_pushed_the_listing_the_worker_projects(
    new_database: DatabaseFactory, kafka_bootstrap: str, topic_prefix: str
) -> None:
    dsn = await new_database()
    firm = fresh_code()
    settings = settings_for(dsn, kafka_bootstrap, topic_prefix, http_port=free_port())
    async with serving(settings) as service:
        async with service.client(await service.token(bank_role())) as client:
            await watch_codes(client, firm)
            async with stream(client) as events:
                async with EventProducer(kafka_bootstrap, topic_prefix=topic_prefix) as producer:
                    results = await producer.send_batch(r3_events(firm))
                assert all(r.ok for r in results), results
                async with running(settings):
                    message = await events.next_change(timeout=60)
                    received = time.time()
        data = message.json()
        assert (data["uscc"], data["previous_status"], data["status"]) == (
            firm,
            "CLEAR",
            "BLACKLISTED",
        )
        assert data["summary"]["rule_ids"] == ["R3"]
        assert sorted(data["summary"]["agencies"]) == ["environment", "quality", "safety"]
        stored = await service.pool.fetchrow(
            "SELECT cursor, recorded_at FROM blacklist_change WHERE uscc = $1", firm
        )
        assert stored is not None and message.id == str(stored["cursor"])
        delay = received - stored["recorded_at"].timestamp()
        print(f"worker transaction start to push: {delay:.3f} s")
