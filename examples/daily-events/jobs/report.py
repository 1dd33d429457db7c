"""Write a small Markdown report from the joined days and the Spark totals."""

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--joined", required=True)
    parser.add_argument("--spark", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    joined = json.loads(Path(args.joined).read_text())
    lines = ["# Daily events report", "", "| day | purchases | revenue (EUR) | revenue (USD) |",
             "|---|---:|---:|---:|"]
    for d in joined["days"]:
        lines.append(f"| {d['day']} | {d['purchases']} | {d['revenue_eur']:.2f} | "
                     f"{d['revenue_usd']:.2f} |")
    parts = sorted(Path(args.spark).glob("part-*.json"))
    if parts:
        lines += ["", "## Per country (Spark)", "", "| country | events | revenue (EUR) |",
                  "|---|---:|---:|"]
        for line in parts[0].read_text().splitlines():
            row = json.loads(line)
            lines.append(f"| {row['country']} | {row['events']} | {row['revenue_eur']:.2f} |")
    out = Path(args.out)
    out.write_text("\n".join(lines) + "\n")
    print(f"report written to {out}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
