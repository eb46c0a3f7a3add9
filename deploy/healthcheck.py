#!/usr/bin/env python3
"""Container health check of the jointcase image (installed as `jointcase-healthcheck`).

    jointcase-healthcheck            GET /healthz (liveness) of the HTTP service
    jointcase-healthcheck --ready    GET /readyz (database, broker, worker lag)

Only the HTTP service (`jointcase serve`) has a port to ask. The container's main process says
which role runs: for any other role (worker, relay, one-shot commands) the check passes while the
container runs; their failures end the process, and the restart policy takes over.

Exit status 0 = healthy, 1 = unhealthy (Docker's convention). Standard library only.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence

DEFAULT_PORT = 8000
TIMEOUT_SECONDS = 4.0


def main_process_argv(cmdline: str = "/proc/1/cmdline") -> list[str]:
    """The arguments of the container's main process (behind an init such as tini too)."""
    try:
        with open(cmdline, "rb") as f:
            raw = f.read()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def serves_http(argv: Sequence[str]) -> bool:
    """True if the process is `jointcase serve ...` (the console script, however started)."""
    for i, arg in enumerate(argv):
        if os.path.basename(arg) == "jointcase":
            return list(argv[i + 1 : i + 2]) == ["serve"]
    return False


def http_port(argv: Sequence[str], env: Mapping[str, str]) -> int:
    """`--port N` / `--port=N` of the serve command, else HTTP_PORT, else 8000."""
    for i, arg in enumerate(argv):
        if arg == "--port" and i + 1 < len(argv):
            return int(argv[i + 1])
        if arg.startswith("--port="):
            return int(arg.split("=", 1)[1])
    return int(env.get("HTTP_PORT") or DEFAULT_PORT)


def probe(url: str, timeout: float = TIMEOUT_SECONDS) -> tuple[bool, str]:
    """GET url: healthy on a 2xx answer."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = int(response.status)
            return 200 <= status < 300, f"{url}: {status}"
    except urllib.error.HTTPError as exc:
        return False, f"{url}: {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return False, f"{url}: {exc}"


def main(
    args: Sequence[str] | None = None,
    *,
    process_argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    args = list(sys.argv[1:] if args is None else args)
    argv = main_process_argv() if process_argv is None else list(process_argv)
    env = os.environ if env is None else env
    if not serves_http(argv):
        return 0
    path = "/readyz" if "--ready" in args else "/healthz"
    ok, detail = probe(f"http://127.0.0.1:{http_port(argv, env)}{path}")
    print(detail, file=sys.stderr if not ok else sys.stdout)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
