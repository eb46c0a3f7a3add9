"""`jointcase rebuild`: recompute every read model from the event store of record.

The same handler as the worker, so the result equals the incrementally built one; the read
models stay online meanwhile (each enterprise is rewritten in place, and the change feed gets a
row only where a status really changes, e.g. under a new policy).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from tqdm import tqdm

from projections.recompute import Rules, load_rules, recompute
from services import db
from services.config import Settings

CHUNK = 500  # enterprises per transaction


@dataclass(frozen=True, slots=True)
class Rebuilt:
    enterprises: int
    events: int
    changes: int
    seconds: float


async def rebuild(dsn: str, rules: Rules, *, progress: bool = False) -> Rebuilt:
    start = time.perf_counter()
    pool = await db.create_pool(dsn, max_size=2)
    try:
        usccs = [
            r["enterprise"]
            for r in await pool.fetch(
                "SELECT DISTINCT enterprise FROM event_store ORDER BY enterprise"
            )
        ]
        events = int(await pool.fetchval("SELECT count(*) FROM event_store"))
        changes = 0
        with tqdm(total=len(usccs), unit="enterprise", disable=not progress, desc="rebuild") as bar:
            for i in range(0, len(usccs), CHUNK):
                chunk = usccs[i : i + CHUNK]
                async with pool.acquire() as conn, conn.transaction():
                    done = await recompute(conn, chunk, now=datetime.now(UTC), rules=rules)
                changes += done.changes
                bar.update(len(chunk))
    finally:
        await pool.close()
    return Rebuilt(len(usccs), events, changes, time.perf_counter() - start)


def main(settings: Settings, *, progress: bool = True) -> int:
    result = asyncio.run(
        rebuild(
            settings.database_url,
            load_rules(settings.policy_file, settings.rules_file),
            progress=progress,
        )
    )
    print(
        f"rebuilt {result.enterprises:,} enterprises from {result.events:,} events "
        f"in {result.seconds:.1f} s; {result.changes:,} status change(s)"
    )
    return 0
