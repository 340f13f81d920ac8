"""Cost of each hypothesis from benchmarks/paper_times.sh's wall times, at a given hourly price.

  python benchmarks/cost.py benchmarks/results/h200/paper_all_times.txt --usd_per_hour 10.4365
"""

import argparse
import re
import sys

LINE = re.compile(r"^(h\d) exit (\d+) wall ([\d.]+) s$")


def main(argv=None) -> list[tuple[str, float, float]]:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("times", help="paper_all_times.txt")
  p.add_argument("--usd_per_hour", type=float, required=True)
  args = p.parse_args(argv)
  rows = []
  with open(args.times) as f:
    for line in f:
      m = LINE.match(line.strip())
      if not m:
        sys.exit(f"cost: unreadable line {line.strip()!r} in {args.times}; expected 'hN exit RC wall S s'")
      if m[2] != "0":
        print(f"{m[1]}: exit {m[2]}, not counted")
        continue
      seconds = float(m[3])
      rows.append((m[1], seconds, seconds / 3600 * args.usd_per_hour))
  for h, seconds, usd in rows:
    print(f"{h}: {seconds / 60:5.2f} min  {usd:6.3f} USD")
  print(f"total of those: {sum(r[1] for r in rows) / 60:.2f} min, {sum(r[2] for r in rows):.2f} USD "
        f"at {args.usd_per_hour} USD/h")
  return rows


if __name__ == "__main__":
  main(sys.argv[1:])
