"""qd_jax.nn.cpu_networks: the fast CPU formulation equals lax.conv_general_dilated / nn.max_pool / the
flax models, in outputs and in gradients (inputs and params), to 1e-5 on random inputs.

"To 1e-5" is relative to each array's largest entry (and absolute below 1): a kernel gradient
sums about a thousand products, and two float32 summation orders then differ by more than 1e-5
on entries near 100. Everything runs under jit, since op-by-op dispatch would make this slow."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from qd_jax.nn import cpu_networks as layers, losses, models, registry
from qd_jax.training import step as steps

TOL = 1e-5


def _create(name, num_classes):
  return registry.get(name).create(num_classes)


def _fast(name):
  """The registry's CPU formulation as (variables, x) -> logits."""
  return registry.get(name).apply("fast", 10)


def init_params(model, key):
  """Random params in models.init_params' exact pytree (names, shapes), without running flax's
  initializers, whose first calls compile for seconds. Kernels get LeCun-like scales."""
  shapes = jax.eval_shape(lambda k: models.init_params(model, k), key)
  rng = np.random.default_rng(int(jax.random.randint(key, (), 0, 2**31 - 1)))

  def fill(s):
    scale = 1 / np.sqrt(np.prod(s.shape[:-1])) if len(s.shape) > 1 else 0.1
    return jnp.asarray(rng.normal(0, scale, s.shape), jnp.float32)
  return jax.tree_util.tree_map(fill, shapes)


def close(a, b, tol=TOL):
  leaves_a, leaves_b = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
  assert len(leaves_a) == len(leaves_b)
  for x, y in zip(leaves_a, leaves_b):
    x, y = np.asarray(x), np.asarray(y)
    assert x.shape == y.shape
    scale = max(1.0, float(np.max(np.abs(y), initial=0.0)))
    np.testing.assert_allclose(x, y, rtol=0, atol=tol * scale)


def fast_conv(x, kernel, bias):
  """layers.conv_cm as nn.Conv(padding="VALID") on NHWC x, kernel (kh, kw, cin, cout)."""
  kh, kw, _, cout = kernel.shape
  b, h, w, _ = x.shape
  z = layers.conv_cm(x.transpose(3, 1, 2, 0), kernel, False)
  return z.reshape(cout, h - kh + 1, w - kw + 1, b).transpose(3, 1, 2, 0) + bias


