"""The training steps' own GEMMs, through XLA and through PyTorch, side by side on this CPU.

step_profile.py says which GEMMs a qd_jax step spends its time in and at what rate; this says
what the same shapes run at in the faster peer's library (PyTorch's CPU matmul, with as many
threads as throughput.py gives it), so a row's ratio to torch can be read against the two GEMM
libraries' own ratio. Rounds alternate XLA and torch, each the best of its rounds.

    python benchmarks/gemm_peers.py [--shapes 64x5000x64,...] [--rounds 7]

A shape MxKxN is an (M, K) by (K, N) product, as XLA runs it in the step (step_profile.py's
`dot f32[M,K] x f32[K,N]`, or its transposed-operand forms, which it lists as they are).
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# CNN1's dense layer (5000 -> 64) in 64-row chunks: its forward, then its input gradient and its
# kernel gradient (one shape at 64 rows), the slowest GEMMs of that step (step_profile.py); the
# same three on whole batches of 1024; FC's two 784-wide GEMMs at batch 1024 (the forward, its 25
# units padded to 32, and the kernel gradient).
SHAPES = "64x5000x64,5000x64x64,64x5000x1024,5000x64x1024,5000x1024x64,1024x784x32,25x1024x784"


def rates(shape: tuple[int, int, int], rounds: int, calls: int = 50) -> tuple[float, float]:
  """(XLA GFLOP/s, torch GFLOP/s) of one (M, K) x (K, N) float32 product, best of `rounds` each."""
  import jax
  import torch
  m, k, n = shape
  rng = np.random.default_rng(0)
  a, b = rng.random((m, k), np.float32), rng.random((k, n), np.float32)
  xa, xb = jax.device_put(a), jax.device_put(b)
  ta, tb = torch.from_numpy(a), torch.from_numpy(b)
  xla = jax.jit(lambda p, q: p @ q).lower(xa, xb).compile()
  jax.block_until_ready(xla(xa, xb))
  torch.mm(ta, tb)
  best = {"xla": float("inf"), "torch": float("inf")}
  for _ in range(rounds):
    t0 = time.perf_counter()
    for _ in range(calls):
      out = xla(xa, xb)
    jax.block_until_ready(out)  # calls queue behind one another: the last one's end is the batch's
    best["xla"] = min(best["xla"], (time.perf_counter() - t0) / calls)
    t0 = time.perf_counter()
    for _ in range(calls):
      torch.mm(ta, tb)
    best["torch"] = min(best["torch"], (time.perf_counter() - t0) / calls)
  flops = 2.0 * m * k * n
  return flops / best["xla"] / 1e9, flops / best["torch"] / 1e9


def parse(text: str) -> list[tuple[int, int, int]]:
  """"64x5000x64,..." -> [(64, 5000, 64), ...]; one line naming a bad shape and the form, else."""
  shapes = []
  for item in text.split(","):
    sizes = item.strip().lower().split("x")
    if len(sizes) != 3 or not all(s.isdigit() and int(s) > 0 for s in sizes):
      sys.exit(f"gemm_peers.py: shape {item!r} is not MxKxN; give three positive sizes, e.g. 64x5000x64")
    shapes.append(tuple(int(s) for s in sizes))
  return shapes


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--shapes", default=SHAPES, help="comma-separated MxKxN")
  p.add_argument("--rounds", type=int, default=7)
  args = p.parse_args(argv)
  shapes = parse(args.shapes)
  import jax
  import torch
  from qd_jax.training import autotune
  torch.set_num_threads(os.cpu_count() or 1)  # as throughput.py's torch rows
  print(f"{autotune.cpu_model()}, {os.cpu_count()} cores, jax {jax.__version__}, torch {torch.__version__}"
        f" ({torch.get_num_threads()} threads)")
  print(f"{'M x K x N':>18} | XLA GFLOP/s | torch GFLOP/s | XLA/torch")
  for m, k, n in shapes:
    xla, ref = rates((m, k, n), args.rounds)
    print(f"{f'{m}x{k}x{n}':>18} | {xla:11.0f} | {ref:13.0f} | {xla / ref:8.2f}x")


if __name__ == "__main__":
  main()
