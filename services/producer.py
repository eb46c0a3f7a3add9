"""The producer library for agency systems: validate events, publish them keyed by USCC.

    async with EventProducer("kafka:9092", topic_prefix="jointcase.") as producer:
        result = await producer.send(event_or_dict)            # Accepted, or raises
        results = await producer.send_batch(many_events)       # one result per item

An agency producing under its own Kafka principal, which may write and describe its own topic
only, names its stream and its credentials:

    EventProducer(
        "kafka.example.gov.cn:9094",
        profile="kafka",
        streams=["tax"],
        security=KafkaSecurity(protocol="SASL_SSL", username="agency-tax", password=password),
    )

Each event goes to its stream's topic, keyed by the enterprise's USCC (so one enterprise's
events stay in order on one partition), as the event's JSON, with `event_type` and `event_id`
headers. A send returns only once the broker has acknowledged it (acks=all). Resending an event
is safe: consumers deduplicate by `event_id`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, ClassVar, TypeAlias, cast
from uuid import UUID

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, KafkaTimeoutError, UnknownError

from events import (
    EVENT_TYPES,
    Event,
    FieldError,
    InvalidEvent,
    Stream,
    check_clock,
    parse_event,
    to_json,
)
from services.config import Settings
from services.kafka import (
    DEFAULT_LINGER_MS,
    DEFAULT_MAX_BATCH_BYTES,
    DEFAULT_REQUEST_TIMEOUT_MS,
    PLAINTEXT,
    KafkaProfile,
    KafkaSecurity,
    producer_kwargs,
)
from services.logging import get_logger
from services.topics import key_hash, topic_for

__all__ = [
    "Accepted",
    "BrokerUnavailable",
    "EventProducer",
    "Failed",
    "InvalidEvent",
    "KafkaSecurity",
    "ProducerError",
    "PublishFailed",
    "Rejected",
    "SendResult",
    "TopicsNotProvisioned",
]

log = get_logger(__name__)

_EVENT_CLASSES = tuple(EVENT_TYPES.values())
_TYPE_HEADERS = {name: name.encode() for name in EVENT_TYPES}
# Partition hashes of recently seen USCCs (murmur2 is pure Python); bounded to keep memory flat.
_KEY_CACHE_SIZE = 100_000


# --- errors ---------------------------------------------------------------------------


class ProducerError(Exception):
    """Base of every error the producer raises besides `InvalidEvent` (bad input)."""


class BrokerUnavailable(ProducerError):
    """The broker could not be reached, or the producer is not running."""


class TopicsNotProvisioned(ProducerError):
    """The stream topics are missing or have differing partition counts."""

    def __init__(self, message: str, missing: list[str] | None = None) -> None:
        self.missing = missing or []
        super().__init__(message)


class PublishFailed(ProducerError):
    """The broker did not acknowledge an event. `retriable` errors may succeed if sent again
    (with the same `event_id`, which makes the retry safe)."""

    def __init__(
        self, topic: str, reason: str, *, event_id: UUID | None = None, retriable: bool = False
    ) -> None:
        self.topic = topic
        self.reason = reason
        self.event_id = event_id
        self.retriable = retriable
        super().__init__(f"publishing to {topic} failed: {reason}")


# --- results --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Accepted:
    """Acknowledged by the broker: durable at `topic`/`partition`/`offset`."""

    ok: ClassVar[bool] = True
    index: int
    event_id: UUID
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class Rejected:
    """Refused before sending: the event breaks the contract; `errors` name each bad field."""

    ok: ClassVar[bool] = False
    index: int
    errors: tuple[FieldError, ...]
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class Failed:
    """Valid, but the broker did not acknowledge it; send it again if `retriable`."""

    ok: ClassVar[bool] = False
    index: int
    event_id: UUID
    topic: str
    reason: str
    retriable: bool


SendResult: TypeAlias = Accepted | Rejected | Failed


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KafkaTimeoutError):
        return "timed out waiting for the broker's acknowledgement"
    name, text = type(exc).__name__, str(exc)
    if not text:
        return name
    return text if text.startswith(name) else f"{name}: {text}"


def _retriable(exc: KafkaError) -> bool:
    # A timeout leaves the outcome unknown; resending is safe because of the event_id.
    return bool(exc.retriable) or isinstance(exc, KafkaTimeoutError)


def _raw_event_id(item: object) -> str | None:
    if isinstance(item, Mapping):
        value = item.get("event_id")
        return value if isinstance(value, str) else None
    return None


# --- the producer ----------------------------------------------------------------------


class EventProducer:
    """Publishes events to their streams' topics. Use as an async context manager.

    `streams` restricts the producer to those streams (default: every stream): only their
    topics are checked at start, and an event of another stream is refused as invalid, with
    the reason on its `stream` field. `security` is how it connects (default PLAINTEXT).
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        topic_prefix: str = "jointcase.",
        profile: KafkaProfile = "local",
        streams: Collection[Stream | str] | None = None,
        security: KafkaSecurity = PLAINTEXT,
        clock_skew: timedelta = timedelta(seconds=300),
        client_id: str = "jointcase-producer",
        linger_ms: int = DEFAULT_LINGER_MS,
        max_batch_size: int = DEFAULT_MAX_BATCH_BYTES,
        request_timeout_ms: int = DEFAULT_REQUEST_TIMEOUT_MS,
        start_timeout: float = 15.0,
        verify_topics: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic_prefix = topic_prefix
        self.profile: KafkaProfile = profile
        self.streams: frozenset[Stream] = _streams(streams)
        self.security = security
        self.clock_skew = clock_skew
        self.start_timeout = start_timeout
        self.verify_topics = verify_topics
        self._clock = clock or (lambda: datetime.now(UTC))
        self._kwargs = producer_kwargs(
            bootstrap_servers,
            profile,
            client_id=client_id,
            linger_ms=linger_ms,
            max_batch_size=max_batch_size,
            request_timeout_ms=request_timeout_ms,
            security=security,
        )
        # The streams this producer publishes, in declaration order (for stable messages).
        self._topics: dict[Stream, str] = {
            s: topic_for(s, topic_prefix) for s in Stream if s in self.streams
        }
        self._producer: AIOKafkaProducer | None = None
        self._partition_ids: dict[str, list[int]] = {}
        self._key_hashes: dict[bytes, int] = {}

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> EventProducer:
        """A producer as configured: broker, profile, security, topic prefix, clock skew."""
        options: dict[str, Any] = {
            "topic_prefix": settings.topic_prefix,
            "profile": settings.kafka_profile,
            "security": KafkaSecurity.from_settings(settings),
            "clock_skew": timedelta(seconds=settings.clock_skew_seconds),
        }
        options.update(overrides)
        return cls(settings.bootstrap_servers, **options)

    def topic_of(self, stream: Stream | str) -> str:
        return topic_for(Stream(stream), self.topic_prefix)

    # lifecycle

    async def start(self) -> None:
        if self._producer is not None:
            return
        producer = AIOKafkaProducer(**self._kwargs)
        try:
            await asyncio.wait_for(producer.start(), self.start_timeout)
        except (KafkaError, OSError, TimeoutError) as exc:
            await producer.stop()
            hint = ""
            if self.profile == "kafka" and isinstance(exc, UnknownError):
                hint = " (the local tansu broker has no idempotent producer: use profile 'local')"
            raise BrokerUnavailable(
                f"cannot connect a producer to {self.bootstrap_servers}: {_reason(exc)}{hint}"
            ) from exc
        self._producer = producer
        if self.verify_topics:
            try:
                await self._check_topics(producer)
            except BaseException:
                await self.stop()
                raise
        log.debug("producer_started", bootstrap=self.bootstrap_servers, prefix=self.topic_prefix)

    async def _check_topics(self, producer: AIOKafkaProducer) -> None:
        # Sending to a missing topic would make tansu auto-create it with its own default
        # partition count, breaking co-partitioning: check once, up front. The all-topics
        # listing is safe on both brokers: tansu auto-creates a topic asked for by name, and
        # Kafka lists only the topics the principal may describe.
        try:
            cluster = await producer.client.fetch_all_metadata()
        except KafkaError as exc:
            raise BrokerUnavailable(f"cannot read topic metadata: {_reason(exc)}") from exc
        known = cluster.topics()
        wanted = list(self._topics.values())
        missing = [t for t in wanted if t not in known]
        if missing:
            hint = "provision them first (services.broker.ensure_topics)"
            if self.security.uses_sasl:
                hint += f", or grant {self.security.username!r} DESCRIBE on them"
            raise TopicsNotProvisioned(
                f"{len(missing)} stream topic(s) missing on {self.bootstrap_servers}: "
                f"{', '.join(missing)}; {hint}",
                missing,
            )
        counts = {t: len(cluster.partitions_for_topic(t) or ()) for t in wanted}
        if len(set(counts.values())) > 1:
            detail = ", ".join(f"{t}={n}" for t, n in counts.items())
            raise TopicsNotProvisioned(
                f"stream topics have differing partition counts ({detail}); all streams must "
                "share one so that an enterprise's events are co-partitioned"
            )

    async def stop(self) -> None:
        """Flush whatever is buffered and disconnect."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def flush(self) -> None:
        await self._running().flush()

    async def __aenter__(self) -> EventProducer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _running(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise BrokerUnavailable("the producer is not started (use `async with` or start())")
        return self._producer

    # validation

    def validate(self, item: Event | Mapping[str, Any], now: datetime | None = None) -> Event:
        """The event, parsed if given as a dict; raises `InvalidEvent` naming each bad field.

        Event objects were validated when built, so only the clock is checked for them.
        """
        event: Event
        if isinstance(item, _EVENT_CLASSES):
            event = item
        else:
            event = parse_event(dict(item) if isinstance(item, Mapping) else item)
        if event.stream not in self.streams:
            raise InvalidEvent([self._foreign_stream(event.stream)])
        errors = check_clock(event, now or self._clock(), self.clock_skew)
        if errors:
            raise InvalidEvent(errors)
        return event

    def _foreign_stream(self, stream: Stream) -> FieldError:
        own = ", ".join(self._topics)
        return FieldError(
            "stream", f"{stream.value!r} is not a stream of this producer (it publishes {own})"
        )

    # publishing

    async def _enqueue(
        self, producer: AIOKafkaProducer, topic: str, event: Event
    ) -> asyncio.Future[Any]:
        """Hand one event to the producer's buffer; the future resolves on acknowledgement."""
        fut: asyncio.Future[Any] = await producer.send(
            topic,
            to_json(event),
            key=event.enterprise.encode(),
            headers=[
                ("event_type", _TYPE_HEADERS[event.event_type]),
                ("event_id", str(event.event_id).encode()),
            ],
        )
        return fut

    async def send(self, item: Event | Mapping[str, Any]) -> Accepted:
        """Validate and publish one event; return once the broker has acknowledged it.

        Raises `InvalidEvent` (nothing was sent), `PublishFailed` or `BrokerUnavailable`.
        """
        producer = self._running()
        event = self.validate(item)
        topic = self._topics[event.stream]
        try:
            metadata = await (await self._enqueue(producer, topic, event))
        except KafkaError as exc:
            raise PublishFailed(
                topic, _reason(exc), event_id=event.event_id, retriable=_retriable(exc)
            ) from exc
        return Accepted(0, event.event_id, topic, metadata.partition, metadata.offset)

    async def send_batch(self, items: Iterable[Event | Mapping[str, Any]]) -> list[SendResult]:
        """Validate every item, publish the valid ones concurrently, and wait for all of them.

        Returns one result per item, in order: `Accepted` (with its offset), `Rejected` (with
        its field errors; nothing was sent for it) or `Failed` (the broker did not
        acknowledge it). A batch is not atomic: the other items are published regardless.
        Events of one enterprise keep their relative order.
        """
        producer = self._running()
        now = self._clock()
        results: list[SendResult | None] = []
        valid: list[tuple[int, Event]] = []
        for index, item in enumerate(items):
            try:
                valid.append((index, self.validate(item, now)))
                results.append(None)
            except InvalidEvent as exc:
                results.append(Rejected(index, tuple(exc.errors), _raw_event_id(item)))

        # Records are packed straight into one record batch per topic-partition: per-message
        # sends cost more than validating and serialising the event does.
        topics = self._topics
        partitions = await self._partitions(producer, {topics[e.stream] for _, e in valid})
        open_batches: dict[tuple[str, int], _Batch] = {}
        submitted: list[_Batch] = []
        for index, event in valid:
            topic = topics[event.stream]
            key = event.enterprise.encode()
            partition = self._partition_for(key, partitions[topic])
            value = to_json(event)
            headers = [
                ("event_type", _TYPE_HEADERS[event.event_type]),
                ("event_id", str(event.event_id).encode()),
            ]
            batch = open_batches.get((topic, partition))
            if batch is None:
                batch = open_batches[topic, partition] = _Batch(producer, topic, partition)
            if batch.builder.append(timestamp=None, key=key, value=value, headers=headers) is None:
                await batch.submit()
                submitted.append(batch)
                batch = open_batches[topic, partition] = _Batch(producer, topic, partition)
                # The first record always fits, however large.
                batch.builder.append(timestamp=None, key=key, value=value, headers=headers)
            batch.items.append((index, event))
        for batch in open_batches.values():
            await batch.submit()
            submitted.append(batch)

        acks = await asyncio.gather(*(b.ack for b in submitted), return_exceptions=True)
        failed = 0
        for batch, ack in zip(submitted, acks, strict=True):
            topic, partition = batch.topic, batch.partition
            if isinstance(ack, BaseException):
                if not isinstance(ack, KafkaError):
                    raise ack
                failed += len(batch.items)
                reason, retriable = _reason(ack), _retriable(ack)
                for index, event in batch.items:
                    results[index] = Failed(index, event.event_id, topic, reason, retriable)
            else:
                base = ack.offset
                for relative, (index, event) in enumerate(batch.items):
                    results[index] = Accepted(
                        index, event.event_id, topic, partition, base + relative
                    )
        rejected = len(results) - len(valid)
        if rejected or failed:
            log.warning(
                "batch_partly_refused",
                total=len(results),
                rejected=rejected,
                failed=failed,
                prefix=self.topic_prefix,
            )
        return cast(list[SendResult], results)

    async def _partitions(
        self, producer: AIOKafkaProducer, topics: set[str]
    ) -> dict[str, list[int]]:
        """Sorted partition ids per topic; partition counts never change, so they are cached."""
        for topic in topics - self._partition_ids.keys():
            self._partition_ids[topic] = sorted(await producer.partitions_for(topic))
        return self._partition_ids

    def _partition_for(self, key: bytes, partitions: list[int]) -> int:
        """The partition aiokafka's (and Java's) default partitioner picks for `key`."""
        hashed = self._key_hashes.get(key)
        if hashed is None:
            if len(self._key_hashes) >= _KEY_CACHE_SIZE:
                self._key_hashes.clear()
            hashed = self._key_hashes[key] = key_hash(key)
        return partitions[hashed % len(partitions)]


