"""Concurrent requests' database calls, run together: one statement for a whole group.

Each database round trip costs the HTTP process about as much CPU as the rest of a small
request, so under load the calls of concurrent requests are grouped: a call that arrives
while the runner is busy waits, and goes with every other call that arrived meanwhile. No call
waits for a timer: alone, it runs at once; the busier the process, the larger the groups.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from services import db
from services.http import Unavailable

Item = TypeVar("Item")
Result = TypeVar("Result")

# One group's calls -> one outcome per call, in order: its result or the exception it fails with.
GroupCall = Callable[[list[Item]], Awaitable[Sequence[Result | Exception]]]


class GroupRunner(Generic[Item, Result]):
    """Runs `call` on groups of items, at most `concurrency` groups at a time; `groups` and
    `items` count what has run. A group is at most `max_weight` by `weight` (at least one
    item)."""

    def __init__(
        self,
        call: GroupCall[Item, Result],
        *,
        concurrency: int = 1,
        weight: Callable[[Item], int] = lambda _: 1,
        max_weight: int = 1000,
    ) -> None:
        self._call = call
        self._concurrency = concurrency
        self._weight = weight
        self._max_weight = max_weight
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._running: set[asyncio.Task[None]] = set()
        self._start_pending = False
        self.groups = 0
        self.items = 0

    async def run(self, item: Item) -> Result:
        """The outcome of `item`, once its group has run: its result, or its exception
        raised. If the database cannot be reached, every call of the group raises
        Unavailable."""
        outcome: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, outcome))
        if not self._start_pending and len(self._running) < self._concurrency:
            # On the next turn of the loop: requests that arrived together go together.
            self._start_pending = True
            asyncio.get_running_loop().call_soon(self._start)
        return await outcome

    async def close(self) -> None:
        """Wait until every call handed in so far has run."""
        while self._running or self._waiting:
            if self._running:
                await asyncio.wait(self._running)
            else:
                await asyncio.sleep(0)

    def _start(self) -> None:
        self._start_pending = False
        while self._waiting and len(self._running) < self._concurrency:
            task = asyncio.create_task(self._run_group(self._take()), name="group-runner")
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._start()

    def _take(self) -> list[tuple[Item, asyncio.Future[Result]]]:
        taken, weight = 0, 0
        for item, _ in self._waiting:
            weight += max(1, self._weight(item))
            if taken and weight > self._max_weight:
                break
            taken += 1
        group, self._waiting = self._waiting[:taken], self._waiting[taken:]
        return group

    async def _run_group(self, group: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            outcomes = await self._call([item for item, _ in group])
        except Exception as exc:
            # "Unavailable" is made afresh for each call (one object raised in several tasks
            # collects all their tracebacks); any other failure is a fault of the group's code,
            # reported to each of its calls as it is.
            outcomes = [unavailable(exc) if db.is_unavailable(exc) else exc for _ in group]
        except BaseException as exc:  # cancelled: the process is stopping
            for _, outcome in group:
                _settle(outcome, Unavailable(f"stopped: {exc!r}"))
            raise
        self.groups += 1
        self.items += len(group)
        for (_, outcome), result in zip(group, outcomes, strict=True):
            _settle(outcome, result)


def unavailable(cause: Exception) -> Unavailable:
    """What a request is told when the database cannot be reached (503)."""
    error = Unavailable(repr(cause))
    error.__cause__ = cause
    return error


def _settle(outcome: asyncio.Future[Result], result: Result | Exception) -> None:
    if outcome.done():  # its request was cancelled meanwhile
        return
    if isinstance(result, Exception):
        outcome.set_exception(result)
    else:
        outcome.set_result(result)
