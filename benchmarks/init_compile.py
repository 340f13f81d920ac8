"""The initialisation's compile time at XLA:CPU's default backend optimisation and at levels 1
and 0, and whether each draws the default's bits (why qd_jax compiles it at level 1:
training/programs.py, CPU_INIT_OPTIONS).

  python benchmarks/init_compile.py [--models fc,cnn1,cnn2,rnn] [--seeds 5]

Each (model, initialiser) is lowered once and compiled at each level, with no persistent cache.
"""

import argparse
import pathlib
import sys
import time

import jax
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # qd_jax, however run
from qd_jax.nn import models, registry  # noqa: E402

LEVELS = (1, 0)


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--models", default="fc,cnn1,cnn2,rnn")
  p.add_argument("--seeds", type=int, default=5)
  args = p.parse_args(argv)
  jax.config.update("jax_compilation_cache_dir", None)
  print("| model | init | compile s, default | " + " | ".join(f"compile s, level {n} | same bits (seeds)" for n in LEVELS) + " |")
  print("|---|---|---:|" + "---:|---|" * len(LEVELS))
  for name in args.models.split(","):
    spec = registry.get(name)
    module = spec.create(10)
    for init in models.INITS:
      lowered = jax.jit(lambda key: models.init_params(module, key, spec.input_kind.example_shape, init)).lower(
          jax.random.key(0))
      t0 = time.perf_counter()
      default = lowered.compile()
      cells = [f"{time.perf_counter() - t0:.2f}"]
      for level in LEVELS:
        t0 = time.perf_counter()
        other = lowered.compile(compiler_options={"xla_backend_optimization_level": level})
        cells.append(f"{time.perf_counter() - t0:.2f}")
        cells.append("yes" if all(_same(default, other, jax.random.key(s)) for s in range(args.seeds)) else "no")
      print(f"| {name} | {init} | " + " | ".join(cells) + " |", flush=True)


def _same(a, b, key) -> bool:
  """Whether two compiled initialisations draw the same bits from `key`."""
  return all(np.array_equal(x, y) for x, y in zip(jax.tree_util.tree_leaves(a(key)), jax.tree_util.tree_leaves(b(key))))


if __name__ == "__main__":
  main()
