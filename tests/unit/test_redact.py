"""The one redaction (``config/redact.py``) and where a run records the secrets in a
step's output (``logfiles.seal``), on their own."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from dataflow_runner import logfiles
from dataflow_runner.config.redact import (
    MASK,
    SECRETS,
    is_secret_key,
    mask_urls,
    redact,
    scrub,
    secret_values,
    url_secrets,
)


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("db_password", True),
        ("DB_PASSWD", True),
        ("FOO_TOKEN", True),
        ("client_secret", True),
        ("x_key", True),
        ("SSH-KEY", True),
        ("accessKeyId", True),
        ("secretAccessKey", True),
        ("Authorization", True),
        ("keyName", False),
        ("key", False),
        ("region", False),
        ("spark.authenticate", False),
        ("author", False),
    ],
)
def test_secret_looking_names(name: str, secret: bool) -> None:
    assert is_secret_key(name) is secret


def test_urls_lose_their_passwords_whatever_the_scheme() -> None:
    text = (
        "consul http://u:pa55word@h:8500/v1, etcd://root:s3cret-1@e:2379, "
        "postgresql://dfr:pw@db/x?sslmode=require&password=hunter22 s3://bucket/key"
    )
    assert mask_urls(text) == (
        "consul http://u:***@h:8500/v1, etcd://root:***@e:2379, "
        "postgresql://dfr:***@db/x?sslmode=require&password=*** s3://bucket/key"
    )
    assert url_secrets("http://u:p%40ss-word@h") == ["p%40ss-word", "p@ss-word"]


def test_a_secret_is_found_quoted_as_json_and_python_quote_it() -> None:
    secret = 'pw"with\\quote-é'
    SECRETS.add(secret)
    assert scrub(f"got {json.dumps(secret)}") == f'got "{MASK}"'
    assert scrub(f"got {json.dumps(secret, ensure_ascii=False)}") == f'got "{MASK}"'
    assert scrub(f"got {secret!r}") == f"got '{MASK}'"


def test_short_values_are_masked_only_under_a_secret_looking_name() -> None:
    SECRETS.add("abc")
    assert scrub("abc") == "abc"
    assert redact({"x_key": "abc", "note": "abc"}) == {"x_key": MASK, "note": "abc"}


def test_trees_are_masked_by_name_and_by_value() -> None:
    SECRETS.add("registered-value")
    doc = {
        "env": {"FOO_TOKEN": "t", "PATH": "/bin"},
        "args": ["--x", "registered-value", ("http://u:pw1234@h",)],
        "http://a:pw5678@h/": "a key that is a URL",
        "credentials": {"accessKeyId": "env", "secretAccessKey": "env"},  # sources
    }
    assert redact(doc) == {
        "env": {"FOO_TOKEN": MASK, "PATH": "/bin"},
        "args": ["--x", MASK, ["http://u:***@h"]],
        "http://a:***@h/": "a key that is a URL",
        "credentials": {"accessKeyId": "env", "secretAccessKey": "env"},
    }
    assert sorted(secret_values(doc)) == ["pw1234", "pw5678", "t"]


def test_what_a_request_holds_is_found_in_it() -> None:
    SECRETS.add("in-the-args-1")
    SECRETS.add("elsewhere-2")
    doc = {"steps": [{"command": ["x", "--p=in-the-args-1"]}]}
    assert SECRETS.found_in(doc) == {"in-the-args-1"}


@pytest.mark.parametrize("chunk", [7, 16, 31, 1000, 1 << 20])
def test_a_step_output_is_masked_where_the_run_saw_its_secrets(
    tmp_path: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Secrets cut by the chunks read, one inside another, side by side.
    secrets = ["secretvalue123", "xsecretvalue123y", "anotherone42"]
    SECRETS.add_all(secrets)
    rng = random.Random(chunk)
    parts = [b"abc ", b"\n", *(s.encode() for s in secrets), b"zz" * 13]
    data = b"".join(rng.choice(parts) for _ in range(3000))
    prefix = str(tmp_path / "step.1")
    Path(f"{prefix}.stdout.log").write_bytes(data)
    Path(f"{prefix}.stderr.log").write_bytes(b"nothing secret\n")
    monkeypatch.setattr(logfiles, "_CHUNK", chunk)
    logfiles.seal(prefix)
    recorded = logfiles.masks_path(prefix).read_text()
    assert not any(s in recorded for s in secrets)
    assert "stderr" not in json.loads(recorded)  # nothing to mask there
    pattern = SECRETS.byte_pattern()
    assert pattern is not None
    SECRETS.clear()  # another process: it knows none of them
    assert logfiles.unseal(prefix, "stdout", data) == pattern.sub(b"***", data)
    # Grown since: what was scanned is masked; changed: left as it is.
    assert logfiles.unseal(prefix, "stdout", data + b"more").endswith(b"more")
    assert logfiles.unseal(prefix, "stdout", b"x" + data) == b"x" + data


def test_fetched_logs_are_sealed_by_name(tmp_path: Path) -> None:
    SECRETS.add("fetched-secret-9")
    prefix = str(tmp_path / "runs" / "r-1" / "b.1")
    logfiles.seal(prefix, {"stderr": "boom fetched-secret-9\n", "controller": "ok\n"})
    SECRETS.clear()
    assert logfiles.unseal(prefix, "stderr", b"boom fetched-secret-9\n") == b"boom ***\n"
