"""Class imbalance: a majority class at fixed rows against a minority at ratios of it, every
ratio scored on one fresh, balanced test set that no training row touches."""

import math

from qd_jax.data import splits
from qd_jax.errors import QdError
from qd_jax.experiments import designs

FIELDS = {
    "imbalance_ratios": "",  # minority train rows / majority train rows, comma-separated
    "majority_train_rows": 0,
    "test_rows_per_class": 0,  # the fresh, balanced test set
}


def _val_per_train(config) -> float:
  return config.val_fraction / (1 - config.val_fraction - config.test_fraction)


def rows_needed(config) -> int:
  return math.ceil(config.majority_train_rows * (1 + _val_per_train(config))) + config.test_rows_per_class


def categories(config, names: tuple) -> tuple:
  """The first two names: the majority, then the minority."""
  if len(names) < 2:
    raise QdError(f"{config.hypothesis} needs two categories (majority first, then minority)",
                          "pass --categories=fork,hammer")
  return names[:2]


def points(config, files: designs.Files, log: designs.Log) -> list[designs.Point]:
  (major, minor), available = list(files), designs.smallest(files).rows
  test = min(config.test_rows_per_class, int(available * config.test_fraction))
  v = _val_per_train(config)
  n_major = min(config.majority_train_rows, int((available - test) / (1 + v)))
  if n_major < config.majority_train_rows or test < config.test_rows_per_class:
    log(f"reduced scale: {config.hypothesis} trains {major} on {n_major:,} rows (asked "
        f"{config.majority_train_rows:,}) and tests on {test:,} per class (asked {config.test_rows_per_class:,})")
  out = []
  for ratio in designs.floats(config.imbalance_ratios, "imbalance_ratios"):
    n_minor = max(1, int(round(ratio * n_major)))
    sizes = {major: splits.Sizes(n_major, max(1, round(v * n_major)), test),
             minor: splits.Sizes(n_minor, max(1, round(v * n_minor)), test)}
    info = {"imbalance_ratio": ratio, "majority": major, "minority": minor,
            "majority_train_rows": n_major, "minority_train_rows": n_minor}
    out.append(designs.Point(info, dict(files), sizes, sizes[major].total, rows_needed(config)))
  return out


def validate(config) -> None:
  for key in ("majority_train_rows", "test_rows_per_class"):
    if config[key] <= 0:
      raise QdError(f"--config.{key}={config[key]} must be positive", f"pass --config.{key}=N with N > 0")
  designs.floats(config.imbalance_ratios, "imbalance_ratios")


DESIGN = designs.Design("imbalance", FIELDS, points, rows_needed, categories, validate)
