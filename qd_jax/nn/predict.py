"""Class probabilities of a trained model, from its parameters alone (no optimizer state)."""

import functools

import jax
import numpy as np

from qd_jax.nn import registry


@functools.cache
def _program(model_name: str, num_classes: int):
  spec = registry.get(model_name)
  module, prepare = spec.create(num_classes), spec.input_kind.prepare
  return jax.jit(lambda params, x: jax.nn.softmax(module.apply({"params": params}, prepare(x)), -1))


def probabilities(model_name: str, num_classes: int, params, x: np.ndarray, batch: int = 500) -> np.ndarray:
  """(N, classes) float probabilities; rows go in whole batches (one compilation per shape)."""
  fn, out = _program(model_name, num_classes), []
  for i in range(0, len(x), batch):
    chunk = x[i:i + batch]
    pad = np.zeros((batch - len(chunk), *x.shape[1:]), x.dtype)
    out.append(np.asarray(fn(params, np.concatenate([chunk, pad])))[:len(chunk)])
  return np.concatenate(out) if out else np.zeros((0, num_classes), np.float32)
