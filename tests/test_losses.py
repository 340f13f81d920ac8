"""Property tests for qd_jax.nn.losses (softmax, log-softmax, cross-entropy).

JAX recompiles per input shape (~50-100 ms per function and shape on CPU), so every
function is jitted once at module level and shapes come from a small grid spanning
batch 1..8 x classes 2..12 (edges included); the compile cache is shared by all tests,
so the whole file runs in a few seconds on a 2-core CPU.
Computation is float32 (JAX's default); one test repeats the key identities in float64
under a scoped `jax.enable_x64(True)`, which restores the flag on exit.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from qd_jax.nn import losses

SETTINGS = settings(max_examples=40, deadline=None)

log_softmax = jax.jit(losses.log_softmax)
softmax = jax.jit(losses.softmax)
cross_entropy = jax.jit(losses.cross_entropy)
mean_cross_entropy = jax.jit(losses.mean_cross_entropy)
ce_grad = jax.jit(jax.grad(lambda logits, labels: jnp.sum(losses.cross_entropy(logits, labels))))
optax_ce = jax.jit(optax.softmax_cross_entropy_with_integer_labels)

BATCHES = (1, 3, 8)
CLASSES = (2, 5, 12)
F32 = np.float32
TINY32 = np.finfo(np.float32).tiny


@st.composite
def logits_and_labels(draw, bound=100.0, dtypes=(np.float32, np.float64), grid=None):
  """(B, C) finite logits in [-bound, bound] plus int32 labels in [0, C).

  Logits are drawn as float32 or float64 arrays; with x64 disabled JAX computes in float32.
  `grid` (a power of two) snaps logits onto multiples of 1/grid, so adding an integer
  constant is exact in float32.
  """
  batch = draw(st.sampled_from(BATCHES))
  classes = draw(st.sampled_from(CLASSES))
  dtype = draw(st.sampled_from(dtypes))
  x = draw(hnp.arrays(dtype, (batch, classes),
                      elements=st.floats(-bound, bound, allow_nan=False, allow_infinity=False,
                                         width=32)))
  if grid is not None:
    x = np.round(x * grid) / grid
  labels = draw(hnp.arrays(np.int32, (batch,), elements=st.integers(0, classes - 1)))
  return x, labels


def _np(a):
  return np.asarray(a, dtype=np.float64)


@SETTINGS
@given(logits_and_labels(bound=1e3))
def test_softmax_is_a_distribution(data):
  x, _ = data
  p = _np(softmax(x))
  assert p.shape == x.shape
  assert np.all(p >= 0.0) and np.all(p <= 1.0)
  np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=0, atol=1e-5)


@SETTINGS
@given(logits_and_labels(bound=100.0, grid=64), st.integers(-1000, 1000))
def test_shift_invariance(data, shift):
  # On a 1/64 grid with |x| <= 1100, x + shift is exact in float32, so any difference
  # below comes from the functions, not from rounding the shifted input.
  x, y = data
  x = x.astype(F32)
  xs = x + F32(shift)
  np.testing.assert_allclose(_np(softmax(xs)), _np(softmax(x)), rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(_np(log_softmax(xs)), _np(log_softmax(x)), rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(_np(cross_entropy(xs, y)), _np(cross_entropy(x, y)),
                             rtol=1e-5, atol=1e-5)


@SETTINGS
@given(logits_and_labels(bound=1e4))
@example((np.array([[1e4, -1e4], [-1e4, 1e4]], F32), np.array([1, 1], np.int32)))
@example((np.full((3, 12), 1e4, F32), np.array([0, 5, 11], np.int32)))
@example((np.full((2, 5), -1e4, F32), np.array([0, 4], np.int32)))
def test_finite_for_large_logits(data):
  x, y = data
  assert np.all(np.isfinite(softmax(x)))
  assert np.all(np.isfinite(log_softmax(x)))
  assert np.all(np.isfinite(cross_entropy(x, y)))
  assert np.isfinite(mean_cross_entropy(x, y))
  assert np.all(np.isfinite(ce_grad(x, y)))
  # Still a distribution, and CE still matches optax at this scale (relative to |x|).
  np.testing.assert_allclose(_np(softmax(x)).sum(axis=-1), 1.0, atol=1e-5)
  np.testing.assert_allclose(_np(cross_entropy(x, y)), _np(optax_ce(x, y)),
                             rtol=1e-5, atol=1e-6 * (1.0 + np.abs(x).max()))


@SETTINGS
@given(logits_and_labels(bound=200.0))
def test_log_softmax_is_log_of_softmax(data):
  x, _ = data
  logp = _np(log_softmax(x))
  p = _np(softmax(x))
  mask = p > TINY32
  assert mask.any(axis=-1).all()  # the arg-max entry is always representable
  with np.errstate(divide="ignore"):
    np.testing.assert_allclose(logp[mask], np.log(p)[mask], rtol=1e-6, atol=1e-5)
  # And against an independent float64 reference, everywhere.
  x64 = _np(x.astype(F32))
  ref = x64 - x64.max(-1, keepdims=True)
  ref = ref - np.log(np.exp(ref).sum(-1, keepdims=True))
  np.testing.assert_allclose(logp, ref, rtol=1e-6, atol=1e-4)


@SETTINGS
@given(logits_and_labels(bound=1e3))
def test_cross_entropy_is_nonneg_neg_log_prob(data):
  x, y = data
  ce = _np(cross_entropy(x, y))
  assert ce.shape == y.shape
  assert np.all(ce >= 0.0)
  rows = np.arange(len(y))
  p_label = _np(softmax(x))[rows, y]
  np.testing.assert_allclose(ce, -_np(log_softmax(x))[rows, y], rtol=1e-6, atol=1e-6)
  ok = p_label > TINY32
  np.testing.assert_allclose(ce[ok], -np.log(p_label[ok]), rtol=1e-5, atol=1e-5)


@SETTINGS
@given(logits_and_labels(bound=100.0))
def test_cross_entropy_gradient(data):
  x, y = data
  g = _np(ce_grad(x, y))
  onehot = np.eye(x.shape[-1])[y]
  np.testing.assert_allclose(g, _np(softmax(x)) - onehot, rtol=0, atol=1e-6)
  np.testing.assert_allclose(g.sum(axis=-1), 0.0, atol=1e-5)


@SETTINGS
@given(logits_and_labels(bound=100.0))
def test_cross_entropy_matches_optax(data):
  x, y = data
  ref = _np(optax_ce(x, y))
  np.testing.assert_allclose(_np(cross_entropy(x, y)), ref, rtol=1e-5, atol=1e-4)
  np.testing.assert_allclose(float(mean_cross_entropy(x, y)), ref.mean(), rtol=1e-5, atol=1e-4)


@SETTINGS
@given(st.data())
def test_mean_cross_entropy_masks_rows(data):
  x, y = data.draw(logits_and_labels(bound=100.0))
  w = data.draw(hnp.arrays(np.float32, y.shape, elements=st.sampled_from([0.0, 1.0])))
  got = float(mean_cross_entropy(x, y, w))
  assert np.isfinite(got)
  keep = w == 1.0
  if keep.any():
    ref = _np(optax_ce(x, y))[keep].mean()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-4)
    # Padding rows can hold anything; masked-out rows must not leak into the mean.
    junk = np.where(keep[:, None], x, np.float32(1e4) * np.sign(x + 0.5)).astype(x.dtype)
    np.testing.assert_allclose(float(mean_cross_entropy(junk, y, w)), got, rtol=1e-6, atol=1e-6)
  else:
    assert got == 0.0  # an all-padding batch contributes nothing (and is not NaN)
  ones = np.ones_like(w)
  np.testing.assert_allclose(float(mean_cross_entropy(x, y, ones)), float(mean_cross_entropy(x, y)),
                             rtol=1e-6, atol=1e-6)


@settings(max_examples=15, deadline=None)
@given(logits_and_labels(bound=700.0, dtypes=(np.float64,)))
def test_float64_matches_reference(data):
  x, y = data
  ref = x - x.max(-1, keepdims=True)
  ref = ref - np.log(np.exp(ref).sum(-1, keepdims=True))
  with jax.enable_x64(True):  # the jit caches key on the flag, so these retrace in float64
    logp = log_softmax(x)
    ce = cross_entropy(x, y)
    g = ce_grad(x, y)
    assert logp.dtype == jnp.float64 and ce.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(logp), ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(ce), -ref[np.arange(len(y)), y], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(g), np.exp(ref) - np.eye(x.shape[-1])[y], atol=1e-12)
  assert not jax.config.jax_enable_x64


def test_naive_softmax_overflows_but_ours_does_not():
  x = jnp.array([[1e4, 0.0, -1e4]], jnp.float32)
  naive = jnp.exp(x) / jnp.sum(jnp.exp(x), axis=-1, keepdims=True)
  assert not np.all(np.isfinite(naive))  # exp(1e4) = inf, inf / inf = nan
  ours = np.asarray(softmax(x))
  assert np.all(np.isfinite(ours))
  np.testing.assert_allclose(ours, [[1.0, 0.0, 0.0]], atol=1e-7)
  np.testing.assert_allclose(np.asarray(log_softmax(x)), [[0.0, -1e4, -2e4]], rtol=1e-6)
  assert float(cross_entropy(x, jnp.array([0]))[0]) == pytest.approx(0.0, abs=1e-6)
  assert float(cross_entropy(x, jnp.array([1]))[0]) == pytest.approx(1e4, rel=1e-6)
