"""The one timing rule of the micro-benchmarks: compile first, run once, then the best of `rounds`."""

import time


def best_seconds(f, *args, rounds: int = 5) -> float:
  """Best wall seconds of the jitted `f(*args)`, compilation and the first call not counted."""
  import jax
  f = jax.jit(f).lower(*args).compile()
  jax.block_until_ready(f(*args))
  best = float("inf")
  for _ in range(rounds):
    t0 = time.perf_counter()
    jax.block_until_ready(f(*args))
    best = min(best, time.perf_counter() - t0)
  return best
