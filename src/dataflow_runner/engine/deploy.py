"""Deployment from git: a server keeps the saved playbooks (and so the schedules)
of a directory of a git repository's branch, as its commits come.

``git`` itself fetches (a URL or a local path): a bare clone in the state
directory, fetched every ``interval`` seconds and when the webhook is called
(``POST /api/v1/deploy``). On a new commit every file under the path is
validated first, all or nothing:

* ``*.yaml``, ``*.yml``, ``*.json`` documents are playbooks or cluster configs
  (their ``schema`` says which); a playbook runs on ``NAME.cluster.yaml`` beside
  it, else on the nearest ``cluster.yaml`` (or ``.yml``/``.json``) in its
  directory or above, up to the path. A playbook becomes the saved playbook
  named after its file (``pipelines/daily-events.yaml``: ``daily-events``).
* All valid: the deployed set switches. Saved playbooks are put (their
  schedules take effect at their next tick), those of the previous deployment
  that are gone are deleted (their schedules stop). Runs record the commit.
* Anything invalid: nothing changes; the deployment is recorded refused, with
  each error (file, line or JSON path, message), for the API and the UI.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from dataflow_runner.engine import saved as saved_playbooks
from dataflow_runner.errors import ConfigError, ConfigErrors, DataflowRunnerError
from dataflow_runner.store.backends import mask_url
from dataflow_runner.store.records import DeploymentRecord

if TYPE_CHECKING:
    from dataflow_runner.engine.api import Engine
    from dataflow_runner.engine.payload import Keyring

log = logging.getLogger("dataflow_runner.server")

_DOCUMENTS = (".yaml", ".yml", ".json")
_GIT_TIMEOUT = 120.0


class DeployError(DataflowRunnerError):
    """git could not fetch the repository."""


@dataclass
class Outcome:
    commit: str | None
    changed: bool
    valid: bool | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _Found:
    name: str
    file: str
    playbook: dict[str, Any]
    cluster: dict[str, Any]


class Deployer:
    """See the module's docstring."""

    def __init__(
        self,
        engine: Engine,
        keyring: Keyring,
        repo: str,
        *,
        branch: str = "main",
        path: str = "",
        interval: float = 60.0,
    ) -> None:
        self.engine = engine
        self.keyring = keyring
        self.repo = repo
        self.branch = branch
        self.path = path.strip("/")
        self.interval = interval
        self.clone = engine.state_dir / "deploy" / "repo.git"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the loop -------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="deploy", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.check()
            except DataflowRunnerError as exc:
                log.warning("deploy from %s: %s", mask_url(self.repo), "; ".join(exc.lines()))
            except Exception as exc:
                log.warning("deploy from %s failed: %s", mask_url(self.repo), exc)
            self._wake.wait(self.interval)
            self._wake.clear()

    # --- git ------------------------------------------------------------------------

    def _git(self, *args: str, cwd: Path | None = None) -> str:
        try:
            done = subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=_GIT_TIMEOUT,
                check=False, env={"GIT_TERMINAL_PROMPT": "0", "PATH": _path()},
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DeployError(f"git {args[0]}: {exc}") from None
        if done.returncode != 0:
            why = (done.stderr.strip().splitlines() or ["failed"])[-1]
            raise DeployError(f"git {args[0]} of {mask_url(self.repo)}: {mask_url(why)}")
        return done.stdout

    def fetch(self) -> str:
        """Fetch the branch; its commit."""
        if not (self.clone / "HEAD").exists():
            self.clone.parent.mkdir(parents=True, exist_ok=True)
            self._git("clone", "--bare", "--quiet", self.repo, str(self.clone))
        ref = f"refs/heads/{self.branch}"
        self._git("fetch", "--quiet", "--force", "origin", f"+{ref}:{ref}", cwd=self.clone)
        return self._git("rev-parse", ref, cwd=self.clone).strip()

    def _files(self, commit: str) -> dict[str, str]:
        """The documents under the path at ``commit``, by path, with their text."""
        args = ["ls-tree", "-r", "--name-only", commit]
        if self.path:
            args += ["--", self.path]
        names = [n for n in self._git(*args, cwd=self.clone).splitlines() if n.endswith(_DOCUMENTS)]
        return {n: self._git("show", f"{commit}:{n}", cwd=self.clone) for n in names}

    # --- deploying ------------------------------------------------------------------

    def check(self) -> Outcome:
        """Fetch, and deploy a new commit (see the module's docstring)."""
        with self._lock:
            commit = self.fetch()
            store = self.engine.store.scheduling
            if store.deployment_of(commit) is not None:
                return Outcome(commit, changed=False)
            subject = self._git("log", "-1", "--format=%s", commit, cwd=self.clone).strip()
            found, errors = self.validate(self._files(commit))
            active = store.active_deployment()
            record = DeploymentRecord(
                id=f"d-{int(time.time() * 1000):x}-{commit[:8]}",
                git_commit=commit,
                created_at=time.time(),
                repo=mask_url(self.repo),
                branch=self.branch,
                path=self.path,
                valid=int(not errors),
                active=int(not errors),
                message=subject,
                errors=tuple(errors),
                playbooks=tuple(sorted(f.name for f in found)),
            )
            if errors:
                store.add_deployment(record)
                log.warning(
                    "commit %s not deployed: %d problems, the previous version keeps running "
                    "(first: %s)", commit[:12], len(errors), errors[0]["text"],
                )  # fmt: skip
                return Outcome(commit, True, False, errors)
            for item in found:
                saved_playbooks.put(
                    self.engine, self.keyring, item.name, playbook=item.playbook,
                    cluster=item.cluster, pool=None, variables={}, by="deploy", commit=commit,
                )  # fmt: skip
            kept = {f.name for f in found}
            for gone in set(active.playbooks if active is not None else ()) - kept:
                with contextlib.suppress(saved_playbooks.SavedNotFound):
                    saved_playbooks.delete(self.engine, gone)
            store.add_deployment(record)
            log.info("deployed commit %s: %s", commit[:12], ", ".join(sorted(kept)) or "nothing")
            return Outcome(commit, True, True)

    def validate(self, files: dict[str, str]) -> tuple[list[_Found], list[dict[str, Any]]]:
        """Every playbook with its cluster config, and every problem found."""
        return validate_tree(files, self.path)


