"""The projection worker (投影): a Faust app whose batch consumer turns every stream's events into
read models, and whose timer re-evaluates enterprises when a deadline or period ends.

Per batch: decode (invalid → dead-letter topic with the reason and the source position), append
to the event store (idempotent by event_id), recompute every touched enterprise and write its
read models in the same transaction, and only then commit the offsets. At-least-once delivery,
exactly-once effect.

The consumer is aiokafka's, inside the Faust app: one consumer group over all stream topics with
the range assignor, so with one partition count everywhere an enterprise's events on every topic
land on the same worker (co-partitioning), and `getmany` hands over thousands of records at a
time instead of one per agent step.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import faust
import mode
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import KafkaError

from events import InvalidEvent, parse_event
from events.envelope import PowerReading
from projections import metrics, readmodels
from projections.recompute import Rules, load_rules, recompute
from services import db, eventstore
from services.broker import ensure_topics_for
from services.config import Settings
from services.eventstore import AppendOutcome
from services.kafka import consumer_kwargs_for, faust_settings_for, producer_kwargs_for
from services.logging import event_logger, get_logger
from services.memory import tune_gc
from services.topics import dead_letter_topic, stream_of_topic, stream_topics

log = get_logger(__name__)

Clock = Callable[[], datetime]

APPEND_CHUNK = 5_000  # events per INSERT statement
BATCH_FILL_SECONDS = 1.0  # how long a batch may keep filling from what is already fetched


def _now() -> datetime:
    return datetime.now(UTC)


# --- decoding (pure) ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    """Where a message was read: what its dead letter names."""

    topic: str
    partition: int
    offset: int
    key: bytes | None

    @classmethod
    def of(cls, record: ConsumerRecord[bytes, bytes]) -> Source:
        return cls(record.topic, record.partition, record.offset, record.key)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    source: Source
    value: bytes | None
    reason: str


@dataclass(frozen=True, slots=True)
class Valid:
    """A message of the batch that holds a valid event, as a row for the store. Neither the
    message nor the decoded event is kept (together they were most of a batch's memory): the
    fold reads the enterprise's history from the store, and a dead letter carries the event as
    validated. Meter readings, which the detector needs, are kept."""

    source: Source
    row: eventstore.Row
    reading: PowerReading | None = None

    @property
    def event_id(self) -> UUID:
        return self.row.event_id

    @property
    def enterprise(self) -> str:
        return self.row.enterprise

    @property
    def stream(self) -> str:
        return self.row.stream


def decode(
    records: Sequence[ConsumerRecord[bytes, bytes]], prefix: str
) -> tuple[list[Valid], list[DeadLetter]]:
    """Split a batch into valid events and dead letters, each with its reason."""
    valid = []
    dead = []
    for r in records:
        try:
            data = orjson.loads(r.value) if r.value is not None else None
        except orjson.JSONDecodeError as exc:
            dead.append(DeadLetter(Source.of(r), r.value, f"malformed JSON: {exc}"))
            continue
        try:
            event = parse_event(data)
        except InvalidEvent as exc:
            dead.append(DeadLetter(Source.of(r), r.value, f"invalid event: {exc}"))
            continue
        key = r.key.decode(errors="replace") if r.key is not None else None
        if key != event.enterprise:
            # Co-partitioning depends on the key: elsewhere, this enterprise's events would be
            # projected by two workers at once.
            reason = f"message key {key!r} is not the enterprise's USCC"
            dead.append(DeadLetter(Source.of(r), r.value, reason))
        elif stream_of_topic(r.topic, prefix) is not event.stream:
            reason = f"stream {event.stream.value!r} published on topic {r.topic!r}"
            dead.append(DeadLetter(Source.of(r), r.value, reason))
        else:
            reading = event if isinstance(event, PowerReading) else None
            valid.append(Valid(Source.of(r), eventstore.row_of(event), reading))
    return valid, dead


def dead_letter_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    r = letter.source
    return [
        ("reason", letter.reason.encode()[:4000]),
        ("source_topic", r.topic.encode()),
        ("source_partition", str(r.partition).encode()),
        ("source_offset", str(r.offset).encode()),
        ("dead_lettered_at", _now().isoformat().encode()),
    ]


# --- the batch consumer ---------------------------------------------------------------


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, projector: Projector) -> None:
        self.projector = projector

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Let the batch in flight finish and commit before its partitions move elsewhere.
        async with self.projector.batch_lock:
            pass

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.projector.assigned = set(assigned)
        log.info("partitions assigned", count=len(assigned))


@dataclass(slots=True)
class Stats:
    batches: int = 0
    consumed: int = 0
    applied: int = 0  # newly stored
    duplicates: int = 0
    dead_lettered: int = 0
    recomputed: int = 0
    changes: int = 0


class Projector(mode.Service):
    """Consumes every stream topic in batches and writes the read models."""

    def __init__(
        self, settings: Settings, rules: Rules, clock: Clock = _now, **kwargs: Any
    ) -> None:
        self.settings = settings
        self.rules = rules
        self.clock = clock
        self.prefix = settings.topic_prefix
        self.batch_lock = asyncio.Lock()
        self.assigned: set[TopicPartition] = set()
        self.stats = Stats()
        self.refused = 0  # events of the batch in flight dead-lettered for a processing failure
        self.pool: asyncpg.Pool | None = None
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        s = self.settings
        await ensure_topics_for(s)
        self.pool = await db.create_pool(s.database_url, max_size=4)
        self.producer = AIOKafkaProducer(**producer_kwargs_for(s, client_id="jointcase-worker"))
        await self.producer.start()
        self.consumer = AIOKafkaConsumer(
            **consumer_kwargs_for(s, group_id=s.projector_group, client_id="worker"),
            partition_assignment_strategy=(RangePartitionAssignor,),
            # Prefetch is held per partition (14 topics x 12): keep it small, or a backlog
            # fills hundreds of MB while a batch is being projected.
            max_partition_fetch_bytes=256 * 1024,
            fetch_max_bytes=16 * 1024 * 1024,
        )
        self.consumer.subscribe(stream_topics(self.prefix), listener=_Rebalance(self))
        await self.consumer.start()
        self.add_future(self._consume())

    async def on_stop(self) -> None:
        async with self.batch_lock:  # the batch in flight finishes and commits
            pass
        # Not under the lock: leaving the group revokes partitions, whose listener takes it.
        if self.consumer is not None:
            await self.consumer.stop()
        if self.producer is not None:
            await self.producer.stop()
        if self.pool is not None:
            await self.pool.close()

    async def _consume(self) -> None:
        assert self.consumer is not None
        while not self.should_stop:
            batches = await self._next_batch()
            if not batches:
                continue
            async with self.batch_lock:
                if self.should_stop:
                    break  # not committed: delivered again after the restart
                await self.process(batches)

    async def _next_batch(self) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        """What is available, up to the batch limit. While the consumer lags behind the
        partitions' ends the batch keeps filling (for at most a second): each touched
        enterprise is then recomputed once per batch rather than once per fetch. When it is
        caught up, a batch goes as soon as it arrives."""
        assert self.consumer is not None
        limit = self.settings.worker_max_batch
        batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
        batches = await self.consumer.getmany(timeout_ms=200, max_records=limit)
        size = sum(len(rs) for rs in batches.values())
        until = time.monotonic() + BATCH_FILL_SECONDS
        while batches and size < limit and time.monotonic() < until:
            if not await self._lagging():
                break
            more = await self.consumer.getmany(timeout_ms=20, max_records=limit - size)
            for tp, rs in more.items():
                batches.setdefault(tp, []).extend(rs)
                size += len(rs)
        return batches

    async def _lagging(self) -> bool:
        assert self.consumer is not None
        for tp in self.consumer.assignment():
            end = self.consumer.highwater(tp)
            if end is not None and end > await self.consumer.position(tp):
                return True
        return False

    async def process(
        self, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> None:
        """One batch, end to end; offsets are committed only after the read models are."""
        assert self.consumer is not None
        started = time.time()
        records = [r for rs in batches.values() for r in rs]
        ends = {tp: rs[-1].offset + 1 for tp, rs in batches.items()}
        stamps = [r.timestamp for r in records]
        valid, dead = decode(records, self.prefix)
        # The messages are not kept while the batch is projected: only what was made of them.
        batches.clear()
        records.clear()
        recomputed = self.stats.recomputed
        dead += await self._store_and_project(valid)
        await self._dead_letter(dead)
        try:
            await self.consumer.commit(ends)
        except KafkaError as exc:
            # The batch is in the event store and the read models: delivered again (to this
            # worker or the partitions' new owner, after a rebalance or a broker restart), it
            # changes nothing. A later commit covers these offsets too.
            log.warning("offsets not committed; the batch may be delivered again", error=repr(exc))
        self.stats.batches += 1
        self.stats.consumed += len(stamps)
        self.stats.dead_lettered += len(dead)
        self._observe(ends, stamps, dead, started, recomputed)
        log.info(
            "batch projected",
            consumed=len(stamps),
            dead_lettered=len(dead),
            enterprises=self.stats.recomputed - recomputed,
            started=started,
            seconds=round(time.time() - started, 3),
        )

    def _observe(
        self,
        ends: dict[TopicPartition, int],
        stamps: list[int],
        dead: list[DeadLetter],
        started: float,
        recomputed_before: int,
    ) -> None:
        now = time.time()
        metrics.CONSUMED.inc(len(stamps))
        metrics.DEAD_LETTERED.inc(len(dead))
        metrics.RECOMPUTED.inc(self.stats.recomputed - recomputed_before)
        metrics.BATCH_SECONDS.observe(now - started)
        for stamp in stamps:
            if stamp > 0:
                metrics.VISIBLE_SECONDS.observe(max(0.0, now - stamp / 1000))
        assert self.consumer is not None
        for tp, last in ends.items():
            end = self.consumer.highwater(tp)
            if end is not None:
                metrics.LAG.labels(tp.topic, str(tp.partition)).set(max(0, end - last))

    async def _store_and_project(self, valid: list[Valid]) -> list[DeadLetter]:
        """Append and recompute in one transaction, retrying while the database is down; events
        the database refuses for any other reason are isolated and dead-lettered."""
        # A record redelivered within one batch (or the same event on two topics) counts once.
        unique: dict[UUID, Valid] = {}
        for v in valid:
            unique.setdefault(v.event_id, v)
        self.refused = 0
        return await self._isolating(list(unique.values()))

    async def _isolating(self, items: list[Valid]) -> list[DeadLetter]:
        """Store and project `items`; if that fails for a reason other than the database being
        down, bisect them, each part in its own transaction, until the failing events are
        alone. The worker never stalls on a poison event: it goes to the dead-letter topic and
        everything else in the batch is projected."""
        try:
            return await self._retrying(items)
        except Exception as exc:
            if _retry_whole(exc):
                raise  # stopping meanwhile: the batch will be delivered again
            if len(items) == 1:
                self.refused += 1
                if self.refused > MAX_REFUSED_PER_BATCH:
                    # Not one bad event but something wrong with every event (a fold bug, a
                    # changed schema): stop here rather than empty the streams into the
                    # dead-letter topic. Nothing is committed; a restart resumes here.
                    raise SystemicFailure(
                        f"more than {MAX_REFUSED_PER_BATCH} events of one batch refused; "
                        f"the last: {_describe(exc)}"
                    ) from exc
                return [_refused(items[0], exc)]
            log.info("batch refused; splitting it", events=len(items), error=_describe(exc))
        dead: list[DeadLetter] = []
        for part in _halves(items):
            dead += await self._isolating(part)
        return dead

    async def _retrying(self, items: list[Valid]) -> list[DeadLetter]:
        """One transaction over `items`, tried again until the database is reachable."""
        delay = 0.2
        while True:
            try:
                return await self._transaction(items)
            except Exception as exc:
                if not _retry_whole(exc) or self.should_stop:
                    raise
                log.warning("cannot store the batch now; retrying it", error=_describe(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _transaction(self, items: list[Valid]) -> list[DeadLetter]:
        assert self.pool is not None
        dead: list[DeadLetter] = []
        applied = duplicates = 0
        async with self.pool.acquire() as conn, conn.transaction():
            outcomes = []
            for i in range(0, len(items), APPEND_CHUNK):
                chunk = [v.row for v in items[i : i + APPEND_CHUNK]]
                outcomes += await eventstore.append_rows(conn, chunk, outbox=False)
            touched: dict[str, None] = {}
            readings: dict[str, list[PowerReading]] = {}
            for v, outcome in zip(items, outcomes, strict=True):
                if outcome is AppendOutcome.CONFLICT:
                    reason = "event_id already stored for a different event"
                    event_logger(log, v.event_id, v.enterprise, v.stream).warning(
                        "dead-lettered", reason=reason
                    )
                    dead.append(DeadLetter(v.source, v.row.body, reason))
                    continue
                if outcome is AppendOutcome.ACCEPTED:
                    applied += 1
                else:
                    duplicates += 1
                touched[v.enterprise] = None
                if v.reading is not None:
                    readings.setdefault(v.enterprise, []).append(v.reading)
            done = await recompute(
                conn, list(touched), now=self.clock(), rules=self.rules, readings=readings
            )
        # Counted once committed: a transaction that is retried or split must not count twice.
        self.stats.applied += applied
        self.stats.duplicates += duplicates
        metrics.APPLIED.inc(applied)
        metrics.DUPLICATES.inc(duplicates)
        self.stats.recomputed += done.enterprises
        self.stats.changes += done.changes
        return dead

    async def _dead_letter(self, dead: list[DeadLetter]) -> None:
        """Send the dead letters, waiting for the broker if it is down: the batch's offsets are
        committed only after they are sent."""
        if not dead:
            return
        for letter in dead:
            log.warning(
                "dead-lettered",
                reason=letter.reason,
                topic=letter.source.topic,
                partition=letter.source.partition,
                offset=letter.source.offset,
            )
        delay = 0.2
        while True:
            try:
                return await self._send_dead_letters(dead)
            except KafkaError as exc:
                if self.should_stop:
                    raise  # not committed: delivered again, and dead-lettered again
                log.warning("cannot send dead letters now; retrying", error=repr(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _send_dead_letters(self, dead: list[DeadLetter]) -> None:
        assert self.producer is not None
        topic = dead_letter_topic(self.prefix)
        futures = [
            await self.producer.send(
                topic,
                letter.value,
                key=letter.source.key,
                headers=dead_letter_headers(letter),
            )
            for letter in dead
        ]
        await asyncio.gather(*futures)

    async def reevaluate_due(self, limit: int = 1000) -> int:
        """Recompute enterprises whose answer may have changed by now without a new event
        (deadlines, windows, publication periods). Several workers may run it: the advisory
        locks serialise them and every write is idempotent."""
        if self.pool is None:
            return 0
        now = self.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            usccs = await readmodels.due(conn, now, limit)
            done = await recompute(conn, usccs, now=now, rules=self.rules)
        if usccs:
            log.info(
                "re-evaluated", enterprises=len(usccs), changes=done.changes, notices=done.notices
            )
        return len(usccs)


# --- poison isolation -----------------------------------------------------------------


def _halves(items: list[Valid]) -> tuple[list[Valid], list[Valid]]:
    """A refused batch in two. While it holds several enterprises, each enterprise's events
    stay on one side: a recompute reads the enterprise's whole history, so splitting its
    events would only recompute it again. Only a refused enterprise's own events are split."""
    groups: dict[str, list[Valid]] = {}
    for item in items:
        groups.setdefault(item.enterprise, []).append(item)
    if len(groups) > 1:
        ordered = list(groups.values())
        middle = len(ordered) // 2
        return _flat(ordered[:middle]), _flat(ordered[middle:])
    # One enterprise: halves in order, so its events are still stored in the order received.
    middle = len(items) // 2
    return items[:middle], items[middle:]


def _flat(groups: list[list[Valid]]) -> list[Valid]:
    return [item for group in groups for item in group]


class SystemicFailure(RuntimeError):
    """Events fail for a reason that is not theirs: the worker stops instead of dead-lettering."""


MAX_REFUSED_PER_BATCH = 100

# Beside "unreachable": errors no event causes, which retrying the same batch outlives
# (deadlock, serialisation failure) or an operator fixes (permissions, a missing table, an
# internal error). Such a batch waits; it is never split or dead-lettered.
_RETRY_SQLSTATE_CLASSES = ("40", "42", "28", "3D", "3F", "58", "XX")


def _retry_whole(exc: BaseException) -> bool:
    if db.is_unavailable(exc):
        return True
    state = getattr(exc, "sqlstate", None) if isinstance(exc, asyncpg.PostgresError) else None
    return isinstance(state, str) and state[:2] in _RETRY_SQLSTATE_CLASSES


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _refused(item: Valid, exc: BaseException) -> DeadLetter:
    reason = f"processing failed: {_describe(exc)}"
    event_logger(log, item.event_id, item.enterprise, item.stream).warning(
        "dead-lettered", reason=reason
    )
    return DeadLetter(item.source, item.row.body, reason)


# --- the Faust app (composition root of the worker) -----------------------------------


def create_app(settings: Settings, clock: Clock = _now) -> tuple[faust.App, Projector]:
    app = faust.App(
        f"{settings.topic_prefix}worker",
        autodiscover=False,
        web_enabled=False,
        **faust_settings_for(settings),
    )
    projector = Projector(settings, load_rules(settings.policy_file, settings.rules_file), clock)
    # Faust prepares an instance like a class: this one carries the settings.
    app.service(projector)  # type: ignore[arg-type]

    @app.timer(settings.scheduler_interval_seconds)  # type: ignore[untyped-decorator]
    async def scheduler() -> None:
        try:
            while await projector.reevaluate_due() >= 1000:
                pass
        except Exception as exc:  # the next tick retries; the worker keeps consuming
            log.error("re-evaluation failed", error=repr(exc))

    return app, projector


def run(settings: Settings) -> int:
    """Blocking entry point of `jointcase worker`."""
    from faust.worker import Worker

    app, projector = create_app(settings)
    metrics.serve(settings.worker_metrics_port)
    tune_gc()
    # Faust keeps its hands off logging: structlog renders its lines like everyone else's.
    worker = Worker(
        app,
        loglevel=settings.log_level,
        quiet=True,
        redirect_stdouts=False,
        override_logging=False,
    )
    code: int | str | None = 0
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        code = exc.code
    # A crash (a systemic failure, say) exits non-zero, so that a supervisor sees it.
    return 1 if projector.crashed or code not in (0, None) else 0
