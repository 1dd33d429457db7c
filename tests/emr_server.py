"""A real EMR/S3 endpoint for tests: moto's server over HTTP on 127.0.0.1.

boto3 talks to it over the network (``AWS_ENDPOINT_URL``), exactly as to AWS.
moto never advances a step or a cluster by itself, so :class:`EmrDriver` plays
EMR from the test process: it starts pending steps, completes or fails them,
applies actionOnFailure, and ends transient clusters. Where moto lacks a call
or a field (CancelSteps, a state change reason code, FailureDetails), the
emulator is extended here, and :class:`Faults` injects throttling. Every call is
counted by its API name, S3's too (``ListObjectsV2``, ``HeadObject``...: S3's REST
requests are named from their method, path and query).
"""

from __future__ import annotations

import gzip
import json
import logging
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

logging.getLogger("werkzeug").setLevel(logging.WARNING)

ACCOUNT = "123456789012"
REGION = "us-east-1"


# --- extending moto ----------------------------------------------------------------


#: Bootstrap failures still to give to the next clusters created (set by EmrDriver).
BOOTSTRAP_FAILURES = [0]


def _extend_moto() -> None:
    from moto.core.responses import ActionResult
    from moto.emr import models, responses

    if getattr(responses.ElasticMapReduceResponse, "_dfr_extended", False):
        return

    def cancel_steps(self: Any) -> Any:
        cluster_id = self._get_param("ClusterId")
        step_ids = self._get_param("StepIds", [])
        infos = []
        for step in self.backend.clusters[cluster_id].steps:
            if step.id not in step_ids:
                continue
            if step.state == "PENDING":
                step.state = "CANCELLED"
                step.end_date_time = models.utcnow()
                infos.append({"StepId": step.id, "Status": "SUBMITTED", "Reason": ""})
            elif step.state == "RUNNING":
                # EMR interrupts a running step: it ends CANCELLED shortly after.
                step.state = "CANCEL_PENDING"
                infos.append({"StepId": step.id, "Status": "SUBMITTED", "Reason": ""})
            else:
                infos.append(
                    {"StepId": step.id, "Status": "FAILED", "Reason": f"step is {step.state}"}
                )
        return ActionResult({"CancelStepsInfoList": infos})

    responses.ElasticMapReduceResponse.cancel_steps = cancel_steps

    def step_status(self: Any) -> dict[str, Any]:
        status: dict[str, Any] = {
            "State": self.state,
            "StateChangeReason": {"Message": getattr(self, "last_state_change_reason", None)},
            "Timeline": {
                "CreationDateTime": self.creation_date_time,
                "EndDateTime": self.end_date_time,
                "StartDateTime": self.start_date_time,
            },
        }
        details = getattr(self, "failure_details", None)
        if details:
            status["FailureDetails"] = details
        return status

    models.Step.status = property(step_status)

    original_cluster_status = models.Cluster.status.fget

    def cluster_status(self: Any) -> dict[str, Any]:
        status: dict[str, Any] = original_cluster_status(self)
        code = getattr(self, "state_change_code", None)
        if code:
            status["StateChangeReason"]["Code"] = code
        return status

    models.Cluster.status = property(cluster_status)
    original_bootstrap = models.Cluster.run_bootstrap_actions

    def run_bootstrap_actions(self: Any) -> None:
        # A bootstrap failure the test asked for happens as the cluster is created,
        # before any client can see it WAITING.
        if BOOTSTRAP_FAILURES[0] > 0:
            BOOTSTRAP_FAILURES[0] -= 1
            self.state = "TERMINATED_WITH_ERRORS"
            self.state_change_code = "BOOTSTRAP_FAILURE"
            self.last_state_change_reason = "bootstrap action 1 returned a non-zero code"
            for step in self.steps:
                step.state = "CANCELLED"
            return
        original_bootstrap(self)

    models.Cluster.run_bootstrap_actions = run_bootstrap_actions
    responses.ElasticMapReduceResponse._dfr_extended = True


# --- faults --------------------------------------------------------------------------


MUTATING = frozenset({"RunJobFlow", "AddJobFlowSteps"})