def _streams(streams: Collection[Stream | str] | None) -> frozenset[Stream]:
    """The streams a producer publishes: every one by default; refuses unknown names."""
    if streams is None:
        return frozenset(Stream)
    if isinstance(streams, str):
        # A lone name would be read letter by letter.
        raise TypeError("streams must be a collection of stream names, not one string")
    chosen: set[Stream] = set()
    for name in streams:
        try:
            chosen.add(Stream(name))
        except ValueError:
            known = ", ".join(s.value for s in Stream)
            raise ValueError(f"unknown stream {name!r}; expected one of {known}") from None
    if not chosen:
        raise ValueError("streams is empty: name at least one stream, or None for all")
    return frozenset(chosen)


class _Batch:
    """One record batch for one topic-partition, and the events in it, in order."""

    __slots__ = ("ack", "builder", "items", "partition", "producer", "topic")

    def __init__(self, producer: AIOKafkaProducer, topic: str, partition: int) -> None:
        self.producer = producer
        self.topic = topic
        self.partition = partition
        self.builder = producer.create_batch()
        self.items: list[tuple[int, Event]] = []
        self.ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def submit(self) -> None:
        """Queue the batch; `ack` resolves (or fails) when the broker answers."""
        try:
            queued = await self.producer.send_batch(
                self.builder, self.topic, partition=self.partition
            )
        except KafkaError as exc:
            self.ack.set_exception(exc)
            return
        self.ack = queued
