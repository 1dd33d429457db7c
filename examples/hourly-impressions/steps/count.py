"""Count an hour of joined impressions per country: ``COUNTRY N`` lines, most
first.

usage: count.py JOINED OUTPUT
"""

import collections
import os
import sys


def main() -> None:
    joined, output = sys.argv[1:]
    with open(joined) as rows:
        counts = collections.Counter(line.split()[1] for line in rows if line.strip())
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
    with open(output + ".tmp", "w") as out:
        out.writelines(f"{name} {n}\n" for name, n in ranked)
    os.replace(output + ".tmp", output)
    print(f"counted {sum(counts.values())} impressions into {output}")


if __name__ == "__main__":
    main()