@dataclass
class Faults:
    """Transient failures on a share of EMR calls, deterministically (seeded):

    - ``throttle_share``: HTTP 400 ThrottlingException, the call not carried out;
    - ``error_share``: HTTP 503 ServiceUnavailable, the call not carried out;
    - ``drop_share``: the connection closed with no answer, the call not carried out;
    - ``drop_after_share``: RunJobFlow / AddJobFlowSteps carried out, then the
      connection closed with no answer (the client cannot know it worked);
    - ``broken``: actions that always answer HTTP 500 InternalServerError.

    S3 calls are counted in ``calls`` too; the shares above are for EMR only, and
    ``s3_refusals`` gives the next calls of an S3 action an error instead:
    ``{"ListObjectsV2": [(503, "SlowDown")] * 2}``.
    """

    throttle_share: float = 0.0
    error_share: float = 0.0
    drop_share: float = 0.0
    drop_after_share: float = 0.0
    broken: set[str] = field(default_factory=set)
    seed: int = 7
    calls: Counter[str] = field(default_factory=Counter)
    throttled: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)  # 5xx, dropped before or after
    history: list[str] = field(default_factory=list)  # "Action" or "Action fault", in order
    regions: Counter[str] = field(default_factory=Counter)  # calls by the region signed for
    s3_refusals: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    _rng: random.Random = field(default_factory=random.Random)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)

    def middleware(self, app: Callable[..., Any]) -> Callable[..., Any]:
        def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            action = target.split(".")[-1] if target.startswith("ElasticMapReduce") else ""
            if not action:
                s3 = s3_action(environ)
                if not s3:
                    return app(environ, start_response)
                with self._lock:
                    self.calls[s3] += 1
                    refusals = self.s3_refusals.get(s3)
                    refusal = refusals.pop(0) if refusals else None
                    self.history.append(f"{s3} {refusal[1]}" if refusal else s3)
                if refusal is not None:
                    return _s3_error(start_response, *refusal)
                return app(environ, start_response)
            # "AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request, ..."
            scope = environ.get("HTTP_AUTHORIZATION", "").split("Credential=")[-1].split("/")
            with self._lock:
                self.calls[action] += 1
                self.regions[scope[2] if len(scope) > 2 else ""] += 1
                draw = self._rng.random()
                fault = ""
                for name, share in (
                    ("throttle", self.throttle_share),
                    ("error", self.error_share),
                    ("drop", self.drop_share),
                    ("drop-after", self.drop_after_share if action in MUTATING else 0.0),
                ):
                    if draw < share:
                        fault = name
                        break
                    draw -= share
                if action in self.broken:
                    fault = "broken"
                self.history.append(f"{action} {fault}".strip())
                if fault == "throttle":
                    self.throttled[action] += 1
                elif fault:
                    self.failed[f"{action} {fault}"] += 1
            if fault == "throttle":
                return _answer(start_response, "400 Bad Request", "ThrottlingException")
            if fault == "broken":
                return _answer(start_response, "500 Internal Server Error", "InternalServerError")
            if fault == "error":
                return _answer(start_response, "503 Service Unavailable", "ServiceUnavailable")
            if fault == "drop":
                return _drop(environ, start_response)
            if fault == "drop-after":
                # Carry the call out, then lose the answer.
                for _chunk in app(environ, lambda *_a, **_k: None):
                    pass
                return _drop(environ, start_response)
            return app(environ, start_response)

        return wsgi

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.regions.clear()
            self.throttled.clear()
            self.failed.clear()
            self.history.clear()
            self.s3_refusals.clear()
            self.throttle_share = self.error_share = 0.0
            self.drop_share = self.drop_after_share = 0.0
            self.broken.clear()
            self._rng.seed(self.seed)


def _answer(start_response: Callable[..., Any], status: str, code: str) -> list[bytes]:
    body = json.dumps({"__type": code, "message": "injected by the test"}).encode()
    start_response(
        status,
        [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(body)))],
    )
    return [body]


