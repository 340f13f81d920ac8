"""The initialisation's compile time at XLA:CPU's default backend optimisation and at level 0,
and whether level 0 draws the same bits (why qd_jax compiles it at the default).

  python benchmarks/init_compile.py [--models cnn2,fc] [--seeds 3]

Each (model, initialiser) is lowered once and compiled both ways, with no persistent cache.
"""

import argparse
import pathlib
import sys
import time

import jax
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # qd_jax, however run
from qd_jax.nn import models, registry  # noqa: E402

LEVEL0 = {"xla_backend_optimization_level": 0}


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--models", default="cnn2,fc")
  p.add_argument("--seeds", type=int, default=3)
  args = p.parse_args(argv)
  jax.config.update("jax_compilation_cache_dir", None)
  print("| model | init | compile s, default | compile s, level 0 | same bits (seeds) |")
  print("|---|---|---:|---:|---|")
  for name in args.models.split(","):
    spec = registry.get(name)
    module = spec.create(10)
    for init in models.INITS:
      lowered = jax.jit(lambda key: models.init_params(module, key, spec.input_kind.example_shape, init)).lower(
          jax.random.key(0))
      t0 = time.perf_counter()
      default = lowered.compile()
      t1 = time.perf_counter()
      level0 = lowered.compile(compiler_options=LEVEL0)
      t2 = time.perf_counter()
      same = all(all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(default(jax.random.key(s))),
                                                          jax.tree_util.tree_leaves(level0(jax.random.key(s)))))
                 for s in range(args.seeds))
      print(f"| {name} | {init} | {t1 - t0:.2f} | {t2 - t1:.2f} | {'yes' if same else 'no'} |", flush=True)


if __name__ == "__main__":
  main()
