"""Every bank query is audited (DESIGN §6), and its audit row is committed before the answer.

A commit per query would make every lookup wait for its own commit and cost the database a
transaction each; instead the rows of the queries that arrive while one commit is in flight
are written together by the next (group commit: one multi-row INSERT, one transaction). Each
query still waits until its own row is committed, so no answer is given without its row.
"""

from __future__ import annotations

import asyncpg

from services import db, readside
from services.batching import GroupRunner, unavailable
from services.readside import AuditRow


class AuditWriter:
    """Group-commits audit rows for one process; `transactions` and `rows` count what it has
    committed."""

    def __init__(self, pool: asyncpg.Pool, *, max_codes: int = 50_000) -> None:
        self._pool = pool
        # A bulk query carries up to 10,000 codes: bound the size of one statement.
        self._runner: GroupRunner[AuditRow, None] = GroupRunner(
            self._commit, weight=lambda row: len(row.codes), max_weight=max_codes
        )
        self.transactions = 0
        self.rows = 0

    async def write(self, row: AuditRow) -> None:
        """Return once `row` is committed. Raises Unavailable when the database cannot be
        reached (the whole group fails alike), or the database's error when it refuses this
        row itself."""
        await self._runner.run(row)

    async def close(self) -> None:
        """Wait until the rows handed in so far are written."""
        await self._runner.close()

    async def _commit(self, rows: list[AuditRow]) -> list[Exception | None]:
        try:
            await self._insert(rows)
        except Exception as exc:
            if db.is_unavailable(exc) or len(rows) == 1:
                raise
            # The database refused a row (a NUL character in a code a bank sent, say): each
            # row alone, so only the query at fault fails.
            return [await self._alone(row) for row in rows]
        return [None] * len(rows)

    async def _alone(self, row: AuditRow) -> Exception | None:
        try:
            await self._insert([row])
        except Exception as exc:
            return unavailable(exc) if db.is_unavailable(exc) else exc
        return None

    async def _insert(self, rows: list[AuditRow]) -> None:
        await readside.audit(self._pool, rows)
        self.transactions += 1
        self.rows += len(rows)
