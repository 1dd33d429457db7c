"""Generate a few days of synthetic events, one JSON-lines file per day."""

import argparse
import json
import random
from pathlib import Path

COUNTRIES = ["DE", "FR", "GB", "US", "JP", "BR"]
KINDS = ["page_view", "add_to_cart", "purchase"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--days", required=True, help="comma-separated YYYY-MM-DD")
    parser.add_argument("--per-day", type=int, default=5000)
    args = parser.parse_args()
    for day in args.days.split(","):
        rng = random.Random(day)  # the same data on every run
        folder = Path(args.out) / f"day={day}"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "events.jsonl", "w") as fh:
            for i in range(args.per_day):
                kind = rng.choices(KINDS, weights=[80, 15, 5])[0]
                amount = round(rng.uniform(5, 200), 2) if kind == "purchase" else 0.0
                fh.write(json.dumps({"id": f"{day}-{i}", "day": day, "kind": kind,
                                     "country": rng.choice(COUNTRIES),
                                     "amount_eur": amount}) + "\n")
        print(f"wrote {args.per_day} events to {folder}")


if __name__ == "__main__":
    main()
