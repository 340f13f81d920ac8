"""Small random affine transforms of 28 x 28 drawings, drawn inside the compiled step.

H4's `affine` arm (training/balance.py): each marked row is rotated by up to MAX_DEGREES, shifted
by up to MAX_SHIFT pixels and scaled by up to MAX_SCALE, about the image centre, with bilinear
sampling (outside the image is background, 0). Unmarked rows pass through unchanged.
"""

import math

import jax
import jax.numpy as jnp

SIDE = 28
MAX_DEGREES = 15.0
MAX_SHIFT = 2.0
MAX_SCALE = 0.1


def warp(image_hw: jax.Array, angle: jax.Array, shift_2: jax.Array, scale: jax.Array) -> jax.Array:
  """One image, each output pixel sampled where the inverse transform puts it in the input."""
  r, c = jnp.meshgrid(jnp.arange(SIDE, dtype=jnp.float32), jnp.arange(SIDE, dtype=jnp.float32), indexing="ij")
  centre = (SIDE - 1) / 2
  dr, dc = r - centre - shift_2[0], c - centre - shift_2[1]
  cos, sin = jnp.cos(angle), jnp.sin(angle)
  source = [(cos * dr + sin * dc) / scale + centre, (cos * dc - sin * dr) / scale + centre]
  return jax.scipy.ndimage.map_coordinates(image_hw, source, order=1, mode="constant", cval=0.0)


def affine(x_bd: jax.Array, key: jax.Array, mask_b: jax.Array) -> jax.Array:
  """(B, 784) floats: the rows where mask_b is True transformed at random (one draw per row)."""
  b = x_bd.shape[0]
  k_angle, k_shift, k_scale = jax.random.split(key, 3)
  angle = jax.random.uniform(k_angle, (b,), minval=-1.0, maxval=1.0) * math.radians(MAX_DEGREES)
  shift = jax.random.uniform(k_shift, (b, 2), minval=-MAX_SHIFT, maxval=MAX_SHIFT)
  scale = 1.0 + jax.random.uniform(k_scale, (b,), minval=-MAX_SCALE, maxval=MAX_SCALE)
  out = jax.vmap(warp)(x_bd.reshape(b, SIDE, SIDE), angle, shift, scale).reshape(x_bd.shape)
  return jnp.where(mask_b[:, None], out, x_bd)
