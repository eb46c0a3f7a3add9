"""`GET /v1/blacklist/{uscc}` answered in front of the framework (services/fast_lookup.py)
gives exactly what the framework's route gives, and bank queries' audit rows are
group-committed, never lost for an answer given; on the real broker and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services import auth
from services.api_blacklist import StatusReader
from services.audit import AuditWriter
from services.config import Settings
from services.gateway import create_app
from services.observability import REGISTRY
from services.readside import AuditRow
from tests.factories import NOW, finding, uscc
from tests.fixtures_api import ROLES, Api
from tests.fixtures_db import DatabaseFactory
from tests.fixtures_http import fast_lookup_of, fast_lookups
from tests.integration.test_api import post, three_agencies, until

pytestmark = pytest.mark.integration

ROUTE = "/v1/blacklist/{uscc}"
UNKNOWN = uscc(33_999)  # valid, never mentioned by any event
INVALID = [
    "9135010",  # too short
    "91350100M000100Y430",  # too long
    "91350100M000100Y44",  # wrong check character
    "91350100m000100y43",  # lower case
    "91350100M000100I43",  # a letter outside the alphabet
    "bulk",  # a POST route's name: GET on it is the status route with an invalid code
]
WRONG_TOKEN = "jc_000000000000_" + "x" * 43


@contextlib.asynccontextmanager
async def in_process(settings: Settings, *, fast: bool) -> AsyncIterator[httpx.AsyncClient]:
    """An app of its own on the given database, started, with a client over plain ASGI."""
    app = create_app(settings, run_relay=False, fast_lookup=fast)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://jointcase") as client,
    ):
        client.app = app  # type: ignore[attr-defined]
        yield client


def app_of(client: httpx.AsyncClient) -> FastAPI:
    app: FastAPI = client.app  # type: ignore[attr-defined]
    return app


@dataclass
class Pair:
    """The same service twice: with the fast lookup, and with the framework's route alone."""

    fast: httpx.AsyncClient
    framework: httpx.AsyncClient
    firms: dict[str, str]  # status -> a code stored with it
    tokens: dict[str, str]

    @property
    def fast_app(self) -> FastAPI:
        return app_of(self.fast)


@pytest.fixture(scope="module")
async def pair(api: Api) -> AsyncIterator[Pair]:
    listed, watched, clear = uscc(33_001), uscc(33_002), uscc(33_003)
    await post(api, three_agencies(listed))
    await post(api, [finding(watched, occurred_at=NOW - timedelta(days=5))])
    await post(api, [finding(clear, severity="info")])
    for code, status in ((listed, "BLACKLISTED"), (watched, "WATCH")):
        await until(api, f"/v1/blacklist/{code}", lambda b, s=status: b["status"] == s, "bank:b1")
    await until(api, f"/v1/cases/{clear}", lambda b: len(b["findings"]) == 1)
    settings = api.service.settings
    async with (
        in_process(settings, fast=True) as fast,
        in_process(settings, fast=False) as framework,
    ):
        await framework.get("/healthz")  # builds the middleware stack
        assert not fast_lookups(app_of(framework))
        firms = {"BLACKLISTED": listed, "WATCH": watched, "CLEAR": clear}
        yield Pair(fast, framework, firms, api.tokens)


def authorizations(tokens: dict[str, str]) -> list[str | None]:
    return [
        None,
        "",
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer ",
        f"Bearer {WRONG_TOKEN}",
        f"bearer {tokens['bank:b1']}",  # the scheme is case-insensitive
        f"Bearer  {tokens['taskforce']}",
        *(f"Bearer {tokens[role]}" for role in ROLES),
    ]


def comparable(r: httpx.Response) -> dict[str, Any]:
    body = r.json()
    if isinstance(body, dict) and body.get("no_record") and body.get("uscc") == UNKNOWN:
        # Evaluated when asked; a stored status carries the time it was evaluated.
        assert body.pop("evaluated_at")
    return {
        "status": r.status_code,
        "content-type": r.headers.get("content-type"),
        "www-authenticate": r.headers.get("www-authenticate"),
        "retry-after": r.headers.get("retry-after"),
        "header names": sorted(r.headers.keys()),
        "body": body,
    }


async def both(pair: Pair, method: str, path: str, authorization: str | None) -> list[Any]:
    headers = {} if authorization is None else {"Authorization": authorization}
    fast = await pair.fast.request(method, path, headers=headers)
    framework = await pair.framework.request(method, path, headers=headers)
    if fast.json() == framework.json():
        assert fast.content == framework.content  # byte for byte where nothing is "now"
    return [comparable(fast), comparable(framework)]


