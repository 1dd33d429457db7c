"""The iglu URIs of the config formats: the schema a file names says how to read it
(``loading.py``). Kept apart so that what writes a playbook (the Python DSL,
``dataflow_runner.dsl``) names its format without importing the loader.

>>> PLAYBOOK_SCHEMA
'iglu:dev.dataflowrunner/Playbook/jsonschema/1-1-0'
"""

from __future__ import annotations

SNOWPLOW_VENDOR = "com.snowplowanalytics.dataflowrunner"
NATIVE_VENDOR = "dev.dataflowrunner"
CLUSTER_SCHEMA = f"iglu:{NATIVE_VENDOR}/ClusterConfig/jsonschema/1-0-0"
PLAYBOOK_SCHEMA = f"iglu:{NATIVE_VENDOR}/Playbook/jsonschema/1-1-0"
#: The first version of this project's playbook: no data fields (partitions, params,
#: inputs, outputs...), which 1-1-0 added.
PLAYBOOK_SCHEMA_1_0_0 = f"iglu:{NATIVE_VENDOR}/Playbook/jsonschema/1-0-0"
