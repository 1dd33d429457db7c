"""Dataflow Runner: run templatable playbooks of data-processing steps on dataflow fabrics.

The command line (``dataflow-runner``) is the main interface; this module keeps
the public Python surface small and import-light.
"""

__version__ = "0.8.0"

__all__ = ["__version__"]
