"""Evaluation on XLA:CPU: rows/s of one batch per call against EVAL_CALL_BATCHES per call, and
rows/s by batch size, through the evaluation programs a sweep runs (training/programs.py).
With --formulations: rows/s of each CNN's evaluation with its convs as the patches GEMM and as
shifted multiply-adds (nn/cpu_networks.py, _pooled_direct: CNN2 runs those), side by side.

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


def _row_major_direct(x, kernel):
  """CNN1's conv in the form _pooled_direct takes (shifted multiply-adds), for comparison only."""
  kh, kw, cin, cout = kernel.shape
  _, h, w, b = x.shape
  ho, wo = h - kh + 1, w - kw + 1
  return sum(kernel[i, j, c][:, None, None, None] * x[c, i:i + ho, j:j + wo][None]
             for i in range(kh) for j in range(kw) for c in range(cin)).reshape(cout, -1, b)


# model: (the cpu_networks function its evaluation's convs go through, {form: a stand-in, or None:
# as qd_jax runs it}), read when a program is traced.
FORMS = {
    "cnn2": ("_pooled_direct", {"gemm": lambda x, kernel: cpu_networks._conv_cm_fwd(x, kernel, True)[0],
                                "direct": None}),
    "cnn1": ("_conv_cm_fwd", {"gemm": None,
                              "direct": lambda x, kernel, pooled: (_row_major_direct(x, kernel), None)}),
}


def formulations(x: np.ndarray, y: np.ndarray, models: list[str], batches: list[int], repeats: int = 2) -> None:
  """Each CNN's evaluation rows/s with its convs as the patches GEMM and as shifted
  multiply-adds, alternated; `runs` says which one qd_jax evaluates with."""
  print("| model | batch | rows/s, GEMM | rows/s, shifted multiply-adds | ratio | qd_jax runs |")
  print("|---|---:|---:|---:|---:|---|")
  for model in (m for m in models if m in FORMS):
    name, forms = FORMS[model]
    real = getattr(cpu_networks, name)
    runs = next(form for form, stand_in in forms.items() if stand_in is None)
    for batch in batches:
      best = dict.fromkeys(forms, 0.0)
      for _ in range(repeats):
        for form, stand_in in forms.items():
          setattr(cpu_networks, name, stand_in or real)
          try:
            compiled = programs.Programs(model, 10, 1e-3, "fast", programs.mesh())
            compiled.eval_rows = 0
            rate = rows_per_s(compiled, compiled.init_state(0), compiled.eval_set(x, y, batch))
          finally:
            setattr(cpu_networks, name, real)
          best[form] = max(best[form], rate)
      print(f"| {model} | {batch} | {best['gemm']:,.0f} | {best['direct']:,.0f} | "
            f"{best['direct'] / best['gemm']:.2f}x | {'GEMM' if runs == 'gemm' else 'multiply-adds'} |", flush=True)


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--rows", type=int, default=6000)
  p.add_argument("--models", default="fc,cnn1,cnn2")
  p.add_argument("--batches", default="125,250,500,1000")
  p.add_argument("--formulations", action="store_true", help="the CNNs' convs: GEMM against multiply-adds")
  args = p.parse_args(argv)
  print(f"# {autotune.machine()}")
  rng = np.random.default_rng(0)
  x = rng.integers(0, 256, (args.rows, 784), dtype=np.uint8)
  y = rng.integers(0, 10, args.rows).astype(np.int32)
  if args.formulations:
    return formulations(x, y, args.models.split(","), [int(b) for b in args.batches.split(",")])
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
