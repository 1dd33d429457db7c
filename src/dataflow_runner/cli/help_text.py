"""The top-level ``--help`` text, rendered by click ahead of time.

``dataflow-runner --help`` must start fast (no click, no command tree to
import); ``tests/unit/test_cli.py`` checks that this text is exactly what
click renders, and ``python -m dataflow_runner.cli.help_text`` rewrites it.
"""

TOP_HELP = """\
Usage: dataflow-runner [OPTIONS] [COMMAND] [ARGS]...

  Run templatable playbooks of Hadoop/Spark/et al jobs on dataflow fabrics: this
  machine (local) and Amazon EMR.

Options:
  -v, --version      Show the version and exit.
  --log-level LEVEL  Logging level, possible values are
                     debug,info,warning,error,fatal,panic (default info).
  --server URL       Ask this server (dataflow-runner server) instead of running
                     here or reading the local store (run-transient, runs,
                     status, logs, resume, clusters); pools, schedules and
                     trigger need one. Its token in DATAFLOW_RUNNER_TOKEN.  [env
                     var: DATAFLOW_RUNNER_SERVER]
  --token TOKEN      The server's bearer token (better in the environment:
                     DATAFLOW_RUNNER_TOKEN).
  -h, --help         Show this message and exit.

Commands:
  backfill       Runs the incomplete partitions of a window (--from/--to or...
  clusters       Lists the clusters this tool knows (a server's registry...
  down           Terminates a running cluster (EMR j-..., local l-...)
  locks          Shows who holds the locks of recent runs (or the NAMEs given)
  logs           Prints a step's output (stdout and stderr) from a run
  partitions     Shows each partition's steps: done, missing, failed (last...
  pools          Lists, creates and deletes a server's pools of clusters
  render         Prints a playbook's YAML form (a Python playbook's: the...
  resume         Continues a run whose runner died: nothing done is done...
  run            Adds steps to a running cluster and follows them (EMR...
  run-transient  Launches a cluster, runs the playbook and then terminates...
  runs           Lists recent runs, newest first
  schedules      Lists a server's schedules: next tick, paused, last run
  server         Serves the REST API (/api/v1, /docs) and runs what it is sent
  status         Shows a run's steps with their states, attempts and...
  tokens         Makes, lists and revokes the server's bearer tokens
  trigger        Runs a server's schedule now (prints the run's id)
  unlock         Releases a lock (a hard lock kept after a failed run),...
  up             Launches a new cluster (EMR, or local) and prints its id
  validate       Checks a cluster config and/or a playbook; prints every...
"""


def render() -> str:
    """What click prints for ``dataflow-runner --help`` (80 columns)."""
    from dataflow_runner.cli.app import cli

    ctx = cli.make_context("dataflow-runner", [], resilient_parsing=True, terminal_width=80)
    with ctx:
        return ctx.get_help() + "\n"


if __name__ == "__main__":
    from pathlib import Path

    path = Path(__file__)
    text = path.read_text()
    start = text.index('TOP_HELP = """\\\n') + len('TOP_HELP = """\\\n')
    end = text.index('"""', start)
    path.write_text(text[:start] + render().replace("\\", "\\\\") + text[end:])
