"""Small random affine transforms of 28 x 28 drawings, drawn inside the compiled step.

H4's `affine` arm (training/balance.py): each marked row, with probability PROBABILITY, is
rotated by up to MAX_DEGREES, shifted by up to MAX_SHIFT pixels and scaled by up to MAX_SCALE
about the image centre, sampling the nearest input pixel (outside the image is background, 0).
Unmarked rows pass through unchanged.

Nearest, not bilinear: bilinear sampling blurs a drawing, and with only the minority's drawings
transformed the blur itself told the minority apart, so its sharp test drawings were called the
majority (minority accuracy 50 points below `none` when every minority drawing was transformed:
benchmarks/results/affine_every_row.txt). A transformed drawing keeps its own pixel values, and
half the minority's stay as drawn.
"""

import math

import jax
import jax.numpy as jnp

SIDE = 28
MAX_DEGREES = 15.0
MAX_SHIFT = 2.0
MAX_SCALE = 0.1
PROBABILITY = 0.5


def _sample(x_bd: jax.Array, source_r: jax.Array, source_c: jax.Array) -> jax.Array:
  """Each row's nearest pixel to its (B, 784) source coordinates; 0 outside the image. One
  `take_along_axis` gather on the flat rows (XLA:CPU runs it far faster than map_coordinates)."""
  r, c = jnp.floor(source_r + 0.5), jnp.floor(source_c + 0.5)
  inside = (r >= 0) & (r <= SIDE - 1) & (c >= 0) & (c <= SIDE - 1)
  flat = (jnp.clip(r, 0, SIDE - 1) * SIDE + jnp.clip(c, 0, SIDE - 1)).astype(jnp.int32)
  return jnp.where(inside, jnp.take_along_axis(x_bd, flat, axis=1), 0.0)


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
  """(B, 784) floats: each row where mask_b is True transformed at random with PROBABILITY."""
  b = x_bd.shape[0]
  k_angle, k_shift, k_scale, k_pick = jax.random.split(key, 4)
  picked = mask_b & jax.random.bernoulli(k_pick, PROBABILITY, (b,))
  angle = jax.random.uniform(k_angle, (b,), minval=-1.0, maxval=1.0) * math.radians(MAX_DEGREES)
  shift = jax.random.uniform(k_shift, (b, 2), minval=-MAX_SHIFT, maxval=MAX_SHIFT)
  scale = 1.0 + jax.random.uniform(k_scale, (b,), minval=-MAX_SCALE, maxval=MAX_SCALE)
  return jnp.where(picked[:, None], transform(x_bd, angle, shift, scale), x_bd)
