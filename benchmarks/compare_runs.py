"""Two workdirs of the same sweep side by side: training time per model, and whether the numbers agree.

  python benchmarks/compare_runs.py WORKDIR_A WORKDIR_B

benchmarks/gpu.sh uses it for the cost of --xla_gpu_deterministic_ops (A without, B with).
"""

import collections
import pathlib
import sys

from qd_jax.records import workdir as wd


def per_model(runs: list[dict]) -> dict[str, dict]:
  out = collections.defaultdict(lambda: {"runs": 0, "train_seconds": 0.0, "compile_seconds": 0.0})
  for r in runs:
    o = out[r["model"]]
    o["runs"] += 1
    o["train_seconds"] += r["train_seconds"]
    o["compile_seconds"] = max(o["compile_seconds"], r["compile_seconds"])
  return dict(out)


def main(argv) -> None:
  runs_a, runs_b = ({r["run_id"]: r for r in wd.read_runs(pathlib.Path(p))} for p in argv)
  a, b = per_model(list(runs_a.values())), per_model(list(runs_b.values()))
  print(f"{'model':>5} {'runs':>4} {'train s (A)':>12} {'train s (B)':>12} {'B/A':>6}")
  for model in a:
    if model in b:
      ra, rb = a[model], b[model]
      print(f"{model:>5} {ra['runs']:>4} {ra['train_seconds']:12.2f} {rb['train_seconds']:12.2f} "
            f"{rb['train_seconds'] / ra['train_seconds']:6.2f}")
  both = [k for k in runs_a if k in runs_b]
  same = [k for k in both if runs_a[k]["epochs"][-1]["train_loss"] == runs_b[k]["epochs"][-1]["train_loss"]]
  gaps = [abs(runs_a[k]["test_loss"] - runs_b[k]["test_loss"]) for k in both]
  print(f"final train loss bitwise equal in {len(same)} of {len(gaps)} runs; "
        f"largest test-loss gap {max(gaps, default=0):.2e}")
  acc = sum(runs_a[k].get("test_accuracy") == runs_b[k].get("test_accuracy") for k in both)
  loss = sum(runs_a[k]["test_loss"] == runs_b[k]["test_loss"] for k in both)
  epochs = [(ea.get("val_accuracy"), eb.get("val_accuracy")) for k in both
            for ea, eb in zip(runs_a[k]["epochs"], runs_b[k]["epochs"])]
  print(f"test accuracy equal in {acc} of {len(both)} runs, test loss bitwise equal in {loss}; "
        f"validation accuracy equal in {sum(x == y for x, y in epochs)} of {len(epochs)} epochs")


if __name__ == "__main__":
  main(sys.argv[1:])
