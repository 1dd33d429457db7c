"""Aggregate one day of events: counts per kind and revenue per country."""

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    kinds: Counter[str] = Counter()
    revenue: dict[str, float] = defaultdict(float)
    day = None
    for path in sorted(Path(args.events).glob("*.jsonl")):
        with open(path) as fh:
            for line in fh:
                event = json.loads(line)
                day = event["day"]
                kinds[event["kind"]] += 1
                revenue[event["country"]] += event["amount_eur"]
    if day is None:
        raise SystemExit(f"no events under {args.events}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"day": day, "events": dict(kinds),
                               "revenue_eur": {k: round(v, 2) for k, v in revenue.items()}},
                              indent=2, sort_keys=True))
    print(f"{day}: {sum(kinds.values())} events, {kinds['purchase']} purchases")


if __name__ == "__main__":
    main()
