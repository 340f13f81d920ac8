"""Why CNN runs are not stacked on CPUs: one conv's gradient, M runs vmapped against M solo calls.

  python benchmarks/stacked_layers.py [--models 4] [--batch 128]

For each conv of the paper's CNNs in qd_jax.nn.cpu_networks' CPU formulation (with and without the 2x2
pool), it times the gradient of a scalar function of the conv output, best of 20, and prints the
per-run speed of the vmapped version relative to solo (above 1: stacking pays).
"""

import argparse
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

from qd_jax.nn import cpu_networks as layers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the sibling modules, however run
from timing import best_seconds  # noqa: E402

CONVS = [("conv1 + pool", True, (1, 28, 28), (3, 3, 1, 4)), ("conv1", False, (1, 28, 28), (3, 3, 1, 4)),
         ("conv2 + pool", True, (4, 13, 13), (2, 2, 4, 8)), ("conv2", False, (4, 26, 26), (2, 2, 4, 8))]


def main(argv=None) -> dict[str, float]:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--models", type=int, default=4)
  p.add_argument("--batch", type=int, default=128)
  args = p.parse_args(argv)
  rng = np.random.default_rng(0)
  out = {}
  for name, pooled, shape, kshape in CONVS:
    x = jnp.asarray(rng.normal(size=(*shape, args.batch)), jnp.float32)  # batch-minor, as cpu_networks.py
    k = jnp.asarray(rng.normal(size=kshape), jnp.float32)

    def loss(x, k, pooled=pooled):
      z = layers.conv_cm(x, k, pooled)
      return jnp.sum(jnp.sin(layers.pool_cm(z) if pooled else z))

    grad = jax.grad(loss, argnums=(0, 1))
    solo = 1e3 * best_seconds(grad, x, k, rounds=20)
    stacked = 1e3 * best_seconds(jax.vmap(grad), jnp.stack([x] * args.models), jnp.stack([k] * args.models),
                                 rounds=20)
    out[name] = solo * args.models / stacked
    print(f"{name:>13}: solo {solo:6.2f} ms, {args.models} vmapped {stacked:6.2f} ms: "
          f"{out[name]:.2f}x per run")
  return out


if __name__ == "__main__":
  main(sys.argv[1:])
