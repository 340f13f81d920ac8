"""qd_jax.nn.models and the registry: exact parameter counts and layer shapes, output shapes, purity."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from qd_jax.errors import QdError
from qd_jax.nn import models, registry

# The paper's Table of parameter counts (10 classes).
EXPECTED_COUNTS = {"fc": 20_067, "cnn1": 320_890, "cnn2": 19_322}

# {module: {param: shape}} for 10 classes, VALID convs: 28 -> 26 (3x3) -> 25 (2x2) for CNN1,
# 28 -> 26 -> pool 13 -> 12 (2x2) -> pool 6 for CNN2, so the flattened sizes are 25*25*8 and 6*6*8.
EXPECTED_SHAPES = {
    "fc": {
        "Dense_0": {"kernel": (784, 25), "bias": (25,)},
        "Dense_1": {"kernel": (25, 12), "bias": (12,)},
        "Dense_2": {"kernel": (12, 10), "bias": (10,)},
    },
    "cnn1": {
        "Conv_0": {"kernel": (3, 3, 1, 4), "bias": (4,)},
        "Conv_1": {"kernel": (2, 2, 4, 8), "bias": (8,)},
        "Dense_0": {"kernel": (5000, 64), "bias": (64,)},
        "Dense_1": {"kernel": (64, 10), "bias": (10,)},
    },
    "cnn2": {
        "Conv_0": {"kernel": (3, 3, 1, 4), "bias": (4,)},
        "Conv_1": {"kernel": (2, 2, 4, 8), "bias": (8,)},
        "Dense_0": {"kernel": (288, 64), "bias": (64,)},
        "Dense_1": {"kernel": (64, 10), "bias": (10,)},
    },
}

# Parameters that do not depend on the number of classes, and the width feeding the last layer.
BODY_COUNTS = {"fc": 20_067 - 130, "cnn1": 320_890 - 650, "cnn2": 19_322 - 650}
LAST_WIDTH = {"fc": 12, "cnn1": 64, "cnn2": 64}


def _create(name, num_classes):
  return registry.get(name).create(num_classes)


def _params(name, num_classes=10, seed=0):
  return models.init_params(_create(name, num_classes), jax.random.key(seed))


def _shapes(params):
  return jax.tree_util.tree_map(lambda a: tuple(a.shape), jax.tree_util.tree_map(np.asarray, params))


def _images(batch, seed=0):
  return jax.random.uniform(jax.random.key(seed), (batch, 784), jnp.float32)


def test_model_names():
  assert tuple(registry.names()) == ("fc", "cnn1", "cnn2", "rnn")


@pytest.mark.parametrize("name", ["fc", "cnn1", "cnn2"])
def test_param_count_exact(name):
  params = _params(name)
  assert models.param_count(params) == EXPECTED_COUNTS[name]
  # param_count agrees with an independent sum over the leaves.
  assert sum(int(np.prod(a.shape)) for a in jax.tree_util.tree_leaves(params)) == EXPECTED_COUNTS[name]


@pytest.mark.parametrize("name", ["fc", "cnn1", "cnn2"])
def test_layer_shapes(name):
  assert _shapes(_params(name)) == EXPECTED_SHAPES[name]


def test_cnn2_layer_shapes_explicit():
  p = _params("cnn2")
  assert p["Conv_0"]["kernel"].shape == (3, 3, 1, 4)
  assert p["Conv_1"]["kernel"].shape == (2, 2, 4, 8)
  assert p["Dense_0"]["kernel"].shape == (288, 64)
  assert p["Dense_1"]["kernel"].shape == (64, 10)


@pytest.mark.parametrize("name", ["fc", "cnn1", "cnn2"])
@pytest.mark.parametrize("num_classes", [3, 345])
def test_param_count_scales_with_classes(name, num_classes):
  expected = BODY_COUNTS[name] + (LAST_WIDTH[name] + 1) * num_classes
  assert models.param_count(_params(name, num_classes)) == expected


@pytest.mark.parametrize("name", ["fc", "cnn1", "cnn2"])
@pytest.mark.parametrize("batch", [1, 5])
def test_output_shape(name, batch):
  model = _create(name, 10)
  params = models.init_params(model, jax.random.key(0))
  out = model.apply({"params": params}, _images(batch))
  assert out.shape == (batch, 10)
  assert out.dtype == jnp.float32
  assert np.all(np.isfinite(np.asarray(out)))


def test_fc_three_classes():
  model = _create("fc", 3)
  params = models.init_params(model, jax.random.key(0))
  out = model.apply({"params": params}, _images(4))
  assert out.shape == (4, 3)
  assert params["Dense_2"]["kernel"].shape == (12, 3)


def _np_conv_valid(x, kernel, bias):
  kh, kw = kernel.shape[:2]
  ho, wo = x.shape[1] - kh + 1, x.shape[2] - kw + 1
  out = sum(x[:, i:i + ho, j:j + wo, :] @ kernel[i, j] for i in range(kh) for j in range(kw))
  return out + bias


def _np_max_pool2(x):
  b, h, w, c = x.shape
  return x[:, :h // 2 * 2, :w // 2 * 2].reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def _np_forward(name, params, x):
  """Independent float64 NumPy forward pass of the paper's architectures."""
  p = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), params)
  relu = lambda a: np.maximum(a, 0.0)
  dense = lambda a, layer: a @ p[layer]["kernel"] + p[layer]["bias"]
  x = np.asarray(x, np.float64)
  if name == "fc":
    return dense(relu(dense(relu(dense(x, "Dense_0")), "Dense_1")), "Dense_2")
  x = x.reshape(x.shape[0], 28, 28, 1)  # row-major 28x28 images, one channel
  for layer in ("Conv_0", "Conv_1"):
    x = relu(_np_conv_valid(x, p[layer]["kernel"], p[layer]["bias"]))
    if name == "cnn2":
      x = _np_max_pool2(x)
  x = relu(dense(x.reshape(x.shape[0], -1), "Dense_0"))
  return dense(x, "Dense_1")


