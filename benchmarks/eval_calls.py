"""Evaluation on XLA:CPU: rows/s of one batch per call against EVAL_CALL_BATCHES per call, and
rows/s by batch size, through the evaluation programs a sweep runs (training/programs.py).
With --formulations: rows/s of CNN2's evaluation with its pooled convs as the patches GEMM
against the shifted multiply-adds it runs (nn/cpu_networks.py, _pooled_direct), side by side.

  python benchmarks/eval_calls.py [--rows 6000] [--models fc,cnn1,cnn2] [--formulations]

Random weights and rows: the cost of a forward pass does not depend on them.
"""

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # qd_jax, however run
from qd_jax.nn import cpu_networks  # noqa: E402
from qd_jax.training import autotune, programs  # noqa: E402

WINDOW_S = 1.0


def rows_per_s(compiled: programs.Programs, state, data: programs.EvalSet) -> float:
  """Best of three windows of whole evaluations."""
  compiled.evaluate(state, data)  # compiles
  best = 0.0
  for _ in range(3):
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < WINDOW_S:
      compiled.evaluate(state, data)
      n += 1
    best = max(best, n * len(data.y) / (time.perf_counter() - t0))
  return best


def formulations(x: np.ndarray, y: np.ndarray, batches: list[int], repeats: int = 2) -> None:
  """CNN2's evaluation rows/s, the pooled conv as the GEMM against as it runs, alternated."""
  direct = cpu_networks._pooled_direct
  gemm = lambda x, kernel: cpu_networks._conv_cm_fwd(x, kernel, True)[0]  # noqa: E731
  print("| model | batch | rows/s, GEMM | rows/s, shifted multiply-adds | ratio |")
  print("|---|---:|---:|---:|---:|")
  for batch in batches:
    best = {"gemm": 0.0, "direct": 0.0}
    for _ in range(repeats):
      for name, conv in (("gemm", gemm), ("direct", direct)):
        cpu_networks._pooled_direct = conv  # read when the program is traced
        try:
          compiled = programs.Programs("cnn2", 10, 1e-3, "fast", programs.mesh())
          compiled.eval_rows = 0
          rate = rows_per_s(compiled, compiled.init_state(0), compiled.eval_set(x, y, batch))
        finally:
          cpu_networks._pooled_direct = direct
        best[name] = max(best[name], rate)
    print(f"| cnn2 | {batch} | {best['gemm']:,.0f} | {best['direct']:,.0f} | {best['direct'] / best['gemm']:.2f}x |",
          flush=True)


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--rows", type=int, default=6000)
  p.add_argument("--models", default="fc,cnn1,cnn2")
  p.add_argument("--batches", default="125,250,500,1000")
  p.add_argument("--formulations", action="store_true", help="CNN2's pooled convs: GEMM against multiply-adds")
  args = p.parse_args(argv)
  print(f"# {autotune.machine()}")
  rng = np.random.default_rng(0)
  x = rng.integers(0, 256, (args.rows, 784), dtype=np.uint8)
  y = rng.integers(0, 10, args.rows).astype(np.int32)
  if args.formulations:
    return formulations(x, y, [int(b) for b in args.batches.split(",")])
  print("| model | batch | rows/s, 1 batch per call | rows/s, up to 8 per call | ratio |")
  print("|---|---:|---:|---:|---:|")
  for model in args.models.split(","):
    compiled = programs.Programs(model, 10, 1e-3, "fast", programs.mesh())
    compiled.eval_rows = 0  # the batch asked for, not the model's CPU default
    state = compiled.init_state(0)
    for batch in (int(b) for b in args.batches.split(",")):
      rates = []
      for per_call in (1, programs.EVAL_CALL_BATCHES):
        saved, programs.EVAL_CALL_BATCHES = programs.EVAL_CALL_BATCHES, per_call
        try:
          rates.append(rows_per_s(compiled, state, compiled.eval_set(x, y, batch)))
        finally:
          programs.EVAL_CALL_BATCHES = saved
      print(f"| {model} | {batch} | {rates[0]:,.0f} | {rates[1]:,.0f} | {rates[1] / rates[0]:.2f}x |", flush=True)


if __name__ == "__main__":
  main()
