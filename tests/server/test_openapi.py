"""The OpenAPI schema the server publishes, exercised by schemathesis against the
running server with an admin token: no 500, no response outside the schema."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.server.conftest import Server

CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    )
)


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    server: Server, tmp_path: Path
) -> None:
    cli = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run(
        [
            str(cli), "run", f"{server.url}/openapi.json",
            "--checks", CHECKS,
            "--header", f"Authorization: Bearer {server.token}",
            "--max-examples", "30",
            "--generation-deterministic",
            "--phases", "examples,coverage,fuzzing",
            "--no-color",
            # Revoking its own token would lock the rest of the run out.
            "--exclude-path", "/api/v1/tokens/{name}",
        ],
        capture_output=True, text=True, timeout=900, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    assert '" 500 ' not in server.output()  # (the access log: status after the request)
    assert "internal error" not in server.output()
