"""`jointcase publish FILE.jsonl`: publish one event per line through the producer library.

Every line is validated; valid events are published in chunks and acknowledged by the broker;
the summary names each refused line with its errors. Exit code 0 if every event was accepted,
1 if any line was rejected or not acknowledged, 2 if nothing could be published at all.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import orjson
from tqdm import tqdm

from events import FieldError
from services.config import Settings
from services.logging import get_logger
from services.producer import Accepted, EventProducer, Failed, ProducerError, Rejected

log = get_logger(__name__)

CHUNK = 2000
SHOW_ERRORS = 20


@dataclass
class Summary:
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    # (line number, reasons) of the first refused lines, in file order
    problems: list[tuple[int, list[str]]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.accepted + self.rejected + self.failed


@dataclass(frozen=True, slots=True)
class _Line:
    number: int
    data: Any = None
    error: FieldError | None = None


def _read(path: str) -> Iterator[_Line]:
    """Non-blank lines, decoded; a line that is not JSON carries its error instead."""
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                yield _Line(number, orjson.loads(raw))
            except orjson.JSONDecodeError as exc:
                yield _Line(number, error=FieldError("", f"malformed JSON: {exc}"))


def _count_lines(path: str) -> int:
    with open(path, "rb") as fh:
        return sum(1 for raw in fh if raw.strip())


def _describe(errors: tuple[FieldError, ...]) -> list[str]:
    return [f"{e.path or '(event)'}: {e.reason}" for e in errors]


async def publish_file(
    path: str,
    producer: EventProducer,
    *,
    chunk: int = CHUNK,
    keep: int = SHOW_ERRORS,
    progress: bool = True,
) -> Summary:
    """Publish every line of `path` through a started producer.

    The summary keeps the reasons of the first `keep` refused lines only: a file of garbage
    must not fill the memory with error messages.
    """
    summary = Summary()
    bar = tqdm(
        total=_count_lines(path), unit="event", file=sys.stderr, disable=not progress, leave=False
    )
    try:
        lines = _read(path)
        while True:
            batch: list[_Line] = []
            for line in lines:
                batch.append(line)
                if len(batch) >= chunk:
                    break
            if not batch:
                break
            problems: list[tuple[int, list[str]]] = []
            decoded = [line for line in batch if line.error is None]
            for line in batch:
                if line.error is not None:
                    summary.rejected += 1
                    problems.append((line.number, _describe((line.error,))))
            results = await producer.send_batch([line.data for line in decoded])
            for line, result in zip(decoded, results, strict=True):
                if isinstance(result, Accepted):
                    summary.accepted += 1
                elif isinstance(result, Rejected):
                    summary.rejected += 1
                    problems.append((line.number, _describe(result.errors)))
                elif isinstance(result, Failed):
                    summary.failed += 1
                    problems.append((line.number, [f"not published: {result.reason}"]))
            room = keep - len(summary.problems)
            if room > 0:
                summary.problems.extend(sorted(problems)[:room])
            bar.update(len(batch))
    finally:
        bar.close()
    return summary


def render(path: str, summary: Summary, out: TextIO) -> None:
    """The human summary: counts, then the refused lines kept, and how many more there were."""
    out.write(
        f"{path}: {summary.total} event(s): {summary.accepted} accepted, "
        f"{summary.rejected} rejected, {summary.failed} failed\n"
    )
    for number, reasons in summary.problems:
        out.write(f"  line {number}: {'; '.join(reasons)}\n")
    hidden = summary.rejected + summary.failed - len(summary.problems)
    if hidden > 0:
        out.write(f"  ... and {hidden} more refused line(s)\n")


async def _run(path: str, settings: Settings, streams: Sequence[str] | None) -> Summary:
    producer = EventProducer.from_settings(
        settings, client_id="jointcase-publish", streams=streams or None
    )
    async with producer:
        return await publish_file(path, producer, progress=sys.stderr.isatty())


def main(
    path: str,
    settings: Settings,
    *,
    out: TextIO | None = None,
    streams: Sequence[str] | None = None,
) -> int:
    """Publish a JSON Lines file; print the summary; return the exit code.

    `streams` restricts publishing to those streams (a principal that may describe its own
    topic only); lines of other streams are refused.
    """
    out = out or sys.stdout
    try:
        with open(path, "rb"):
            pass  # fail on an unreadable file before connecting to the broker
        summary = asyncio.run(_run(path, settings, streams))
    except OSError as exc:
        sys.stderr.write(f"cannot read {path}: {exc.strerror or exc}\n")
        return 2
    except ProducerError as exc:
        hint = ""
        if settings.uses_local_broker:
            hint = " (is `jointcase broker` running?)"
        sys.stderr.write(f"cannot publish to {settings.bootstrap_servers}: {exc}{hint}\n")
        return 2
    render(path, summary, out)
    log.info(
        "publish_done",
        path=path,
        accepted=summary.accepted,
        rejected=summary.rejected,
        failed=summary.failed,
    )
    return 0 if summary.accepted == summary.total else 1
