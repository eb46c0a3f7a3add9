"""`jointcase serve --workers N`: several HTTP processes on one port, one set of metrics."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx

from tests.fixtures_db import DatabaseFactory
from tests.fixtures_http import free_port


def _http_processes(parent: int) -> list[int]:
    """The processes uvicorn spawned to serve (not multiprocessing's resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def _requests_counted(exposition: str, route: str) -> float:
    prefix = "jointcase_http_requests_total{"
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in exposition.splitlines()
        if line.startswith(prefix) and f'route="{route}"' in line
    )


async def test_several_http_processes_share_the_port_and_report_one_set_of_metrics(
    new_database: DatabaseFactory, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    port = free_port()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = os.environ | {
        "DATABASE_URL": await new_database(),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "TOPIC_PREFIX": topic_prefix,
        "LOG_FORMAT": "json",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    with (tmp_path / "serve.log").open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.cli",
            "serve",
            "--workers",
            "2",
            "--port",
            str(port),
            env=env,
            stdout=log,
            stderr=log,
        )
    url = f"http://127.0.0.1:{port}"
    # A new connection per request, so the kernel spreads them over the processes.
    limits = httpx.Limits(max_keepalive_connections=0)
    try:
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10) as client:
            # Until both processes have served (each writes its own metrics file): one may
            # still be starting while the other answers everything.
            answered = 0
            async with asyncio.timeout(60):
                while len(_serving(metrics_dir)) < 2:
                    assert proc.returncode is None, (tmp_path / "serve.log").read_text()
                    if await _answers(client):
                        answered += 1
                    else:
                        await asyncio.sleep(0.1)
            # /metrics, answered by either process, counts the requests of both.
            before = _requests_counted((await client.get("/metrics")).text, "/healthz")
            assert before == answered
            answers = await asyncio.gather(*(client.get("/healthz") for _ in range(200)))
            assert all(a.status_code == 200 for a in answers)
            after = _requests_counted((await client.get("/metrics")).text, "/healthz")
        assert after - before == 200
        assert len(_http_processes(proc.pid)) == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            await proc.wait()
    assert not _http_processes(proc.pid)


def _serving(metrics_dir: Path) -> set[str]:
    """Processes that have counted a request (their metrics files are named by pid)."""
    return {f.stem.rsplit("_", 1)[1] for f in metrics_dir.glob("counter_*.db")}


async def _answers(client: httpx.AsyncClient) -> bool:
    """Whether /healthz was answered at all (whatever the status, it is counted)."""
    try:
        await client.get("/healthz")
    except httpx.TransportError:
        return False
    return True
