"""PostgreSQL: connection pools, the versioned migrations, and which errors mean "unavailable"."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from services.logging import get_logger

log = get_logger(__name__)

# A connection of one's own or one borrowed from a pool; or the pool itself, for single
# statements outside a transaction.
Connection = asyncpg.Connection | PoolConnectionProxy
Executor = Connection | asyncpg.Pool

_MIGRATION_LOCK = 7_301_2024  # advisory lock key: one migrator at a time


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations() -> list[Migration]:
    """The SQL files in services/migrations, named NNNN_description.sql, in order."""
    found = []
    for entry in resources.files("services.migrations").iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text()))
    found.sort(key=lambda m: m.version)
    return found


class MigrationError(RuntimeError):
    pass


async def ensure_database(dsn: str) -> None:
    """Create the database named in `dsn` if it does not exist (a fresh machine has none)."""
    try:
        conn = await asyncpg.connect(dsn)
    except asyncpg.InvalidCatalogNameError:
        parts = urlsplit(dsn)
        name = parts.path.lstrip("/")
        admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
            log.info("database created", database=name)
        except asyncpg.DuplicateDatabaseError:
            pass
        finally:
            await admin.close()
    else:
        await conn.close()


async def upgrade(dsn: str) -> list[Migration]:
    """Apply every migration not yet applied, each in its own transaction; returns those applied.

    A migration that was applied and then edited is refused: migrations are never edited.
    """
    await ensure_database(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migration (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        applied = {
            r["version"]: r["checksum"]
            for r in await conn.fetch("SELECT version, checksum FROM schema_migration")
        }
        done = []
        for m in migrations():
            if m.version in applied:
                if applied[m.version] != m.checksum:
                    raise MigrationError(
                        f"migration {m.version:04d}_{m.name} changed after it was applied; "
                        "add a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(m.sql)
                await conn.execute(
                    "INSERT INTO schema_migration (version, name, checksum) VALUES ($1, $2, $3)",
                    m.version,
                    m.name,
                    m.checksum,
                )
            log.info("migration applied", version=m.version, name=m.name)
            done.append(m)
        return done
    finally:
        await conn.close()


async def create_pool(
    dsn: str, max_size: int = 10, *, single_statements: bool = False
) -> asyncpg.Pool:
    """`single_statements`: a pool whose connections only ever run single statements outside
    any transaction, so no session state (SET, LISTEN, locks, cursors) outlives one; returning
    a connection then skips asyncpg's reset query, a round trip to the server on every use."""
    # min_size=0: the service starts (and answers 503) while PostgreSQL is down.
    pool = await asyncpg.create_pool(
        dsn,
        min_size=0,
        max_size=max_size,
        timeout=5,
        command_timeout=30,
        reset=_nothing_to_reset if single_statements else None,
    )
    assert pool is not None
    return pool


async def _nothing_to_reset(conn: asyncpg.Connection) -> None:
    """asyncpg still rolls back a transaction left open before calling this."""


_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57")


def is_unavailable(exc: BaseException) -> bool:
    """True for errors that mean the database cannot be reached now (answer 503, retry later)."""
    if isinstance(
        exc, OSError | TimeoutError | asyncpg.InterfaceError | asyncpg.InternalClientError
    ):
        # InternalClientError: the client's protocol state after the server went away
        # mid-operation (seen when a pooled connection is reset after a lost server).
        return True
    if isinstance(exc, asyncpg.PostgresError):
        state = getattr(exc, "sqlstate", "") or ""
        return state[:2] in _UNAVAILABLE_SQLSTATE_CLASSES
    return False