@pytest.mark.parametrize("name", ["fc", "cnn1", "cnn2"])
def test_forward_matches_numpy_reference(name):
  model = _create(name, 10)
  params = models.init_params(model, jax.random.key(3))
  # Bias the init away from zero so ReLUs actually clip something in every layer.
  params = jax.tree_util.tree_map(lambda a: a + 0.05 if a.ndim == 1 else a, params)
  x = _images(5, seed=2)
  with jax.default_matmul_precision("highest"):  # no TF32/bf16 passes on accelerators
    out = np.asarray(model.apply({"params": params}, x), np.float64)
  np.testing.assert_allclose(out, _np_forward(name, params, x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["fc", "cnn1", "cnn2"])
def test_apply_is_pure(name):
  model = _create(name, 10)
  params = models.init_params(model, jax.random.key(0))
  x = _images(5)
  out1 = np.asarray(model.apply({"params": params}, x))
  out2 = np.asarray(model.apply({"params": params}, x))
  np.testing.assert_array_equal(out1, out2)
  # jit gives the same function of (params, x).
  out_jit = np.asarray(jax.jit(model.apply)({"params": params}, x))
  np.testing.assert_allclose(out_jit, out1, rtol=1e-5, atol=1e-6)
  # Rows are independent: no batch coupling from reshapes or pooling.
  per_row = np.concatenate([np.asarray(model.apply({"params": params}, x[i:i + 1])) for i in range(5)])
  np.testing.assert_allclose(per_row, out1, rtol=1e-5, atol=1e-6)
  # The output depends on the input (the network is not constant at init).
  assert not np.allclose(np.asarray(model.apply({"params": params}, _images(5, seed=1))), out1)


@pytest.mark.parametrize("name", ["fc", "cnn1", "cnn2"])
def test_init_is_deterministic_in_key(name):
  same_a, same_b = _params(name, seed=0), _params(name, seed=0)
  for a, b in zip(jax.tree_util.tree_leaves(same_a), jax.tree_util.tree_leaves(same_b)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  other = _params(name, seed=1)
  kernels_a = [np.asarray(v["kernel"]) for v in same_a.values()]
  kernels_o = [np.asarray(v["kernel"]) for v in other.values()]
  assert all(not np.array_equal(a, o) for a, o in zip(kernels_a, kernels_o))


@pytest.mark.parametrize("bad", ["cnn3", "FC", "", "mlp"])
def test_unknown_model_raises(bad):
  with pytest.raises((ValueError, QdError), match=repr(bad) if bad else "unknown"):
    _create(bad, 10)


class _AutoNamedFC(nn.Module):
  """FC as Flax names it by itself: what every recorded seed was initialised with."""
  @nn.compact
  def __call__(self, x):
    x = nn.relu(nn.Dense(25)(x))  # constructed in this order: Dense_0, Dense_1, Dense_2
    x = nn.relu(nn.Dense(12)(x))
    return nn.Dense(10)(x)


class _AutoNamedCNN(nn.Module):
  @nn.compact
  def __call__(self, x):
    h = x.reshape(x.shape[0], 28, 28, 1)
    for features, kernel in ((4, (3, 3)), (8, (2, 2))):
      h = nn.max_pool(nn.relu(nn.Conv(features, kernel, padding="VALID")(h)), (2, 2), strides=(2, 2))
    h = nn.relu(nn.Dense(64)(h.reshape(h.shape[0], -1)))
    return nn.Dense(10)(h)


@pytest.mark.parametrize("name, auto", [("fc", _AutoNamedFC), ("cnn2", _AutoNamedCNN)])
def test_explicit_layer_names_keep_every_seeds_initial_weights(name, auto):
  """Flax folds a layer's name into its initialisation key: the registry's models must start
  from the very weights Flax's automatic names gave each seed."""
  for seed in (0, 7):
    ours = _params(name, seed=seed)
    theirs = models.init_params(auto(), jax.random.key(seed))
    assert jax.tree_util.tree_structure(ours) == jax.tree_util.tree_structure(theirs)
    for a, b in zip(jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(theirs)):
      np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
