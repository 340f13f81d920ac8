"""The paper's three networks as pure Flax modules (params in, logits out).

Inputs are (B, 784) floats in [0, 1]; the CNNs view them as (B, 28, 28, 1).
Parameter counts: FC 20,067, CNN1 320,890, CNN2 19,322 (tests/test_models.py).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from qd_jax.errors import QdError


class FC(nn.Module):
  """784-25-12-10, ReLU."""
  num_classes: int = 10

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    x = nn.relu(nn.Dense(25)(x))
    x = nn.relu(nn.Dense(12)(x))
    return nn.Dense(self.num_classes)(x)


class CNN(nn.Module):
  """conv 4@3x3 -> conv 8@2x2 -> dense 64 -> classes, VALID padding, ReLU.

  `pool=True` adds a 2x2 max-pool after each conv (the paper's CNN2).
  """
  pool: bool = False
  num_classes: int = 10

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    x = x.reshape(x.shape[0], 28, 28, 1)
    for features, kernel in ((4, (3, 3)), (8, (2, 2))):
      x = nn.relu(nn.Conv(features, kernel, padding="VALID")(x))
      if self.pool:
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
    x = x.reshape(x.shape[0], -1)
    x = nn.relu(nn.Dense(64)(x))
    return nn.Dense(self.num_classes)(x)


def create(name: str, num_classes: int) -> nn.Module:
  if name == "fc":
    return FC(num_classes=num_classes)
  if name == "cnn1":
    return CNN(pool=False, num_classes=num_classes)
  if name == "cnn2":
    return CNN(pool=True, num_classes=num_classes)
  raise QdError(f"unknown model {name!r}", f"use one of {', '.join(MODEL_NAMES)}")


MODEL_NAMES = ("fc", "cnn1", "cnn2")


def init_params(model: nn.Module, rng: jax.Array):
  return model.init(rng, jnp.zeros((1, 784), jnp.float32))["params"]


def param_count(params) -> int:
  return sum(int(p.size) for p in jax.tree_util.tree_leaves(params))
