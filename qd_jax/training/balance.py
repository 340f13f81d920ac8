"""Helping a minority class without new real drawings: the augmentation arms of an imbalanced run.

* `none`: the rows as drawn.
* `oversample`: the minority's training rows repeated up to the majority's count (done by the
  split: splits.Sizes.train_repeated, set by the imbalance design).
* `class_weight`: each row's loss weighted by the inverse frequency of its class in the training
  rows, N / (K n_c), as Keras' `class_weight` multiplies it (the batch mean of weight x loss).
* `affine`: half the minority's drawings, drawn anew at every step, rotated, shifted and scaled
  at random on the fly inside the compiled step (nn/augment.py).

`extras` gives a run's per-run inputs of the step (step.train_step); runs of the `none` arm
have none, so their programs are exactly those of a run without arms.
"""

import numpy as np

ARMS = ("none", "oversample", "class_weight", "affine")
AUGMENT_STREAM = 0x61666631  # folds a run's seed into a key that initialisation never uses


def train_counts(split) -> np.ndarray:
  """Training rows per class, in label order, as trained (repeats included)."""
  return np.array([len(c.train) for c in split.categories], np.int64)


def class_weights(split) -> np.ndarray:
  """N / (K n_c): 1 for every class when balanced; a class with no rows gets weight 0."""
  n = train_counts(split)
  with np.errstate(divide="ignore"):
    return np.where(n > 0, n.sum() / (len(n) * np.maximum(n, 1)), 0.0).astype(np.float32)


def minority(split) -> np.ndarray:
  """(K,) True for every class with fewer training rows than the largest."""
  n = train_counts(split)
  return n < n.max()


def extras(arm: str, split, seed: int) -> dict:
  """The step's per-run inputs for `arm`: {} for none and oversample."""
  if arm == "class_weight":
    return {"class_weights": class_weights(split)}
  if arm == "affine":
    import jax  # here, not above: the designs read ARMS while the flags parse
    key = jax.random.fold_in(jax.random.key(seed), AUGMENT_STREAM)
    return {"augment": minority(split), "key": np.asarray(jax.random.key_data(key))}
  return {}
