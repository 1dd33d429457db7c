"""Fetch currency rates. A stand-in for a flaky remote service: the first
attempt always fails, so the playbook's retry policy shows itself."""

import argparse
import json
import os
import sys
from pathlib import Path

RATES = {"EUR": 1.0, "USD": 1.08, "GBP": 0.86, "JPY": 162.3, "BRL": 5.4}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    attempt = int(os.environ.get("DATAFLOW_RUNNER_ATTEMPT", "1"))
    print(f"fetching rates (attempt {attempt})")
    if attempt == 1:
        print("Traceback (most recent call last):", file=sys.stderr)
        print('  File "rates.py", line 22, in main', file=sys.stderr)
        print("ConnectionError: rates service timed out (simulated: the first attempt "
              "always fails)", file=sys.stderr)
        sys.exit(1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(RATES, indent=2, sort_keys=True))
    print(f"wrote {len(RATES)} rates to {out}")


if __name__ == "__main__":
    main()
