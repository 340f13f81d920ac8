"""How much of this machine's cores each training step uses: the same programs timed with every
thread of the process on one core, then on all of them, window after window in one run.

Each round pins every thread of the process (XLA:CPU's pool and this one) to the first core,
times a window, then lets them use every core and times another. The paired ratio
(all cores / one core, per round, so a busy spell hits both alike) says what the extra cores
buy each step; the float32 matmul's own ratio is the ceiling. A step whose ratio is near 1 runs
one operation at a time on one core's worth of threads, and a faster formulation of its
operations, not more parallel ones, is what can speed it up; a run that leaves a core idle is
what stacking runs (training/cohort.py) fills. qd_jax only: PyTorch's OpenMP workers, two to a
core, spin against each other there and read far below what one thread would.

    python benchmarks/cores.py [--models fc,cnn1,cnn2] [--batches 128,1024] [--rounds 7]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from throughput import MODELS, paired, qd_jax_runner, synthetic  # noqa: E402


def pin(cores: set[int]) -> None:
  """Every thread of this process onto `cores` (Linux: a thread id is a valid pid here)."""
  for tid in os.listdir("/proc/self/task"):
    try:
      os.sched_setaffinity(int(tid), cores)
    except OSError:  # a thread that ended meanwhile
      pass


def matmul_call(n: int = 2048):
  """A float32 n^3 matmul through XLA, as a call that returns its flops."""
  import jax
  import jax.numpy as jnp
  a = jnp.ones((n, n), jnp.float32)
  f = jax.jit(lambda a: a @ a).lower(a).compile()
  jax.block_until_ready(f(a))

  def call():
    jax.block_until_ready(f(a))
    return 2 * n ** 3
  return call


def one_vs_all(call, rounds: int, window: float, pause: float) -> tuple[list[float], list[float]]:
  """Rates (units of `call`'s return per second) on one core and on all, a pair per round."""
  everything, rates = os.sched_getaffinity(0), ([], [])
  try:
    for _ in range(rounds):
      for cores, out in (({min(everything)}, rates[0]), (everything, rates[1])):
        pin(cores)
        time.sleep(pause)
        done, t0 = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - t0) < window or not done:
          done += call()
        out.append(done / elapsed)
  finally:
    pin(everything)
  return rates


def line(name: str, one: list[float], all_: list[float], unit: str) -> str:
  median, low, high = paired(all_, one)
  return (f"{name:<24} one core {max(one):>12,.0f} {unit}  all cores {max(all_):>12,.0f} {unit}  "
          f"all/one by round {median:.2f}x ({low:.2f}-{high:.2f})")


def parse(argv):
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--models", default=",".join(MODELS))
  p.add_argument("--batches", default="128,1024")
  p.add_argument("--rounds", type=int, default=7)
  p.add_argument("--min-time", type=float, default=1.0, help="seconds per timed window")
  p.add_argument("--pause", type=float, default=0.2, help="idle seconds before each window")
  a = p.parse_args(argv)
  a.models = a.models.split(",")
  a.batches = [int(b) for b in a.batches.split(",")]
  if bad := [m for m in a.models if m not in MODELS]:
    p.error(f"unknown model: {', '.join(bad)} (models {', '.join(MODELS)})")
  if len(os.sched_getaffinity(0)) < 2:
    p.error("this process may use one core only: nothing to compare (run it without taskset)")
  return a


def main(argv=None) -> None:
  args = parse(argv)
  import jax
  from qd_jax.training.autotune import cpu_model
  print(f"{cpu_model()}, {len(os.sched_getaffinity(0))} cores, jax {jax.__version__}; "
        f"load average {os.getloadavg()[0]:.2f} at start", flush=True)
  one, all_ = one_vs_all(matmul_call(), args.rounds, args.min_time, args.pause)
  print(line("matmul 2048^3 (XLA)", [r / 1e9 for r in one], [r / 1e9 for r in all_], "GFLOP/s"), flush=True)
  for model in args.models:
    for batch in args.batches:
      steps = max(2, 32768 // batch)
      x, y = synthetic(steps * batch)
      runner = qd_jax_runner(model, batch, steps, x, y)
      one, all_ = one_vs_all(runner.call, args.rounds, args.min_time, args.pause)
      print(line(f"qd_jax {model}@{batch}", one, all_, "samples/s"), flush=True)
  print(f"best of {args.rounds} windows of >= {args.min_time}s each; "
        f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
  main()
