"""Small random affine transforms of 28 x 28 drawings, drawn inside the compiled step.

H4's `affine` arm (training/balance.py): each marked row is rotated by up to MAX_DEGREES, shifted
by up to MAX_SHIFT pixels and scaled by up to MAX_SCALE, about the image centre, with bilinear
sampling (outside the image is background, 0). Unmarked rows pass through unchanged. The
sampling is four `take_along_axis` gathers on the flat rows: the same values as
jax.scipy.ndimage.map_coordinates(order=1), about 4x faster on XLA:CPU at batch 128.
"""

import math

import jax
import jax.numpy as jnp

SIDE = 28
MAX_DEGREES = 15.0
MAX_SHIFT = 2.0
MAX_SCALE = 0.1


def _sample(x_bd: jax.Array, source_r: jax.Array, source_c: jax.Array) -> jax.Array:
  """Bilinear samples of each row at its (B, 784) source coordinates; 0 outside the image."""
  r0, c0 = jnp.floor(source_r), jnp.floor(source_c)
  fr, fc = source_r - r0, source_c - c0
  out = jnp.zeros_like(x_bd)
  for dr, dc, weight in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc), (1, 0, fr * (1 - fc)), (1, 1, fr * fc)):
    r, c = r0 + dr, c0 + dc
    inside = (r >= 0) & (r <= SIDE - 1) & (c >= 0) & (c <= SIDE - 1)
    flat = (jnp.clip(r, 0, SIDE - 1) * SIDE + jnp.clip(c, 0, SIDE - 1)).astype(jnp.int32)
    out = out + jnp.where(inside, weight, 0.0) * jnp.take_along_axis(x_bd, flat, axis=1)
  return out


def transform(x_bd: jax.Array, angle_b: jax.Array, shift_b2: jax.Array, scale_b: jax.Array) -> jax.Array:
  """Each row rotated by its angle (radians), shifted (rows, columns) and scaled about the centre:
  every output pixel is sampled where the inverse transform puts it in the input."""
  r, c = jnp.meshgrid(jnp.arange(SIDE, dtype=jnp.float32), jnp.arange(SIDE, dtype=jnp.float32), indexing="ij")
  centre = (SIDE - 1) / 2
  dr = r.reshape(1, -1) - centre - shift_b2[:, :1]
  dc = c.reshape(1, -1) - centre - shift_b2[:, 1:]
  cos, sin, scale = jnp.cos(angle_b)[:, None], jnp.sin(angle_b)[:, None], scale_b[:, None]
  return _sample(x_bd, (cos * dr + sin * dc) / scale + centre, (cos * dc - sin * dr) / scale + centre)


def affine(x_bd: jax.Array, key: jax.Array, mask_b: jax.Array) -> jax.Array:
  """(B, 784) floats: the rows where mask_b is True transformed at random (one draw per row)."""
  b = x_bd.shape[0]
  k_angle, k_shift, k_scale = jax.random.split(key, 3)
  angle = jax.random.uniform(k_angle, (b,), minval=-1.0, maxval=1.0) * math.radians(MAX_DEGREES)
  shift = jax.random.uniform(k_shift, (b, 2), minval=-MAX_SHIFT, maxval=MAX_SHIFT)
  scale = 1.0 + jax.random.uniform(k_scale, (b,), minval=-MAX_SCALE, maxval=MAX_SCALE)
  return jnp.where(mask_b[:, None], transform(x_bd, angle, shift, scale), x_bd)
