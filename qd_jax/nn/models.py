"""The paper's three networks as pure Flax modules (params in, logits out).

Inputs are (B, 784) floats in [0, 1]; the CNNs view them as (B, 28, 28, 1).
Parameter counts: FC 20,067, CNN1 320,890, CNN2 19,322 (tests/test_models.py).

Every layer is named here, and nn/cpu_networks.py reads the parameters by these names. They
are the names Flax would pick by itself: Flax derives each layer's initialisation key from its
name, so other names would change every seed's initial weights, and every recorded number.
"""

import zlib

import flax.linen as nn
import jax
import jax.numpy as jnp

FC_LAYERS = ("Dense_0", "Dense_1", "Dense_2")  # 784 -> 25 -> 12 -> classes
CONV_LAYERS = ("Conv_0", "Conv_1")  # 4@3x3, then 8@2x2
HEAD_LAYERS = ("Dense_0", "Dense_1")  # the CNNs' dense 64, then the logits


class FC(nn.Module):
  """784-25-12-classes, ReLU."""
  num_classes: int = 10

  @nn.compact
  def __call__(self, x_bd: jax.Array) -> jax.Array:
    h = x_bd
    for name, width in zip(FC_LAYERS[:-1], (25, 12)):
      h = nn.relu(nn.Dense(width, name=name)(h))
    return nn.Dense(self.num_classes, name=FC_LAYERS[-1])(h)


class CNN(nn.Module):
  """conv 4@3x3 -> conv 8@2x2 -> dense 64 -> classes, VALID padding, ReLU.

  `pool=True` adds a 2x2 max-pool after each conv (the paper's CNN2).
  """
  pool: bool = False
  num_classes: int = 10

  @nn.compact
  def __call__(self, x_bd: jax.Array) -> jax.Array:
    h = x_bd.reshape(x_bd.shape[0], 28, 28, 1)
    for name, features, kernel in zip(CONV_LAYERS, (4, 8), ((3, 3), (2, 2))):
      h = nn.relu(nn.Conv(features, kernel, padding="VALID", name=name)(h))
      if self.pool:
        h = nn.max_pool(h, (2, 2), strides=(2, 2))
    h = h.reshape(h.shape[0], -1)
    h = nn.relu(nn.Dense(64, name=HEAD_LAYERS[0])(h))
    return nn.Dense(self.num_classes, name=HEAD_LAYERS[1])(h)


INITS = ("flax", "keras")  # config.init


def init_params(model: nn.Module, rng: jax.Array, example_shape: tuple[int, ...] = (784,), init: str = "flax"):
  """The module's parameters, by Flax's initialisers, or by Keras' defaults (`keras_params`)."""
  params = model.init(rng, jnp.zeros((1, *example_shape), jnp.float32))["params"]
  return keras_params(params, rng) if init == "keras" else params


def keras_params(params, rng: jax.Array):
  """Keras' defaults in the same shapes: glorot_uniform kernels (fan in and out over the
  receptive field, as Keras counts them) and zero biases. Each kernel's key is folded from `rng`
  and its layer's name, so a layer's draw does not depend on the others."""
  glorot = jax.nn.initializers.glorot_uniform()

  def one(path, leaf):
    name = "/".join(str(getattr(k, "key", k)) for k in path)
    if path[-1].key != "kernel":
      return jnp.zeros_like(leaf)
    return glorot(jax.random.fold_in(rng, zlib.crc32(name.encode())), leaf.shape, leaf.dtype)
  return jax.tree_util.tree_map_with_path(one, params)


def param_count(params) -> int:
  return sum(int(p.size) for p in jax.tree_util.tree_leaves(params))
