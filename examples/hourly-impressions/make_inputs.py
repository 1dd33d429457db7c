"""Write the pipeline's inputs for a window of hours: for each hour, its impressions
(``data/impressions_DATE-HOUR.txt``, ``AD IP`` lines) and its geo-IP table
(``data/geo_ip_DATE-HOUR.txt``, ``IP COUNTRY`` lines). The same hour always gets
the same data.

usage: make_inputs.py [--start 2026-11-20T00:00] [--hours 5] [--root data]
(default: the five hours before the current one, in UTC)
"""

import argparse
import datetime as dt
import os
import random

COUNTRIES = ["BR", "DE", "FR", "GB", "JP", "SE", "US"]


def write_hour(root: str, hour: dt.datetime) -> None:
    stamp = hour.strftime("%Y-%m-%d-%H")
    rng = random.Random(stamp)
    addresses = [f"10.0.{rng.randrange(8)}.{n}" for n in range(40)]
    with open(os.path.join(root, f"geo_ip_{stamp}.txt"), "w") as table:
        # A few addresses are not in the table: their impressions count as "??".
        table.writelines(f"{a} {rng.choice(COUNTRIES)}\n" for a in addresses[:36])
    with open(os.path.join(root, f"impressions_{stamp}.txt"), "w") as events:
        for _ in range(50 + 10 * hour.hour):
            events.write(f"ad-{rng.randrange(5)} {rng.choice(addresses)}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", help="the first hour (UTC), e.g. 2026-11-20T00:00")
    parser.add_argument("--hours", type=int, default=5)
    parser.add_argument("--root", default="data")
    args = parser.parse_args()
    if args.start:
        start = dt.datetime.fromisoformat(args.start.replace("Z", "+00:00"))
        start = start.replace(tzinfo=start.tzinfo or dt.UTC)
    else:
        now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
        start = now - dt.timedelta(hours=args.hours)
    os.makedirs(args.root, exist_ok=True)
    hours = [start + dt.timedelta(hours=n) for n in range(args.hours)]
    for hour in hours:
        write_hour(args.root, hour)
    first, last = (h.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M") for h in (hours[0], hours[-1]))
    tables = "impressions and geo-IP tables"
    print(f"wrote {len(hours)} hours of {tables} ({first} to {last}) in {args.root}/")


if __name__ == "__main__":
    main()
