"""Samples/s of one (model, batch, microbatch) at each unroll of the step's microbatch loop,
timed side by side through the programs a sweep runs (training/autotune.measure), twice, with
each unroll's ratio to step.UNROLL: the evidence for autotune.UNROLLS.

    python benchmarks/unroll.py --model cnn1 --batch 1024 --microbatch 64 --unrolls 2,4,8
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--model", default="cnn1")
  p.add_argument("--batch", type=int, default=1024)
  p.add_argument("--microbatch", type=int, default=64)
  p.add_argument("--unrolls", default="2,4,8")
  p.add_argument("--rounds", type=int, default=2)
  a = p.parse_args(argv)
  import jax
  from qd_jax.training import autotune, step
  unrolls = sorted({step.UNROLL, *(int(u) for u in a.unrolls.split(","))})
  keys = {u: ("train", "fast", a.microbatch, 1, u) for u in unrolls}
  print(f"{autotune.cpu_model()}, {os.cpu_count()} cores, jax {jax.__version__}")
  built = {}
  for r in range(a.rounds):
    rates = autotune.measure(a.model, a.batch, list(keys.values()), built)
    base = rates[keys[step.UNROLL]]
    cells = ", ".join(f"unroll {u}: {rates[k]:,.0f} ({rates[k] / base:.2f}x)" for u, k in keys.items())
    print(f"{a.model} at batch {a.batch}, microbatch {a.microbatch}, round {r + 1}: {cells}", flush=True)


if __name__ == "__main__":
  main()
