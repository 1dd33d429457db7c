"""Data-aware runs: partitions, the inputs and outputs of steps, what is complete
and what must run (``plan.py``), sensors that wait for inputs (``sensors.py``)."""
