"""The paper's whole networks laid out for XLA:CPU: `--config.layers=fast`.

`--config.layers=xla` runs nn/models.py, flax's nn.Conv and nn.max_pool as they are: keep those on
GPUs, where cuDNN is fast. This module is the other one (benchmarks/README.md has the measurements):
  * Activations are "batch-minor" (channels, positions, batch), so every elementwise op runs along
    a contiguous batch axis instead of a 4- or 8-wide channel axis.
  * A conv is one GEMM: kernel (kh*kw*cin, cout) times patches (kh*kw*cin, positions*batch). The
    patches are strided slices concatenated in one pass. The custom VJP gets the kernel gradient
    from patches @ dz^T, the GEMM form XLA:CPU runs fastest. It computes the input gradient by
    shifted multiply-adds, or by a gather for the parity-major order described next.
  * With `pooled=True`, output positions are parity-major: the four slots of every 2x2 window
    form four contiguous blocks. The pool is then the max of four slices, and its gradient writes
    four masked slices. Bias and ReLU commute with the max, so they run after pooling, on a
    quarter of the data.
  * Parameters are nn/models.py's, read by the layer names it declares, so one pytree serves both. Outputs and gradients
    match lax.conv_general_dilated, nn.max_pool and the flax models (tests/test_layers.py). At
    ties, the pool's gradient goes to the first maximum in window order, as nn.max_pool's does.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from qd_jax.nn.models import CONV_LAYERS, FC_LAYERS, HEAD_LAYERS

# Raised when a formulation here changes, so autotune's cached timings are measured again.
REVISION = 2

# ---- index tables (numpy constants, built once per shape) ----

@functools.cache
def _slots(ho: int, wo: int, pooled: bool) -> np.ndarray:
  """(Ho*Wo, 2) output (row, col) per slot: row-major, or parity-major (s, t, row/2, col/2)."""
  if not pooled:
    r, c = np.meshgrid(np.arange(ho), np.arange(wo), indexing="ij")
    return np.stack([r, c], -1).reshape(-1, 2)
  if ho % 2 or wo % 2:
    raise ValueError(f"pooled conv output must be even-sized, got {ho}x{wo}")
  s, t, r, c = np.meshgrid(np.arange(2), np.arange(2), np.arange(ho // 2), np.arange(wo // 2),
                           indexing="ij")
  return np.stack([2 * r + s, 2 * c + t], -1).reshape(-1, 2)


@functools.cache
def _patch_index(h: int, w: int, kh: int, kw: int, pooled: bool) -> np.ndarray:
  """(taps, slots): the flat input pixel that tap (i, j) of each output slot reads."""
  slots = _slots(h - kh + 1, w - kw + 1, pooled)
  taps = np.array([(i, j) for i in range(kh) for j in range(kw)])
  rc = taps[:, None, :] + slots[None, :, :]
  return (rc[..., 0] * w + rc[..., 1]).astype(np.int32)


@functools.cache
def _fold_index(h: int, w: int, kh: int, kw: int, pooled: bool) -> np.ndarray:
  """(taps, H*W): the slot whose tap reads each pixel, or `slots` (a zero row) if none does."""
  pi = _patch_index(h, w, kh, kw, pooled)
  taps, slots = pi.shape
  fi = np.full((taps, h * w), slots, np.int32)
  for t in range(taps):
    fi[t, pi[t]] = np.arange(slots)
  return fi


def _opaque(table: np.ndarray) -> jax.Array:
  # XLA:CPU lowers a gather with constant indices to slow per-element code (~7x slower here);
  # behind a barrier the indices are data, and each index copies a contiguous batch vector.
  return lax.optimization_barrier(jnp.asarray(table))


# ---- batch-minor conv: x (cin, H, W, B) -> (cout, slots, B) ----

def _parity_tap(x, c, r0, c0, ho, wo):
  """(ho/2, wo/2, B): channel c from (r0, c0) in steps of 2, what one tap reads for one parity slot."""
  return x[c, r0:r0 + ho - 1:2, c0:c0 + wo - 1:2]


def _patches(x, kh, kw, pooled):
  """(cin, H, W, B) -> (taps*cin, slots*B), rows (tap, ci), by stacking strided slices.
  Slices copy whole batch vectors. A gather that feeds a GEMM ran 2x slower here."""
  cin, h, w, b = x.shape
  ho, wo = h - kh + 1, w - kw + 1
  if pooled:
    _slots(ho, wo, True)  # checks evenness
    parts = [_parity_tap(x, c, i + s, j + t, ho, wo) for i in range(kh)
             for j in range(kw) for c in range(cin) for s in range(2) for t in range(2)]
  else:
    parts = [x[c, i:i + ho, j:j + wo] for i in range(kh) for j in range(kw) for c in range(cin)]
  return jnp.stack(parts).reshape(kh * kw * cin, -1)


def _fold(dp, in_shape, kh, kw, pooled):
  """The adjoint of _patches: (taps*cin, slots*B) -> (cin, H, W, B)."""
  cin, h, w, b = in_shape
  fi = _fold_index(h, w, kh, kw, pooled)
  taps, slots = fi.shape[0], (h - kh + 1) * (w - kw + 1)
  d = jnp.pad(dp.reshape(taps, cin, slots, b), ((0, 0), (0, 0), (0, 1), (0, 0)))
  g = d[_opaque(np.arange(taps)[:, None]), :, _opaque(fi)]  # (taps, H*W, cin, B)
  total = g[0]
  for t in range(1, taps):
    total = total + g[t]  # explicit adds: a reduce here becomes a slow library call
  return total.transpose(1, 0, 2).reshape(cin, h, w, b)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def conv_cm(x: jax.Array, kernel: jax.Array, pooled: bool = False) -> jax.Array:
  """VALID, stride-1 conv without bias on batch-minor x (cin, H, W, B) -> (cout, slots, B).
  Under a gradient it is the patches GEMM, whose patches the kernel gradient needs
  (_conv_cm_fwd); undifferentiated (evaluation) and pooled, it is _pooled_direct."""
  return _pooled_direct(x, kernel) if pooled else _conv_cm_fwd(x, kernel, pooled)[0]


def _pooled_direct(x, kernel):
  """The parity-major conv as kh*kw*cin shifted multiply-adds per parity slot, in one fused
  pass with no patches written and read back: CNN2's evaluation ran 1.7x-1.8x the rows/s of the
  GEMM here. Row-major (CNN1's), the same form ran slower than the GEMM, so that conv stays
  the GEMM (both: benchmarks/eval_calls.py --formulations)."""
  kh, kw, cin, cout = kernel.shape
  _, h, w, b = x.shape
  ho, wo = h - kh + 1, w - kw + 1
  _slots(ho, wo, True)  # checks evenness
  taps = [(i, j, c) for i in range(kh) for j in range(kw) for c in range(cin)]
  blocks = [sum(kernel[i, j, c][:, None, None, None] * _parity_tap(x, c, i + s, j + t, ho, wo)[None]
                for i, j, c in taps).reshape(cout, -1, b) for s in range(2) for t in range(2)]
  return jnp.concatenate(blocks, axis=1)


def _conv_cm_fwd(x, kernel, pooled):
  kh, kw, cin, cout = kernel.shape
  _, h, w, b = x.shape
  p = _patches(x, kh, kw, pooled)
  z = jnp.einsum("kd,kn->dn", kernel.reshape(-1, cout), p)
  return z.reshape(cout, (h - kh + 1) * (w - kw + 1), b), (p, kernel, x.shape)


def _dx_direct(dz, kernel, in_shape):
  """The input gradient of a row-major conv as shifted multiply-adds on the zero-padded dz:
  one fused pass, where a GEMM would write kh*kw*cin rows for _fold to read back."""
  kh, kw, cin, cout = kernel.shape
  _, h, w, b = in_shape
  ho, wo = h - kh + 1, w - kw + 1
  d = jnp.pad(dz.reshape(cout, ho, wo, b), ((0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1), (0, 0)))
  total = 0
  for i in range(kh):
    for j in range(kw):
      for co in range(cout):  # pixel (r, c) takes tap (i, j) of output (r - i, c - j)
        shifted = d[co, kh - 1 - i:kh - 1 - i + h, kw - 1 - j:kw - 1 - j + w]
        total = total + kernel[i, j, :, co][:, None, None, None] * shifted[None]
  return total


def _conv_cm_bwd(pooled, res, dz):
  p, kernel, in_shape = res
  kh, kw, _, cout = kernel.shape
  dk = (p @ dz.reshape(cout, -1).T).reshape(kernel.shape)  # (taps*cin, cout): the fast GEMM form
  # An unused input gradient (the first conv's) is dropped by XLA.
  if pooled:
    dx = _fold(kernel.reshape(-1, cout) @ dz.reshape(cout, -1), in_shape, kh, kw, pooled)
  else:
    dx = _dx_direct(dz, kernel, in_shape)
  return dx, dk


conv_cm.defvjp(_conv_cm_fwd, _conv_cm_bwd)


@jax.custom_vjp
def pool_cm(z: jax.Array) -> jax.Array:
  """2x2 max-pool of a parity-major conv output (c, 4*m, B) -> (c, m, B)."""
  q = z.reshape(z.shape[0], 4, -1, z.shape[-1])
  return jnp.maximum(jnp.maximum(q[:, 0], q[:, 1]), jnp.maximum(q[:, 2], q[:, 3]))


def _pool_cm_fwd(z):
  out = pool_cm(z)
  return out, (z, out)


def _pool_cm_bwd(res, g):
  z, out = res
  q = z.reshape(z.shape[0], 4, -1, z.shape[-1])
  taken = jnp.zeros(out.shape, bool)
  parts = []
  for k in range(4):  # window order (0,0) (0,1) (1,0) (1,1); the first maximum gets it all
    hit = (q[:, k] == out) & ~taken
    taken = taken | hit
    parts.append(jnp.where(hit, g, 0.0))
  return (jnp.stack(parts, 1).reshape(z.shape),)


pool_cm.defvjp(_pool_cm_fwd, _pool_cm_bwd)


# ---- whole networks on nn/models.py's params ----

def _dense_cm(params, name, h):
  """Dense on batch-minor activations (features, B) -> (units, B)."""
  return _dense_t(h, params[name]["kernel"]) + params[name]["bias"][:, None]


@jax.custom_vjp
def _dense_t(h, kernel):
  """kernel^T @ h, each GEMM in the form XLA:CPU runs fastest (kernel^T materialized)."""
  return lax.optimization_barrier(kernel.T) @ h


def _dense_t_fwd(h, kernel):
  return _dense_t(h, kernel), (h, kernel)


def _dense_t_bwd(res, g):
  h, kernel = res
  return kernel @ g, h @ g.T


_dense_t.defvjp(_dense_t_fwd, _dense_t_bwd)


def cnn_apply(params, x: jax.Array, pool: bool) -> jax.Array:
  """models.CNN(pool=pool).apply({"params": params}, x) for x (B, 784) in [0, 1] -> logits (B, k)."""
  b = x.shape[0]
  h = x.T.reshape(1, 28, 28, b)
  for name in CONV_LAYERS:
    kernel, bias = params[name]["kernel"], params[name]["bias"]
    kh, kw, _, cout = kernel.shape
    ho, wo = h.shape[1] - kh + 1, h.shape[2] - kw + 1
    z = conv_cm(h, kernel, pool)
    if pool:
      z, ho, wo = pool_cm(z), ho // 2, wo // 2
    h = jax.nn.relu(z + bias[:, None, None])  # (cout, slots, B)
    if name == CONV_LAYERS[0]:
      h = h.reshape(cout, ho, wo, b)
  # The dense layer's rows are in flax's (h, w, c) order: the ReLU pass writes (slots, c, B) directly.
  h = h.transpose(1, 0, 2).reshape(-1, b)
  a = jax.nn.relu(_dense_cm(params, HEAD_LAYERS[0], h))
  return _dense_cm(params, HEAD_LAYERS[1], a).T


@jax.custom_vjp
def _wide_dense(x, kernel):
  """x @ kernel for a wide input (B, 784) and a narrow, odd kernel (784, 25) on XLA:CPU."""
  return _wide_dense_fwd(x, kernel)[0]


def _wide_dense_fwd(x, kernel):
  n = kernel.shape[1]
  # 25 columns padded to 32 run faster in the GEMM; the zero columns are sliced off.
  return (x @ jnp.pad(kernel, ((0, 0), (0, -n % 16))))[:, :n], (x, kernel)


def _wide_dense_bwd(res, g):
  x, kernel = res
  # dW = x^T g as (g^T x)^T: the barrier keeps g^T materialized, so XLA runs a plain GEMM
  # instead of folding the transpose into a transposed-operand GEMM, ~1.6x slower here.
  dk = lax.optimization_barrier(lax.optimization_barrier(g.T) @ x).T
  return g @ kernel.T, dk


_wide_dense.defvjp(_wide_dense_fwd, _wide_dense_bwd)


def fc_apply(params, x: jax.Array) -> jax.Array:
  """models.FC().apply({"params": params}, x), with the 784-wide layer as _wide_dense."""
  first, second, last = (params[name] for name in FC_LAYERS)
  h = jax.nn.relu(_wide_dense(x, first["kernel"]) + first["bias"])
  h = jax.nn.relu(h @ second["kernel"] + second["bias"])
  return h @ last["kernel"] + last["bias"]
