"""Class imbalance: a majority class at fixed rows against a minority cut to ratios of it, or to
absolute counts, every point scored on one fresh, balanced test set that no training row touches.

At every imbalanced point each augmentation arm (training/balance.py) trains beside `none`: the
paper's H4 ("improved using data augmentation") tested with no new real data. A balanced point
has nothing to help, so it trains `none` only. A count that the files cap to a ratio point's
minority rows is that point, and is not trained twice.
"""

import math

from qd_jax.data import splits
from qd_jax.errors import QdError
from qd_jax.experiments import designs
from qd_jax.training import balance

FIELDS = {
    "imbalance_ratios": "",  # minority train rows / majority train rows, comma-separated
    "minority_counts": "",  # minority train rows, comma-separated (capped to the files)
    "augmentations": "none",  # arms of training/balance.ARMS, comma-separated
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


def arms(config) -> list[str]:
  chosen = [a.strip() for a in config.augmentations.split(",") if a.strip()]
  if not chosen or any(a not in balance.ARMS for a in chosen):
    raise QdError(f"--config.augmentations={config.augmentations!r} is not a list of {', '.join(balance.ARMS)}",
                  "e.g. --config.augmentations=none,oversample")
  return chosen


def _minorities(config, n_major: int, cap: int, log: designs.Log) -> list[tuple[str, float, int]]:
  """(swept field, asked value, minority train rows) for every ratio, then every new count."""
  out = [("imbalance_ratio", r, max(1, int(round(r * n_major))))
         for r in designs.floats(config.imbalance_ratios, "imbalance_ratios")]
  counts = designs.ints(config.minority_counts, "minority_counts") if config.minority_counts.strip() else []
  for count in counts:
    rows = min(count, cap)
    if rows in {m for _, _, m in out}:
      log(f"{config.hypothesis}: minority count {count:,} is {rows:,} rows here, a point already run")
    else:
      out.append(("minority_count", count, rows))
  return out


def points(config, files: designs.Files, log: designs.Log) -> list[designs.Point]:
  (major, minor), available = list(files), designs.smallest(files).rows
  test = min(config.test_rows_per_class, int(available * config.test_fraction))
  v = _val_per_train(config)
  cap = int((available - test) / (1 + v))
  n_major = min(config.majority_train_rows, cap)
  if n_major < config.majority_train_rows or test < config.test_rows_per_class:
    log(f"reduced scale: {config.hypothesis} trains {major} on {n_major:,} rows (asked "
        f"{config.majority_train_rows:,}) and tests on {test:,} per class (asked {config.test_rows_per_class:,})")
  out = []
  for field, value, n_minor in _minorities(config, n_major, cap, log):
    for arm in arms(config):
      if arm != "none" and n_minor >= n_major:
        continue  # balanced: nothing for an arm to help
      repeated = n_major if arm == "oversample" else 0
      sizes = {major: splits.Sizes(n_major, max(1, round(v * n_major)), test),
               minor: splits.Sizes(n_minor, max(1, round(v * n_minor)), test, repeated)}
      info = {field: value, "augmentation": arm, "imbalance_ratio": value if field == "imbalance_ratio" else
              n_minor / n_major, "majority": major, "minority": minor, "majority_train_rows": n_major,
              "minority_train_rows": n_minor}
      out.append(designs.Point(info, dict(files), sizes, sizes[major].total, rows_needed(config),
                               swept=(field, "augmentation"), augmentation=arm))
  return out


def validate(config) -> None:
  for key in ("majority_train_rows", "test_rows_per_class"):
    if config[key] <= 0:
      raise QdError(f"--config.{key}={config[key]} must be positive", f"pass --config.{key}=N with N > 0")
  designs.floats(config.imbalance_ratios, "imbalance_ratios")
  if config.minority_counts.strip():
    designs.ints(config.minority_counts, "minority_counts")
  arms(config)


DESIGN = designs.Design("imbalance", FIELDS, points, rows_needed, categories, validate)