def xla_conv(x, kernel, bias):
  return lax.conv_general_dilated(x, kernel, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")) + bias


def fast_pool(x):
  """layers.pool_cm as nn.max_pool(x, (2, 2), strides=(2, 2)) on NHWC x."""
  b, h, w, c = x.shape
  h2, w2 = h // 2, w // 2
  q = x[:, :2 * h2, :2 * w2].reshape(b, h2, 2, w2, 2, c)
  q = q.transpose(5, 2, 4, 1, 3, 0).reshape(c, 4 * h2 * w2, b)  # parity-major, batch-minor
  return layers.pool_cm(q).reshape(c, h2, w2, b).transpose(3, 1, 2, 0)


def flax_pool(x):
  return nn.max_pool(x, (2, 2), strides=(2, 2))


def rand(seed, shape):
  return jax.random.normal(jax.random.key(seed), shape, jnp.float32)


# (batch, H, W, cin, kh, kw, cout): the paper's two convs, then odd and non-square shapes.
CONV_CASES = [(1, 28, 28, 1, 3, 3, 4), (7, 13, 13, 4, 2, 2, 8), (3, 26, 26, 4, 2, 2, 8),
              (1, 9, 6, 3, 3, 2, 5)]


@pytest.mark.parametrize("b,h,w,cin,kh,kw,cout", CONV_CASES)
def test_conv_matches_xla(b, h, w, cin, kh, kw, cout):
  x, k, bias = rand(0, (b, h, w, cin)), rand(1, (kh, kw, cin, cout)), rand(2, (cout,))
  g = rand(3, (b, h - kh + 1, w - kw + 1, cout))  # a random cotangent tests the whole VJP

  conv = nn.Conv(cout, (kh, kw), padding="VALID")

  @jax.jit
  def run(x, k, bias, g):
    outs = {}
    for name, f in (("fast", fast_conv), ("xla", xla_conv)):
      y, vjp = jax.vjp(f, x, k, bias)
      outs[name] = (y, vjp(g))
    return outs, conv.apply({"params": {"kernel": k, "bias": bias}}, x)

  outs, flax_out = run(x, k, bias, g)
  close(outs["fast"], outs["xla"])
  close(outs["xla"][0], flax_out)  # lax's conv is what flax's nn.Conv computes


def test_parity_major_conv_is_a_reordered_conv():
  # pooled=True only reorders output slots: (s, t, row/2, col/2) for output (2*row/2+s, 2*col/2+t).
  x, k, g = rand(7, (7, 9, 11, 3)), rand(8, (2, 2, 3, 5)), rand(9, (5, 80, 7))

  @jax.jit
  def run(x, k, g):
    def fast(x, k):
      return layers.conv_cm(x.transpose(3, 1, 2, 0), k, True)

    def ref(x, k):  # (B, 8, 10, 5) -> (5, s, t, 4, 5, B) -> (5, 80, B)
      y = xla_conv(x, k, jnp.zeros(5)).reshape(7, 4, 2, 5, 2, 5)
      return y.transpose(5, 2, 4, 1, 3, 0).reshape(5, 80, 7)
    # Undifferentiated, the pooled conv runs as multiply-adds (evaluation), not the GEMM.
    return [(lambda y, vjp: (y, vjp(g)))(*jax.vjp(f, x, k)) for f in (fast, ref)] + [fast(x, k)]

  fast, ref, evaluated = run(x, k, g)
  close(fast, ref)
  close(evaluated, ref[0])


@pytest.mark.parametrize("shape", [(1, 26, 26, 4), (7, 7, 9, 3), (1, 2, 2, 1)])
def test_pool_matches_flax(shape):
  x = rand(4, shape)
  g = rand(5, (shape[0], shape[1] // 2, shape[2] // 2, shape[3]))

  @jax.jit
  def run(x, g):
    return [(lambda y, vjp: (y, vjp(g)))(*jax.vjp(f, x)) for f in (fast_pool, flax_pool)]

  fast, flax = run(x, g)
  close(fast, flax)


def test_pool_ties_go_to_the_first_maximum_like_flax():
  # Small integers tie often, and blank drawings tie everywhere; both pools must route alike.
  x = jnp.asarray(np.random.default_rng(0).integers(0, 3, (3, 8, 8, 2)), jnp.float32)
  g = rand(6, (3, 4, 4, 2))
  grads = jax.jit(lambda x, g: [jax.vjp(f, x)[1](g)[0] for f in (fast_pool, flax_pool)])(x, g)
  np.testing.assert_array_equal(np.asarray(grads[0]), np.asarray(grads[1]))


def test_pooled_conv_needs_even_output():
  with pytest.raises(ValueError, match="even"):
    layers.conv_cm(jnp.zeros((1, 6, 6, 2)), jnp.zeros((2, 2, 1, 3)), True)


def _loss(apply):
  def loss(params, x, y):
    return losses.mean_cross_entropy(apply({"params": params}, x), y)
  return loss


@pytest.mark.parametrize("name", [n for n in registry.names() if registry.get(n).cpu_network])  # those with one
def test_network_matches_flax_model(name):
  model = _create(name, 10)
  apply = {"fast": _fast(name), "flax": model.apply}

  @jax.jit
  def run(cases):  # batches 1 and 7 in one program: one compilation instead of two
    return [{impl: (f({"params": p}, x), jax.grad(_loss(f), argnums=(0, 1))(p, x, y))
             for impl, f in apply.items()} for p, x, y in cases]

  cases = [(init_params(model, jax.random.key(b)), jax.random.uniform(jax.random.key(9), (b, 784)),
            jnp.arange(b) % 10) for b in (1, 7)]  # pixels in [0, 1]
  for out in run(cases):
    close(out["fast"], out["flax"])  # logits, then gradients for params and pixels


@pytest.mark.parametrize("name,count", [("cnn1", 320_890), ("cnn2", 19_322), ("fc", 20_067)])
def test_same_params_pytree(name, count):
  # cnn_apply runs on models.init_params' pytree as it is: same names, shapes and count.
  params = init_params(_create(name, 10), jax.random.key(0))
  assert sum(p.size for p in jax.tree_util.tree_leaves(params)) == count
  x = jnp.zeros((2, 784))
  apply = _fast(name)
  out, grads = jax.jit(jax.value_and_grad(lambda p: apply({"params": p}, x).sum()))(params)
  assert out.shape == ()
  assert jax.tree_util.tree_structure(grads) == jax.tree_util.tree_structure(params)
  assert all(g.shape == p.shape for g, p in zip(jax.tree_util.tree_leaves(grads),
                                                jax.tree_util.tree_leaves(params)))


def test_fast_takes_any_class_count():
  params = init_params(_create("cnn2", 5), jax.random.key(3))
  x = jax.random.uniform(jax.random.key(4), (7, 784))
  fast, flax = jax.jit(lambda p, x: [layers.cnn_apply(p, x, True), _create("cnn2", 5).apply({"params": p}, x)])(params, x)
  assert fast.shape == (7, 5)
  close(fast, flax)
  fc = _create("fc", 3)
  params = init_params(fc, jax.random.key(5))
  close(layers.fc_apply(params, x), fc.apply({"params": params}, x))


@pytest.mark.parametrize("chunk", [3, 4, 6])  # 4, 3 and 2 chunks: the scan runs two per step
def test_microbatch_equals_whole_batch(chunk):
  model = _create("fc", 10)  # the chunking is model-agnostic; FC compiles fastest
  params = init_params(model, jax.random.key(0))
  x = jax.random.uniform(jax.random.key(1), (12, 784))
  y = jnp.arange(12) % 10
  fast = _fast("fc")

  def loss_fn(p, x, y):
    logits = fast({"params": p}, x)
    return losses.mean_cross_entropy(logits, y), logits

  whole = jax.jit(steps.microbatch_value_and_grad(loss_fn, 0))(params, x, y)
  split = jax.jit(steps.microbatch_value_and_grad(loss_fn, chunk))(params, x, y)
  close(split, whole)
  with pytest.raises(ValueError, match="multiple"):
    steps.microbatch_value_and_grad(loss_fn, 5)(params, x, y)


def test_registry_picks_the_cpu_formulation_only_where_it_runs():
  spec = registry.get("cnn2")
  assert spec.layers("auto", "cpu") == "fast" and spec.layers("auto", "gpu") == "xla"
  assert spec.layers("xla", "cpu") == "xla" and spec.layers("fast", "gpu") == "fast"
  assert spec.microbatch("fast", "cpu", 1) == 128 and spec.microbatch("fast", "cpu", 2) == 0
  assert spec.microbatch("xla", "cpu", 1) == 0 and spec.microbatch("fast", "gpu", 1) == 0
