"""Where a launch's time went beyond training: (wall - the sum of its runs' train_seconds) / runs.

  python benchmarks/overhead.py WORKDIR --wall SECONDS [--compile_log FILE]

WORKDIR is a workdir that one launch filled from empty (every run in runs.jsonl trained by it);
--wall is that launch's wall time, start-up and the final report included. Prints the runs, the
cohorts, the training, compilation and the rest, each in seconds and per run, and the rows each
model trained on and was scored on (evaluation, which train_seconds leaves out, is forward passes
over validation every epoch and the test set once). With --compile_log
(the launch's stderr under JAX_LOG_COMPILES=1), it also counts XLA compilations and cache hits.
"""

import argparse
import collections
import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # qd_jax, however run
from qd_jax.records import workdir as wd  # noqa: E402

COMPILED = re.compile(r"Finished XLA compilation of (\S+) in ([\d.e+-]+) sec")
CACHE_HIT = re.compile(r"Persistent compilation cache hit for '?([^' ]+)")


def compile_counts(path: pathlib.Path) -> tuple[collections.Counter, collections.Counter, int]:
  """(compilations and their seconds by the jitted function's name, persistent-cache hits) in a
  JAX_LOG_COMPILES log."""
  text = path.read_text(errors="replace")
  counts, seconds = collections.Counter(), collections.Counter()
  for m in COMPILED.finditer(text):
    counts[m.group(1)] += 1
    seconds[m.group(1)] += float(m.group(2))
  return counts, seconds, len(CACHE_HIT.findall(text))


def rows_per_model(runs: list[dict]) -> dict[str, tuple[int, int]]:
  """model -> (training samples, evaluation rows) over the runs' epochs."""
  trained, scored = collections.Counter(), collections.Counter()
  for r in runs:
    epochs = len(r["epochs"])
    trained[r["model"]] += epochs * sum(c["train"] for c in r["split"])
    scored[r["model"]] += epochs * sum(c["val"] for c in r["split"]) + r["test_examples"]
  return {m: (trained[m], scored[m]) for m in trained}


def main(argv=None) -> dict:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("workdir", type=pathlib.Path)
  p.add_argument("--wall", type=float, required=True, help="the launch's wall seconds")
  p.add_argument("--compile_log", type=pathlib.Path)
  args = p.parse_args(argv)
  runs = wd.read_runs(args.workdir)
  if not runs:
    sys.exit(f"overhead: no runs in {args.workdir / 'runs.jsonl'}; pass a workdir one launch filled")
  train = sum(r["train_seconds"] for r in runs)
  # A cohort's runs share its compile time: each record holds the whole of it.
  compile_s = sum(r["compile_seconds"] / r["models_at_once"] for r in runs)
  cohorts = sum(1 / r["models_at_once"] for r in runs)
  n = len(runs)
  out = {"runs": n, "cohorts": round(cohorts), "wall": args.wall, "train": train, "compile": compile_s,
         "rest": args.wall - train - compile_s, "overhead_per_run": (args.wall - train) / n}
  print(f"{n} runs in {out['cohorts']} cohorts; wall {args.wall:.1f} s, training {train:.1f} s, "
        f"compilation {compile_s:.1f} s, the rest {out['rest']:.1f} s")
  print(f"per run: (wall - training) / runs = {out['overhead_per_run']:.3f} s "
        f"(compilation {compile_s / n:.3f} s, the rest {out['rest'] / n:.3f} s)")
  out["rows"] = rows_per_model(runs)
  totals = tuple(map(sum, zip(*out["rows"].values())))
  print("rows: " + "; ".join(f"{m} trained on {t:,} samples, scored {e:,} rows"
                             for m, (t, e) in [*out["rows"].items(), ("all", totals)]))
  if args.compile_log:
    counts, seconds, hits = compile_counts(args.compile_log)
    out["compilations"], out["cache_hits"] = sum(counts.values()), hits
    each = ", ".join(f"{k} {v} ({seconds[k]:.1f} s)" for k, v in counts.most_common())
    print(f"XLA compilations: {out['compilations']} in {sum(seconds.values()):.1f} s ({each}); "
          f"persistent-cache hits: {hits}")
  return out


if __name__ == "__main__":
  main()
