"""Softmax, log-softmax (the paper's eq. 3) and cross-entropy as pure JAX functions.

Training and evaluation call exactly these; tests/test_losses.py checks their properties.
"""

import jax
import jax.numpy as jnp


def log_softmax(logits: jax.Array, axis: int = -1) -> jax.Array:
  # Subtracting the max first keeps exp() from overflowing; the result is shift-invariant anyway.
  shifted = logits - jax.lax.stop_gradient(jnp.max(logits, axis=axis, keepdims=True))
  return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))


def softmax(logits: jax.Array, axis: int = -1) -> jax.Array:
  return jnp.exp(log_softmax(logits, axis=axis))


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Per-example -log p[label] for logits (..., C) and integer labels (...)."""
  logp = log_softmax(logits)
  return -jnp.take_along_axis(logp, labels[..., None].astype(jnp.int32), axis=-1)[..., 0]


def mean_cross_entropy(logits: jax.Array, labels: jax.Array, weights: jax.Array | None = None) -> jax.Array:
  """Mean cross-entropy; `weights` (0/1) masks padding rows out of the mean."""
  ce = cross_entropy(logits, labels)
  if weights is None:
    return jnp.mean(ce)
  return jnp.sum(ce * weights) / jnp.maximum(jnp.sum(weights), 1.0)
