"""``python -m dataflow_runner.config.schemas [DIR...]``: write the JSON Schemas."""

import sys
from pathlib import Path

from dataflow_runner.config.schemas import write

for target in sys.argv[1:] or [str(Path(__file__).parent)]:
    write(Path(target))
