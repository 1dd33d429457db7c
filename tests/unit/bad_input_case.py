"""The table of bad inputs (``test_bad_input_table.py`` runs it): a :class:`Case`
per input, registered with :func:`case` by ``bad_input_running.py`` (the commands
that run something, and ``validate``) and ``bad_input_history.py`` (the others).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.unit.test_bad_inputs import CASES as CONFIG_CASES
from tests.unit.test_bad_inputs import OK_C, OK_P, cmd, j, local_cluster, native

RUN_ID = "r-20251201-000000-aaaaaa"
TWIN_ID = "r-20251201-000000-aaaaab"
CLUSTER_ID = "l-AAAAAAAAAAAAA"


# --- a case ------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    kind: str  # what is wrong, for the tally
    argv: list[str | bytes]
    code: int
    pattern: str
    files: dict[str, str] = field(default_factory=dict)
    setup: str | None = None
    env: dict[str, str] = field(default_factory=dict)


CASES: list[Case] = []


def case(
    id_: str,
    kind: str,
    argv: list[str | bytes],
    code: int,
    pattern: str,
    *,
    files: dict[str, str] | None = None,
    setup: str | None = None,
    env: dict[str, str] | None = None,
) -> None:
    CASES.append(Case(id_, kind, argv, code, pattern, files or {}, setup, env or {}))


# The config-file cases (run until now in-process only).
for _id, _files, _argv, _code, _pattern in CONFIG_CASES:
    case(f"config-{_id}", "config file", list(_argv), _code, _pattern, files=_files)

NATIVE_P = j(native(cmd("a")))
LOCAL_C = local_cluster()
BOTH = {"c.json": LOCAL_C, "p.json": NATIVE_P}
SNOW = {"c.json": OK_C, "p.json": OK_P}
#: Files that fail to load: a flag case whose flag slipped through meets them.
BROKEN = {"c.json": local_cluster(workDir="nope"), "p.json": NATIVE_P}
UP = ["up", "--emr-config", "{d}/c.json"]
RUN = ["run", "--emr-playbook", "{d}/p.json", "--emr-cluster", "l-NOSUCHCLUSTER"]
DOWN = ["down", "--emr-config", "{d}/c.json", "--emr-cluster", "l-NOSUCHCLUSTER"]
RT = ["run-transient", "--emr-config", "{d}/c.json", "--emr-playbook", "{d}/p.json"]
VALIDATE = ["validate", "--emr-config", "{d}/c.json", "--emr-playbook", "{d}/p.json"]
RUNNING = {"up": UP, "run": RUN, "down": DOWN, "run-transient": RT}
#: The running commands on EMR configs whose credentials are 'env' while the
#: environment has none: were the check under test missing, they would stop there,
#: before anything is sent or created.
EMR = {
    "up": UP,
    "run": ["run", "--emr-playbook", "{d}/p.json", "--emr-cluster", "j-1"],
    "down": ["down", "--emr-config", "{d}/c.json", "--emr-cluster", "j-1"],
    "run-transient": RT,
}
USAGE = r"^dataflow-runner [\w-]+: "
NOT_FINITE = (
    USAGE
    + r"Invalid value for '--poll-interval'.*: '{}' is not a number of seconds from 0\.1 to 3600"
)
POLL_RANGE = NOT_FINITE
SIZE = USAGE + r"Invalid value for '--max-config-size'.*: {} is not in the range 1<=x<=1073741824\."
HUGE = "9" * 30
TEMPLATE_BOMB = '{{range 400}}{{printf "%01000000d" 1}}{{end}}'
TOO_BIG_OUTPUT = (
    r"template output exceeds the limit of 16 MiB \(raise it with --max-config-size BYTES or "
    r"DATAFLOW_RUNNER_MAX_CONFIG_SIZE\)$"
)
