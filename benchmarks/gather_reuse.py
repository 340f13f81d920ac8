"""The epoch's gather writing each chunk over a spent one (Programs._gather, donated) against
writing a fresh output, as it did before: samples/s side by side through the programs a sweep
runs (training/autotune.side_by_side, twice), and the page faults each variant takes per call
of CHUNK_STEPS steps. The evidence for the reuse.

    python benchmarks/gather_reuse.py --cases fc:1024,fc:128,cnn1:1024

In one process the fresh variant also reuses what glibc's allocator kept from the other one's
buffers, so `--alone fresh|reused` trains one variant alone in its process (the first case only)
and prints the median and best of `--calls` calls: alternate the two in a shell loop.
"""

import argparse
import os
import time
import resource
import sys
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fresh_programs():
  """Programs whose gather allocates a fresh output on every call (the code before the reuse)."""
  import jax
  from qd_jax.training import programs

  class Fresh(programs.Programs):
    def _gather(self, x_all, y_all, idx):
      def take(x_all, y_all, idx):
        per_run = jax.vmap(lambda a, j: a[j], in_axes=(0, 1), out_axes=1)
        return per_run(x_all, idx), per_run(y_all, idx)
      key = ("gather-fresh", x_all.shape, y_all.shape, idx.shape, self.repl, self.steps_split)
      f = self._compiled(key, take, x_all, y_all, idx, shared=True,
                         in_shardings=(self.repl, self.repl, self.steps_split),
                         out_shardings=(self.steps_split, self.steps_split))
      return f(x_all, y_all, idx)
  return Fresh


def faults_per_call(call, steps: int, calls: int) -> float:
  before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
  for _ in range(calls):
    call(steps)
  return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls


def build(model: str, batch: int, variant: str):
  """(call, steps) of the setting a sweep here would train, with the gather `variant`."""
  from qd_jax.training import autotune, programs
  s = autotune.choose(model, batch)
  with mock.patch.object(programs, "Programs", fresh_programs() if variant == "fresh" else programs.Programs):
    call, steps = autotune._trainer(model, batch, s.layers, s.microbatch, 1, s.unroll)
  call(steps)  # compiles, and fills the reused variant's two spent chunks
  return call, steps, f"{model} at batch {batch} ({s.layers}, microbatch {s.microbatch or 'off'}, unroll {s.unroll})"


def alone(model: str, batch: int, variant: str, calls: int) -> None:
  import numpy as np
  call, steps, what = build(model, batch, variant)
  faults = faults_per_call(call, steps, 5)
  rates = []
  for _ in range(calls):
    t0 = time.perf_counter()
    call(steps)
    rates.append(steps * batch / (time.perf_counter() - t0))
  print(f"{what}, {variant} alone: median {np.median(rates):,.0f}, best {max(rates):,.0f} samples/s "
        f"over {calls} calls; {faults:,.0f} page faults per call", flush=True)


def one_case(model: str, batch: int, rounds: int, calls: int) -> None:
  from qd_jax.training import autotune
  trainers, what = {}, ""
  for variant in ("reused", "fresh"):
    call, steps, what = build(model, batch, variant)
    trainers[variant] = (call, steps)
  faults = {k: faults_per_call(call, steps, calls) for k, (call, steps) in trainers.items()}
  print(f"{what}: page faults per call of {trainers['fresh'][1]} steps: "
        + ", ".join(f"{k} {v:,.0f}" for k, v in faults.items()), flush=True)
  for r in range(rounds):
    rates = autotune.side_by_side(trainers)
    print(f"{what}, round {r + 1}: fresh {rates['fresh']:,.0f}, reused {rates['reused']:,.0f} samples/s, "
          f"reused / fresh {rates['reused'] / rates['fresh']:.3f}x", flush=True)


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--cases", default="fc:1024,fc:128,cnn1:1024", help="model:batch, comma-separated")
  p.add_argument("--rounds", type=int, default=2)
  p.add_argument("--calls", type=int, default=10, help="calls per variant counted for page faults (timed, --alone)")
  p.add_argument("--alone", choices=("fresh", "reused"), help="train this variant alone, the first case only")
  a = p.parse_args(argv)
  import jax
  from qd_jax.training import autotune
  print(f"{autotune.cpu_model()}, {os.cpu_count()} cores, jax {jax.__version__}")
  if a.alone:
    model, batch = a.cases.split(",")[0].split(":")
    return alone(model, int(batch), a.alone, a.calls)
  for case in a.cases.split(","):
    model, batch = case.split(":")
    one_case(model, int(batch), a.rounds, a.calls)


if __name__ == "__main__":
  main()
