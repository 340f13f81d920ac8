"""Cost of each hypothesis from benchmarks/paper_times.sh's wall times, at a given hourly price.

  python benchmarks/cost.py benchmarks/results/h200/paper_all_times.txt --usd_per_hour 10.4365 \
      [--estimate benchmarks/results/h200/estimate.json]

With --estimate (benchmarks/estimate.py's --json from the same card), a hypothesis that has no wall
time is predicted, and marked so: its estimated training time plus its number of runs times the
median per-run overhead of the measured ones, (wall - estimated training) / runs. The overhead
(start-up, compilation, evaluation, checkpoints) grows with the runs, not with the training work.
"""

import argparse
import json
import re
import statistics
import sys

LINE = re.compile(r"^(h\d) exit (\d+) wall ([\d.]+) s$")


def read_times(path: str) -> dict[str, float]:
  """Wall seconds of each hypothesis that exited 0."""
  out = {}
  with open(path) as f:
    for line in f:
      m = LINE.match(line.strip())
      if not m:
        sys.exit(f"cost: unreadable line {line.strip()!r} in {path}; expected 'hN exit RC wall S s'")
      if m[2] != "0":
        print(f"{m[1]}: exit {m[2]}, not counted")
        continue
      out[m[1]] = float(m[3])
  return out


def read_estimate(path: str) -> dict[str, tuple[int, float]]:
  """(runs, estimated training seconds) of each hypothesis, summed over its models."""
  try:
    with open(path) as f:
      rows = json.load(f)
    out: dict[str, tuple[int, float]] = {}
    for r in rows:
      runs, seconds = out.get(r["hypothesis"], (0, 0.0))
      out[r["hypothesis"]] = (runs + int(r["runs"]), seconds + float(r["seconds"]))
  except (OSError, ValueError, TypeError, KeyError) as e:
    sys.exit(f"cost: {path} is not benchmarks/estimate.py's --json output ({e}); pass the file it wrote")
  if not out:
    sys.exit(f"cost: {path} holds no rows; pass the file benchmarks/estimate.py --json wrote")
  return out


def predict(walls: dict[str, float], estimate: dict[str, tuple[int, float]]) -> tuple[dict[str, float], float]:
  """Wall seconds of the unmeasured hypotheses, and the per-run overhead they were predicted with
  (from the hypotheses in both `walls` and `estimate`)."""
  known = [h for h in walls if h in estimate]
  if not known:
    sys.exit("cost: no hypothesis has both a wall time and an estimate, so nothing can be predicted")
  per_run = statistics.median((walls[h] - estimate[h][1]) / estimate[h][0] for h in known)
  return {h: seconds + runs * per_run for h, (runs, seconds) in estimate.items() if h not in walls}, per_run


def main(argv=None) -> list[tuple[str, float, float, bool]]:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("times", help="paper_all_times.txt")
  p.add_argument("--usd_per_hour", type=float, required=True)
  p.add_argument("--estimate", help="benchmarks/estimate.py's --json on the same card, to predict the rest")
  args = p.parse_args(argv)
  walls = read_times(args.times)
  estimate = read_estimate(args.estimate) if args.estimate else {}
  predicted, per_run = predict(walls, estimate) if estimate else ({}, 0.0)
  rows = sorted([(h, s, s / 3600 * args.usd_per_hour, False) for h, s in walls.items()]
                + [(h, s, s / 3600 * args.usd_per_hour, True) for h, s in predicted.items()])
  for h, seconds, usd, guessed in rows:
    print(f"{h}: {seconds / 60:5.2f} min  {usd:6.3f} USD" + ("  (predicted, not measured)" if guessed else ""))
  if predicted:
    known = sorted(h for h in walls if h in estimate)
    print(f"predicted: estimated training + runs x {per_run:.2f} s, the median per-run overhead of "
          f"{', '.join(known)}")
    if len(known) > 1:
      held_out = {h: predict({g: walls[g] for g in known if g != h}, estimate)[0][h] / walls[h] - 1 for h in known}
      print("the same rule on each measured one, from the others: "
            + ", ".join(f"{h} {err:+.0%}" for h, err in held_out.items()))
  measured = [r for r in rows if not r[3]]
  print(f"total of the measured: {sum(r[1] for r in measured) / 60:.2f} min, {sum(r[2] for r in measured):.2f} USD "
        f"at {args.usd_per_hour} USD/h")
  return rows


if __name__ == "__main__":
  main(sys.argv[1:])