async def test_fast_lookup_answers_exactly_what_the_route_answers(pair: Pair) -> None:
    valid = [*pair.firms.values(), UNKNOWN]
    # Percent-encoded: the path is decoded before either looks at it.
    encoded = "%39" + pair.firms["WATCH"][1:]
    await pair.fast.get("/healthz")  # builds the middleware stack
    served = fast_lookup_of(pair.fast_app).served
    seen: set[int] = set()
    for code in [*valid, encoded, *INVALID]:
        for authorization in authorizations(pair.tokens):
            fast, framework = await both(pair, "GET", f"/v1/blacklist/{code}", authorization)
            seen.add(fast["status"])
            assert fast == framework, (code, authorization)
    assert seen == {200, 401, 403, 422}
    # Valid codes were answered in front of the framework; invalid ones by the route itself.
    asked = (len(valid) + 1) * len(authorizations(pair.tokens))
    assert fast_lookup_of(pair.fast_app).served == served + asked


async def test_everything_else_goes_to_the_framework(pair: Pair) -> None:
    firm = pair.firms["BLACKLISTED"]
    bank = f"Bearer {pair.tokens['bank:b1']}"
    await pair.fast.get("/healthz")  # builds the middleware stack
    served = fast_lookup_of(pair.fast_app).served
    for method, path in [
        ("GET", f"/v1/blacklist/{firm}?as_of={NOW.isoformat().replace('+', '%2B')}"),
        ("GET", f"/v1/blacklist/{firm}?as_of=yesterday"),
        ("GET", f"/v1/blacklist/{firm}?unrelated=1"),
        ("GET", f"/v1/blacklist/{firm}/"),
        ("GET", f"/v1/blacklist/{firm}%2F"),
        ("GET", f"/v1/blacklist/{firm}/explain"),
        ("GET", "/v1/blacklist/changes"),
        ("GET", "/v1/blacklist/"),
        ("HEAD", f"/v1/blacklist/{firm}"),
        ("POST", f"/v1/blacklist/{firm}"),
        ("DELETE", f"/v1/blacklist/{firm}"),
    ]:
        headers = {"Authorization": bank}
        fast = await pair.fast.request(method, path, headers=headers, follow_redirects=False)
        framework = await pair.framework.request(
            method, path, headers=headers, follow_redirects=False
        )
        assert fast.status_code == framework.status_code, (method, path)
        if fast.content != framework.content:  # only in when each was evaluated
            bodies = [fast.json(), framework.json()]
            assert [b.pop("evaluated_at") for b in bodies] and bodies[0] == bodies[1]
    assert fast_lookup_of(pair.fast_app).served == served


def _requests(status: int) -> float:
    labels = {"route": ROUTE, "method": "GET", "status": str(status)}
    return REGISTRY.get_sample_value("jointcase_http_requests_total", labels) or 0.0


def _timed() -> float:
    return REGISTRY.get_sample_value("jointcase_http_request_seconds_count", {"route": ROUTE}) or 0


async def test_fast_lookups_are_counted_under_the_route_template(pair: Pair) -> None:
    bank = {"Authorization": f"Bearer {pair.tokens['bank:b1']}"}
    for client in (pair.fast, pair.framework):
        for path, headers, status in [
            (f"/v1/blacklist/{pair.firms['WATCH']}", bank, 200),
            (f"/v1/blacklist/{INVALID[0]}", bank, 422),
            (f"/v1/blacklist/{pair.firms['WATCH']}", {}, 401),
        ]:
            counted, timed = _requests(status), _timed()
            assert (await client.get(path, headers=headers)).status_code == status
            assert (_requests(status), _timed()) == (counted + 1, timed + 1)


async def _audit_rows(pool: asyncpg.Pool, bank_id: str) -> list[tuple[list[str], list[str], int]]:
    rows = await pool.fetch(
        "SELECT route, codes, answers, data_version FROM bank_query_audit WHERE bank_id = $1",
        bank_id,
    )
    assert {r["route"] for r in rows} <= {"status"}
    return [(list(r["codes"]), list(r["answers"]), r["data_version"]) for r in rows]


