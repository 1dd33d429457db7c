"""How the runner's thread asks to be scheduled: a short time slice for itself
(``sched_setattr``), none for the steps it starts. Read back from the kernel's own
account of each task (``/proc/<pid>/task/<tid>/sched``), in real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dataflow_runner.procs import RUNNER_SLICE_NS

# The kernel takes a custom slice for normal tasks from 6.12 (EEVDF's sched_runtime);
# before that the call succeeds and the slice stays the default one.
KERNEL = tuple(int(x) for x in os.uname().release.split(".")[:2] if x.isdigit())
needs_custom_slices = pytest.mark.skipif(
    sys.platform != "linux" or KERNEL < (6, 12),
    reason="custom time slices for normal tasks need Linux 6.12 or later",
)

PROBE = r"""
import json, os, subprocess, sys
from dataflow_runner.procs import prefer_prompt_wakeups

def slice_of(path):
    for line in open(path):
        if line.startswith("se.slice"):
            return int(line.split(":")[1])

if len(sys.argv) > 1:
    os.nice(int(sys.argv[1]))
before = slice_of("/proc/thread-self/sched")
made = prefer_prompt_wakeups()
after = slice_of("/proc/thread-self/sched")
child = subprocess.run(
    ["sh", "-c", "grep '^se.slice' /proc/self/sched; nice"], capture_output=True, text=True
).stdout.split()
print(json.dumps({"made": made, "before": before, "after": after,
                  "child": int(child[-2]), "child_nice": int(child[-1]),
                  "nice": os.getpriority(os.PRIO_PROCESS, 0)}))
"""


def probe(*args: str) -> dict[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True
    )
    result: dict[str, int] = json.loads(out.stdout)
    return result


@needs_custom_slices
def test_the_runner_thread_gets_a_short_slice_and_its_steps_the_default() -> None:
    got = probe()
    assert got["made"] is True
    assert got["after"] == RUNNER_SLICE_NS < got["before"]
    assert got["child"] == got["before"]  # reset on fork: the step's is the default
    assert got["child_nice"] == got["nice"] == 0


@needs_custom_slices
def test_a_nice_runner_keeps_its_nice_for_its_steps() -> None:
    got = probe("5")
    assert got["made"] is True and got["after"] == RUNNER_SLICE_NS
    assert got["nice"] == 5 and got["child_nice"] == 5
    assert got["child"] == got["before"]


def test_a_runner_with_a_negative_nice_asks_nothing() -> None:
    """Reset-on-fork would give its steps nice 0: the runner leaves its slice alone."""
    if os.geteuid() != 0:
        pytest.skip("lowering a nice value needs root (CAP_SYS_NICE)")
    got = probe("-3")
    assert got["made"] is False
    assert got["after"] == got["before"]
    assert got["nice"] == -3 and got["child_nice"] == -3


@needs_custom_slices
def test_a_local_run_asks_it_for_the_thread_that_runs_its_steps(tmp_path: os.PathLike[str]) -> None:
    """The step reads its runner's slice (its parent's main thread) and its own."""
    from pathlib import Path

    d = Path(tmp_path)
    report = "grep '^se.slice' /proc/$PPID/sched /proc/$$/sched > slices"
    (d / "c.json").write_text(
        json.dumps(
            {
                "schema": "iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0",
                "data": {"name": "c", "local": {"workDir": str(d)}},
            }
        )
    )
    (d / "p.json").write_text(
        json.dumps(
            {
                "schema": "iglu:dev.dataflowrunner/Playbook/jsonschema/1-0-0",
                "data": {
                    "name": "p",
                    "steps": [{"id": "a", "type": "COMMAND", "command": ["sh", "-c", report]}],
                },
            }
        )
    )
    args = ["run-transient", "--emr-config", str(d / "c.json"), "--emr-playbook", str(d / "p.json")]
    subprocess.run(
        [sys.executable, "-m", "dataflow_runner", *args],
        env={**os.environ, "DATAFLOW_RUNNER_HOME": str(d / "home")},
        capture_output=True,
        check=True,
    )
    runner, step = (int(line.rsplit(":", 1)[1]) for line in (d / "slices").read_text().splitlines())
    default = probe()["before"]
    assert runner == RUNNER_SLICE_NS and step == default