def validate_tree(
    files: dict[str, str], root: str = ""
) -> tuple[list[_Found], list[dict[str, Any]]]:
    """See :meth:`Deployer.validate` (no git: files by path, with their text)."""
    from dataflow_runner.config.loading import parse

    errors: list[ConfigError] = []
    docs: dict[str, dict[str, Any]] = {}
    for name, text in sorted(files.items()):
        try:
            doc = parse(text, name)
        except ConfigError as exc:
            errors.append(exc)
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("schema"), str):
            errors.append(
                ConfigError("expected a document with schema and data", file=name, path="$")
            )
            continue
        docs[name] = doc
    playbooks = [n for n, d in docs.items() if "/Playbook" in d["schema"]]
    clusters = {n for n, d in docs.items() if "ClusterConfig" in d["schema"]}
    found: list[_Found] = []
    names: dict[str, str] = {}
    for file in playbooks:
        cluster_file = _cluster_for(file, clusters, root)
        if cluster_file is None:
            errors.append(ConfigError(
                "no cluster config for this playbook (NAME.cluster.yaml beside it, or "
                "cluster.yaml in its directory or above)", file=file, path="$"))  # fmt: skip
            continue
        errors.extend(_check(file, files[file], cluster_file, files[cluster_file]))
        name = PurePosixPath(file).name.rsplit(".", 1)[0]
        if name in names:
            errors.append(ConfigError(f"another playbook is named {name!r} too ({names[name]})",
                                      file=file, path="$"))  # fmt: skip
        names[name] = file
        found.append(_Found(name, file, docs[file], docs[cluster_file]))
    return found, [_detail(e) for e in errors]


def _detail(error: ConfigError) -> dict[str, Any]:
    from dataflow_runner.config.redact import scrub

    return {"file": error.file, "line": error.line, "path": error.path,
            "message": scrub(error.message), "text": scrub(str(error))}  # fmt: skip


def _cluster_for(file: str, clusters: set[str], root: str) -> str | None:
    path = PurePosixPath(file)
    stem = path.name.rsplit(".", 1)[0]
    for ext in _DOCUMENTS:
        own = str(path.with_name(f"{stem}.cluster{ext}"))
        if own in clusters:
            return own
    directory = path.parent
    while True:
        for ext in _DOCUMENTS:
            shared = str(directory / f"cluster{ext}") if str(directory) != "." else f"cluster{ext}"
            if shared in clusters:
                return shared
        if str(directory) in (".", root, "") or directory == directory.parent:
            return None
        directory = directory.parent


def _check(file: str, text: str, cluster_file: str, cluster_text: str) -> list[ConfigError]:
    """The problems of one playbook (partitioned: its first partition's) and its
    cluster config, at their files' lines or JSON paths."""
    from dataflow_runner.config.loading import load_cluster
    from dataflow_runner.config.source import PlaybookSource

    found: list[ConfigError] = []
    try:
        source = PlaybookSource(file, {}, text=text)
        head = source.head()
        if head.partitions is None:
            # A scheduled run's tick is a variable: a sample one validates it.
            sample = {"tick": "1970-01-01T00:00:00Z"} if head.schedule is not None else {}
            PlaybookSource(file, sample, text=text).load()
        else:
            from dataflow_runner.data.partitions import Spec

            source.load(Spec.of(head.partitions).at(0))
    except ConfigErrors as exc:
        found.extend(e if e.file else e.with_file(file) for e in exc.errors)
    except ConfigError as exc:
        found.append(exc if exc.file else exc.with_file(file))
    except DataflowRunnerError as exc:
        found.append(ConfigError("; ".join(exc.lines()), file=file))
    try:
        load_cluster(cluster_file, {}, text=cluster_text)
    except ConfigErrors as exc:
        found.extend(exc.errors)
    except ConfigError as exc:
        found.append(exc)
    return found


def _path() -> str:
    import os

    return os.environ.get("PATH", "/usr/bin:/bin")
