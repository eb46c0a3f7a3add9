"""Property-based testing of the published OpenAPI with schemathesis, against the real service:
no 5xx for any generated request, and every answer matches what the schema documents."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from tests.fixtures_api import Api
from tests.fixtures_http import fast_lookup_of

pytestmark = pytest.mark.integration

CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    )
)


@pytest.mark.parametrize("role", ["taskforce", "bank:b1", "admin"])
async def test_generated_requests_never_fail_and_match_the_schema(
    api: Api, role: str, tmp_path: Path
) -> None:
    answered_in_front = fast_lookup_of(api.service.app).served
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{api.service.url}/openapi.json",
        "--header",
        f"Authorization: Bearer {api.tokens[role]}",
        "--checks",
        CHECKS,
        "--max-examples",
        "15",
        "--generation-deterministic",
        "--exclude-path-regex",
        # An endless stream; and the readiness probe, whose 503 is its answer when a
        # dependency is slow (tested in test_api).
        "^(/v1/watchlist/events|/readyz)$",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
    )
    out, _ = await proc.communicate()
    (tmp_path / "schemathesis.log").write_bytes(out)
    assert proc.returncode == 0, out.decode()[-6000:]
    # Generated lookups without `as_of` were answered in front of the framework.
    assert fast_lookup_of(api.service.app).served > answered_in_front
