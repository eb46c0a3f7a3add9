"""Bearer tokens and roles (DESIGN §6): agency:<stream>, taskforce, bank:<id>, admin.

A token is `jc_<token_id>_<secret>`; only the SHA-256 of the secret is stored. Secrets are 256
random bits, so a fast hash is enough (no password stretching needed).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

import asyncpg

from events import Stream
from services.db import Executor

_BANK_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_TOKEN = re.compile(r"^jc_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


class InvalidRole(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the role string and what it means."""

    role: str
    token_id: str = ""

    @property
    def kind(self) -> str:
        return self.role.partition(":")[0]

    @property
    def stream(self) -> Stream | None:
        """The one stream an agency may write."""
        return Stream(self.role.partition(":")[2]) if self.kind == "agency" else None

    @property
    def bank_id(self) -> str | None:
        return self.role.partition(":")[2] if self.kind == "bank" else None

    def may_write(self, stream: str) -> bool:
        if self.kind == "agency":
            return self.role == f"agency:{stream}"
        return self.kind == "taskforce" and stream == Stream.TASKFORCE.value


def check_role(role: str) -> str:
    """Return `role` if well-formed, else raise `InvalidRole` saying why."""
    kind, sep, rest = role.partition(":")
    if kind in ("taskforce", "admin") and not sep:
        return role
    if kind == "agency" and sep:
        try:
            stream = Stream(rest)
        except ValueError:
            raise InvalidRole(
                f"unknown stream {rest!r}; streams: {', '.join(s.value for s in Stream)}"
            ) from None
        if stream is Stream.TASKFORCE:
            raise InvalidRole("the taskforce stream is written with the 'taskforce' role")
        return role
    if kind == "bank" and sep:
        if not _BANK_ID.match(rest):
            raise InvalidRole("bank id: 1-63 of a-z, 0-9, '_' and '-', starting alphanumeric")
        return role
    raise InvalidRole("role must be agency:<stream>, taskforce, bank:<id> or admin")


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


async def issue(conn: Executor, role: str, note: str = "") -> str:
    """Create a token for `role` and return it; it cannot be shown again."""
    check_role(role)
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO api_token (token_id, role, secret_hash, note) VALUES ($1, $2, $3, $4)",
        token_id,
        role,
        _hash(secret),
        note or None,
    )
    return f"jc_{token_id}_{secret}"


async def revoke(conn: Executor, token_id: str) -> bool:
    status = await conn.execute(
        "UPDATE api_token SET revoked_at = now() WHERE token_id = $1 AND revoked_at IS NULL",
        token_id,
    )
    return bool(status.endswith(" 1"))


class TokenVerifier:
    """Checks bearer tokens against the stored hashes, remembering answers for a short while
    so a busy gateway does not query the database on every request."""

    def __init__(self, pool: asyncpg.Pool, cache_seconds: float = 10.0) -> None:
        self._pool = pool
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    async def verify(self, token: str) -> Principal | None:
        now = time.monotonic()
        hit = self._cache.get(token)
        if hit is not None and hit[0] > now:
            return hit[1]
        principal = await self._lookup(token)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[token] = (now + self._cache_seconds, principal)
        return principal

    async def _lookup(self, token: str) -> Principal | None:
        match = _TOKEN.match(token)
        if match is None:
            return None
        token_id, secret = match.groups()
        row = await self._pool.fetchrow(
            "SELECT role, secret_hash FROM api_token WHERE token_id = $1 AND revoked_at IS NULL",
            token_id,
        )
        if row is None or not hmac.compare_digest(bytes(row["secret_hash"]), _hash(secret)):
            return None
        return Principal(role=row["role"], token_id=token_id)
