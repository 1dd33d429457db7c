"""Join the daily aggregates with the currency rates: revenue in USD per day."""

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--daily", required=True)
    parser.add_argument("--rates", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rates = json.loads(Path(args.rates).read_text())
    days = []
    for path in sorted(Path(args.daily).glob("*.json")):
        daily = json.loads(path.read_text())
        total_eur = sum(daily["revenue_eur"].values())
        days.append({"day": daily["day"], "purchases": daily["events"].get("purchase", 0),
                     "revenue_eur": round(total_eur, 2),
                     "revenue_usd": round(total_eur * rates["USD"], 2)})
    out = Path(args.out)
    out.write_text(json.dumps({"days": days}, indent=2))
    print(f"joined {len(days)} days")


if __name__ == "__main__":
    main()
