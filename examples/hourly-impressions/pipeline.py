"""Hourly ad impressions joined with the geo-IP table of the same hour, then
counted per country: a Python playbook (dataflow_runner.dsl).

    dataflow-runner backfill --emr-config cluster.yaml --emr-playbook pipeline.py --last 5

Each hour is a partition. A step whose output exists is skipped, so a backfill
runs only what is missing; ``dataflow-runner render --emr-playbook pipeline.py``
prints the YAML form the runner loads.
"""

from dataflow_runner.dsl import Playbook, hourly, param

pb = Playbook(
    "hourly-impressions",
    partitions=hourly(start="2026-11-01T00:00Z"),
    # Where the files are: --vars root,/var/tmp/hdfs for another file system.
    params={"root": param("string", default="data")},
)

impressions = "{root}/impressions_{date}-{hour}.txt"
geo_ip = "{root}/geo_ip_{date}-{hour}.txt"
joined = "{root}/joined_{date}-{hour}.txt"
counted = "{root}/count_{date}-{hour}.txt"

join = pb.command(
    "join",
    ["python3", "steps/join.py", impressions, geo_ip, joined],
    inputs=[impressions, geo_ip],
    outputs=[joined],
)
count = pb.command(
    "count",
    ["python3", "steps/count.py", *join.outputs, counted],
    inputs=join.outputs,
    outputs=[counted],
)