async def test_concurrent_lookups_are_each_audited_in_fewer_commits(pair: Pair, api: Api) -> None:
    bank_id = f"group-{uuid.uuid4().hex[:8]}"
    token = await api.service.token(f"bank:{bank_id}")
    rng = random.Random(4)
    codes = [rng.choice([*pair.firms.values(), UNKNOWN]) for _ in range(60)]
    writer: AuditWriter = pair.fast_app.state.audit
    reader: StatusReader = pair.fast_app.state.status_reader
    commits, reads = writer.transactions, reader.statements
    headers = {"Authorization": f"Bearer {token}"}
    answers = await asyncio.gather(
        *(pair.fast.get(f"/v1/blacklist/{c}", headers=headers) for c in codes)
    )
    assert {r.status_code for r in answers} == {200}
    expected = sorted(
        ([c], [r.json()["status"]], r.json()["data_version"])
        for c, r in zip(codes, answers, strict=True)
    )
    assert sorted(await _audit_rows(api.service.pool, bank_id)) == expected
    assert 1 <= writer.transactions - commits < len(codes)
    assert 1 <= reader.statements - reads < len(codes)  # the lookups are grouped too

    # Lookups with as_of are audited through the same writer.
    at = {"as_of": NOW.isoformat()}
    assert (await pair.fast.get(f"/v1/blacklist/{codes[0]}", params=at, headers=headers)).is_success
    assert len(await _audit_rows(api.service.pool, bank_id)) == len(codes) + 1


# --- the audit writer on its own ----------------------------------------------------------


async def test_rows_handed_in_together_are_one_commit(pool: asyncpg.Pool) -> None:
    writer = AuditWriter(pool)
    bank_id = f"w-{uuid.uuid4().hex[:8]}"
    rows = [
        AuditRow(bank_id, "bulk", [uscc(i), uscc(i + 1)], ["CLEAR", "WATCH"], i)
        if i % 3
        else AuditRow(bank_id, "changes", [], [], i)
        for i in range(20)
    ]
    await asyncio.gather(*(writer.write(r) for r in rows))
    assert (writer.transactions, writer.rows) == (1, 20)
    stored = await pool.fetch(
        "SELECT route, codes, answers, data_version FROM bank_query_audit WHERE bank_id = $1 "
        "ORDER BY id",
        bank_id,
    )
    assert [(r["route"], r["codes"], r["answers"], r["data_version"]) for r in stored] == [
        (r.route, r.codes, r.answers, r.data_version) for r in rows
    ]


async def test_a_row_the_database_refuses_fails_only_its_own_query(pool: asyncpg.Pool) -> None:
    writer = AuditWriter(pool)
    bank_id = f"w-{uuid.uuid4().hex[:8]}"
    rows = [AuditRow(bank_id, "bulk", [uscc(i)], ["CLEAR"], 1) for i in range(5)]
    rows[2] = AuditRow(bank_id, "bulk", ["nul\x00byte"], ["INVALID"], 1)
    outcomes = await asyncio.gather(*(writer.write(r) for r in rows), return_exceptions=True)
    assert [type(o) for o in outcomes if o is not None] == [
        asyncpg.CharacterNotInRepertoireError
    ] and outcomes[2] is not None
    assert (writer.transactions, writer.rows) == (4, 4)
    count = await pool.fetchval("SELECT count(*) FROM bank_query_audit WHERE bank_id = $1", bank_id)
    assert count == 4


# --- the audit failing ----------------------------------------------------------------------

_REFUSE_AUDIT = """
CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit unavailable' USING ERRCODE = 'cannot_connect_now';
END $$;
CREATE TRIGGER refuse_audit BEFORE INSERT ON bank_query_audit
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit();
"""


async def test_when_the_audit_cannot_be_written_every_bank_query_is_503(
    new_database: DatabaseFactory, kafka_bootstrap: str
) -> None:
    dsn = await new_database()
    conn = await asyncpg.connect(dsn)
    try:
        bank = await auth.issue(conn, "bank:refused")
        taskforce = await auth.issue(conn, "taskforce")
        await conn.execute(_REFUSE_AUDIT)  # the database "goes away" for audit rows only
    finally:
        await conn.close()
    settings = Settings(database_url=dsn, kafka_bootstrap_servers=kafka_bootstrap)
    codes = [uscc(34_000 + i) for i in range(30)]
    async with (
        in_process(settings, fast=True) as fast,
        in_process(settings, fast=False) as framework,
    ):
        headers = {"Authorization": f"Bearer {bank}"}
        answers = await asyncio.gather(
            *(fast.get(f"/v1/blacklist/{c}", headers=headers) for c in codes)
        )
        expected = await framework.get(f"/v1/blacklist/{codes[0]}", headers=headers)
        assert expected.status_code == 503 and expected.headers["retry-after"] == "2"
        for r in answers:
            assert (r.status_code, r.headers, r.content) == (
                expected.status_code,
                expected.headers,
                expected.content,
            )
        assert app_of(fast).state.audit.transactions == 0
        # Queries that are not audited are answered all the same.
        ok = await fast.get(
            f"/v1/blacklist/{codes[0]}", headers={"Authorization": f"Bearer {taskforce}"}
        )
        assert ok.status_code == 200