def s3_action(environ: dict[str, Any]) -> str:
    """The S3 API call a request makes ("" when it is not for S3: the scope of its
    signature names the service)."""
    if "/s3/aws4_request" not in environ.get("HTTP_AUTHORIZATION", ""):
        return ""
    method = environ.get("REQUEST_METHOD", "")
    key = environ.get("PATH_INFO", "").lstrip("/").partition("/")[2]
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if key:
        names = {"GET": "GetObject", "HEAD": "HeadObject", "PUT": "PutObject"}
        return names.get(method, f"{method.title()}Object")
    if method == "GET" and query.get("list-type") == ["2"]:
        return "ListObjectsV2"
    if method == "GET" and not set(query) - {"prefix", "delimiter", "marker", "max-keys"}:
        return "ListObjects"
    if method == "POST" and "delete" in query:
        return "DeleteObjects"
    names = {"HEAD": "HeadBucket", "PUT": "CreateBucket", "DELETE": "DeleteBucket"}
    return names.get(method, f"{method} bucket {','.join(sorted(query))}")


def _s3_error(start_response: Callable[..., Any], status: int, code: str) -> list[bytes]:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        "<Message>injected by the test</Message></Error>"
    ).encode()
    reason = {403: "Forbidden", 500: "Internal Server Error", 503: "Slow Down"}.get(status, "Error")
    start_response(
        f"{status} {reason}",
        [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
    )
    return [body]


def _drop(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """Close the client's connection without an answer (as a network failure would)."""
    sock = environ["werkzeug.socket"]
    sock.shutdown(socket.SHUT_RDWR)
    # What the server then writes goes nowhere; werkzeug treats it as a dropped client.
    start_response("500 Internal Server Error", [("Content-Length", "0")])
    return []


class EmrServer:
    """moto's server on 127.0.0.1 (a free port), with call counting and faults."""

    def __init__(self) -> None:
        _extend_moto()
        self.faults = Faults()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> EmrServer:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            "127.0.0.1",
            0,
            self.faults.middleware(app),
            threaded=True,
            request_handler=MotoRequestHandler,
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def env(self) -> dict[str, str]:
        """The environment a CLI subprocess needs to talk to this server."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def reset(self) -> None:
        from moto.core.base_backend import BackendDict  # noqa: F401 (moto's reset)
        from moto.emr.models import emr_backends
        from moto.s3.models import s3_backends

        emr_backends[ACCOUNT][REGION].reset()
        s3_backends[ACCOUNT]["global"].reset()
        self.faults.reset()
        self.faults.throttle_share = 0.0


# --- the test-side EMR -----------------------------------------------------------------


def backend() -> Any:
    from moto.emr.models import emr_backends

    return emr_backends[ACCOUNT][REGION]


@dataclass
class Outcome:
    """What the driver does with a step named ``name``."""

    state: str = "COMPLETED"  # COMPLETED | FAILED
    seconds: float = 0.05  # how long it runs
    failure: dict[str, str] | None = None  # FailureDetails
    logs: dict[str, str] | None = None  # files written to the log URI when it ends
    writes: tuple[str, ...] = ()  # S3 objects its job writes when it completes (uris)


class EmrDriver:
    """Plays EMR on moto's backend: a thread that advances steps and clusters."""

    def __init__(
        self,
        outcomes: dict[str, Outcome] | None = None,
        *,
        default: Outcome | None = None,
        bootstrap_failures: int = 0,
        tick: float = 0.02,
        hold: Callable[[], bool] | None = None,
    ) -> None:
        self.outcomes = outcomes or {}
        self.hold = hold  # while it returns True, running steps keep running
        self.default = default or Outcome()
        BOOTSTRAP_FAILURES[0] = bootstrap_failures
        self.tick = tick
        self.started: dict[str, float] = {}
        self.submitted: Counter[str] = Counter()  # step name -> times seen on any cluster
        self._seen_steps: set[str] = set()
        self._seen_clusters: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.errors: list[BaseException] = []
        self.max_running = 0

    def __enter__(self) -> EmrDriver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        BOOTSTRAP_FAILURES[0] = 0
        self._stop.set()
        self._thread.join(timeout=5)
        if self.errors:
            raise self.errors[0]

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                for cluster in list(backend().clusters.values()):
                    self._advance(cluster)
            except Exception as exc:  # surfaced at __exit__
                self.errors.append(exc)
                return
            time.sleep(self.tick)

    def _advance(self, cluster: Any) -> None:
        from moto.emr import models

        if cluster.id not in self._seen_clusters:
            self._seen_clusters.add(cluster.id)
            if cluster.state == "TERMINATED_WITH_ERRORS":
                return
            # moto starts a cluster WAITING at once; a real one takes a while.
            for step in cluster.steps:
                if step.state == "RUNNING" and step.id not in self.started:
                    step.state = "PENDING"
        if cluster.state in ("TERMINATED", "TERMINATED_WITH_ERRORS"):
            for step in cluster.steps:
                if step.state in ("PENDING", "RUNNING", "CANCEL_PENDING"):
                    step.state = "CANCELLED"
            return
        now = time.monotonic()
        level = int(getattr(cluster, "step_concurrency_level", 1) or 1)
        for step in cluster.steps:
            if step.id not in self._seen_steps:
                self._seen_steps.add(step.id)
                self.submitted[step.name] += 1
            if step.state == "CANCEL_PENDING":
                step.state = "CANCELLED"
                step.end_date_time = models.utcnow()
            elif step.state == "RUNNING":
                # moto marks the first step of an idle cluster RUNNING by itself.
                self.started.setdefault(step.id, now)
                outcome = self.outcomes.get(step.name, self.default)
                if self.hold is not None and self.hold():
                    continue
                if now - self.started.get(step.id, now) >= outcome.seconds:
                    self._end(cluster, step, outcome)
        running = sum(1 for s in cluster.steps if s.state == "RUNNING")
        for step in cluster.steps:
            if running >= level:
                break
            if step.state == "PENDING":
                step.state = "RUNNING"
                step.start_date_time = models.utcnow()
                self.started[step.id] = now
                running += 1
        self.max_running = max(self.max_running, running)
        active = [s for s in cluster.steps if s.state in ("PENDING", "RUNNING", "CANCEL_PENDING")]
        if active:
            cluster.state = "RUNNING"
        elif cluster.state == "RUNNING":
            cluster.state = "WAITING"
        if (
            not active
            and cluster.steps
            and not cluster.keep_job_flow_alive_when_no_steps
            and cluster.state == "WAITING"
        ):
            cluster.terminate()

    def _end(self, cluster: Any, step: Any, outcome: Outcome) -> None:
        from moto.emr import models

        step.state = outcome.state
        step.end_date_time = models.utcnow()
        if outcome.failure:
            step.failure_details = outcome.failure
        if outcome.logs and cluster.log_uri:
            write_logs(cluster.log_uri, cluster.id, step.id, outcome.logs)
        if outcome.state == "COMPLETED":
            for uri in outcome.writes:
                put_object(uri)
        if outcome.state == "FAILED" and step.action_on_failure in (
            "CANCEL_AND_WAIT",
            "TERMINATE_CLUSTER",
        ):
            for other in cluster.steps:
                if other.state == "PENDING":
                    other.state = "CANCELLED"
                    other.end_date_time = models.utcnow()
            if step.action_on_failure == "TERMINATE_CLUSTER":
                cluster.terminate()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.02)
        raise AssertionError("condition not reached in time")


def put_object(uri: str, body: bytes = b"") -> None:
    """An object on the server's S3, put from the test process (no HTTP call, none
    counted); its bucket is created if need be."""
    from moto.s3.models import s3_backends

    s3 = s3_backends[ACCOUNT]["global"]
    bucket, _, key = uri.split("://", 1)[1].partition("/")
    if bucket not in s3.buckets:
        s3.create_bucket(bucket, REGION)
    s3.put_object(bucket, key, body)


def delete_object(uri: str) -> None:
    from moto.s3.models import s3_backends

    bucket, _, key = uri.split("://", 1)[1].partition("/")
    s3_backends[ACCOUNT]["global"].delete_object(bucket, key)


def write_logs(log_uri: str, cluster_id: str, step_id: str, files: dict[str, str]) -> None:
    """Put gzipped step logs where EMR would (``<logUri>/<cluster>/steps/<step>/``)."""
    base = log_uri.rstrip("/") + "/"
    for name, text in files.items():
        put_object(f"{base}{cluster_id}/steps/{step_id}/{name}.gz", gzip.compress(text.encode()))


@contextmanager
def running_server() -> Iterator[EmrServer]:
    server = EmrServer().start()
    try:
        yield server
    finally:
        server.stop()
