"""Join an hour of impressions (``AD IP`` lines) with the geo-IP table of the same
hour (``IP COUNTRY`` lines): one ``AD COUNTRY`` line per impression (``??`` for an
address the table does not know).

usage: join.py IMPRESSIONS GEO_IP OUTPUT
"""

import os
import sys


def main() -> None:
    impressions, geo_ip, output = sys.argv[1:]
    with open(geo_ip) as table:
        country = dict(line.split() for line in table if line.strip())
    lines = []
    with open(impressions) as events:
        for line in events:
            if line.strip():
                ad, address = line.split()
                lines.append(f"{ad} {country.get(address, '??')}\n")
    # Written whole, then renamed: a step that dies leaves no half output (which
    # the runner would take for a done one).
    os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
    with open(output + ".tmp", "w") as out:
        out.writelines(lines)
    os.replace(output + ".tmp", output)
    print(f"joined {len(lines)} impressions into {output}")


if __name__ == "__main__":
    main()
