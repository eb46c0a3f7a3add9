"""Kafka topic names: one topic per stream, plus the dead-letter topic, all keyed by USCC."""

from __future__ import annotations

from aiokafka.partitioner import murmur2

from events import Stream

DEAD_LETTER = "deadletter"


def topic_for(stream: Stream | str, prefix: str) -> str:
    return f"{prefix}{Stream(stream).value}"


def key_hash(key: bytes) -> int:
    """The hash Kafka's default partitioner takes a key's partition from (modulo the count)."""
    hashed: int = murmur2(key)
    return hashed & 0x7FFFFFFF


def stream_topics(prefix: str) -> list[str]:
    return [topic_for(s, prefix) for s in Stream]


def dead_letter_topic(prefix: str) -> str:
    return f"{prefix}{DEAD_LETTER}"


def stream_of_topic(topic: str, prefix: str) -> Stream | None:
    name = topic.removeprefix(prefix)
    try:
        return Stream(name)
    except ValueError:
        return None
