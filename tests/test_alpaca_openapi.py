"""The served OpenAPI describes the API: a bounded schemathesis run against ``fillforge serve
alpaca`` in its own process (real sockets, the unmodified CLI) finds no server error, no status
code the description does not list, and no answer outside its documented schema."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from fillforge.alpaca import served_alpaca

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)


def _schemathesis() -> str:
    found = shutil.which("schemathesis") or str(Path(sys.executable).with_name("schemathesis"))
    if not Path(found).exists():
        pytest.fail("schemathesis is not installed (it is in the test extras)")
    return found


def test_every_route_documents_its_body_and_status_codes() -> None:
    with served_alpaca("--data", "scripted", "--quote", "AAPL=100.00/100.02x1000") as served:
        spec = requests.get(f"{served.base_url}/openapi.json", timeout=10).json()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            assert {"401", "429"} <= codes, (method, path, codes)
            if method in ("post", "patch") and path.startswith("/v2/orders"):
                assert "requestBody" in op, (method, path)
                assert {"403", "422"} <= codes, (method, path, codes)


def test_a_bounded_schemathesis_run_finds_no_server_error_and_no_schema_violation(
    tmp_path: Path,
) -> None:
    args = ("--data", "scripted", "--quote", "AAPL=100.00/100.02x1000")
    start = ("--start", "2026-11-23T10:00:00-05:00", "--rate-limit", "10000000", "--seed", "7")
    with served_alpaca(*args, *start) as served:
        run = subprocess.run(
            [
                _schemathesis(),
                "run",
                f"{served.base_url}/openapi.json",
                "-H",
                f"APCA-API-KEY-ID: {served.key_id}",
                "-H",
                f"APCA-API-SECRET-KEY: {served.secret_key}",
                "--max-examples",
                "12",
                "--seed",
                "20261123",
                "--phases",
                "examples,fuzzing",
                "--checks",
                CHECKS,
                "--generation-deterministic",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
            env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"},
            check=False,
        )
    said = run.stdout[-4000:] + run.stderr[-2000:]
    assert run.returncode == 0, said
    assert " passed" in said
    assert "failures" not in said.rsplit("SUMMARY", 1)[-1], said
    assert "Traceback" not in "".join(served.output), "the server logged an exception"
