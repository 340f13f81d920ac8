"""What caching lowered programs (jax.export) would save a warm launch, for one evaluation program.

A warm launch loads every executable from XLA's persistent cache, but still traces and lowers
each program to find its key: most of a local --hypothesis=all's compilation stage, by py-spy.
This times, for CNN2's evaluation program, tracing and lowering it afresh against lowering the
same program from its serialized jax.export (the first deserialisation apart: it loads the export
machinery once a process), and checks that both compile to the same results.

    python benchmarks/export_cost.py
"""

import pathlib
import sys
import time

import jax
import numpy as np
from jax import export

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from qd_jax.training import programs  # noqa: E402


def _seconds(f) -> float:
  t0 = time.perf_counter()
  f()
  return time.perf_counter() - t0


def main() -> None:
  p = programs.get("cnn2", 10, 1e-3, "fast", 128, 500)
  state = p.init_state(0)
  data = p.eval_set(np.zeros((2000, 784), np.uint8), np.zeros(2000, np.int32), 1000)
  leaves, tree = jax.tree_util.tree_flatten((state, *data.batches[0]))
  shardings = [a.sharding for a in leaves]

  def fresh():  # a new function each time, as a new process has: JAX's tracing cache misses
    def flat(*leaves):  # the state's optax types have no export serialisation: its leaves go instead
      return p._predict(*jax.tree_util.tree_unflatten(tree, leaves))
    return flat

  def jitted(f):
    return jax.jit(f, in_shardings=shardings, out_shardings=p.repl)

  traced = [_seconds(lambda: jitted(fresh()).lower(*leaves)) for _ in range(3)]
  blob = export.export(jitted(fresh()))(*leaves).serialize()
  first = _seconds(lambda: jitted(export.deserialize(blob).call).lower(*leaves))
  loaded = [_seconds(lambda: jitted(export.deserialize(blob).call).lower(*leaves)) for _ in range(3)]
  a = jitted(fresh()).lower(*leaves).compile()(*leaves)
  b = jitted(export.deserialize(blob).call).lower(*leaves).compile()(*leaves)
  same = all(bool((np.asarray(u) == np.asarray(v)).all()) for u, v in zip(a, b))
  print(f"# CNN2 evaluation program ({len(blob):,} bytes exported); {jax.devices()[0].device_kind}")
  print(f"trace and lower: {min(traced):.3f} s; lower from the export: {min(loaded):.3f} s "
        f"({min(traced) / min(loaded):.1f}x), the first {first:.3f} s; same results: {same}")


if __name__ == "__main__":
  main()
