"""Each hypothesis' design as sweep points: which categories, how many rows of each, per point.

The paper's sizes are used where the files hold them; otherwise the same design is cut to what
exists, and every cut is printed and recorded (`rows_requested`, `point`).
"""

import dataclasses
import math
import pathlib
from typing import Callable

from qd_jax.data import npy, splits
from qd_jax.errors import QdError


@dataclasses.dataclass(frozen=True)
class Point:
  info: dict  # recorded as the run's "point"
  files: dict[str, pathlib.Path]  # label order
  sizes: dict[str, splits.Sizes]
  rows_per_category: int  # drawn per category before the split (H4: the majority's)
  rows_requested: int  # what the design asked for at this point, before any cut to the data


def ints(text: str, flag: str) -> list[int]:
  try:
    values = [int(v) for v in text.split(",") if v.strip()]
  except ValueError:
    values = []
  if not values or min(values) <= 0:
    raise QdError(f"--config.{flag}={text!r} is not a list of positive integers", f"e.g. --config.{flag}=3,4,5")
  return values


def floats(text: str, flag: str) -> list[float]:
  try:
    values = [float(v) for v in text.split(",") if v.strip()]
  except ValueError:
    values = []
  if not values or not all(0 < v <= 1 for v in values):
    raise QdError(f"--config.{flag}={text!r} is not a list of ratios in (0, 1]", f"e.g. --config.{flag}=0.1,1")
  return values


def categories_used(config, names: list[str]) -> list[str]:
  """The categories a hypothesis trains on, from those asked for (H4: majority, then minority)."""
  return names[:2] if config.hypothesis == "h4" else names


def rows_needed(config) -> int:
  """The most rows any one category file must hold for the paper's design (for downloads)."""
  if config.hypothesis in ("h3", "h6"):
    return max(ints(config.rows_sweep, "rows_sweep"))
  if config.hypothesis == "h4":
    return math.ceil(config.majority_train_rows * (1 + _val_per_train(config))) + config.test_rows_per_class
  return config.rows_per_category


def _val_per_train(config) -> float:
  return config.val_fraction / (1 - config.val_fraction - config.test_fraction)


def _balanced(config, files, rows: int, info: dict, asked: int) -> Point:
  sizes = splits.sizes_for(rows, config.val_fraction, config.test_fraction)
  return Point(info, dict(files), {c: sizes for c in files}, rows, asked)


def _capped(config, files, rows: int, log) -> int:
  """The balanced designs (H1, H2, H5) say when the files cap their rows per category."""
  if rows < config.rows_per_category:
    rows_in = {n: npy.read_header(p).rows for n, p in files.items()}
    smallest = min(rows_in, key=rows_in.get)
    log(f"reduced scale: {rows:,} rows per category instead of {config.rows_per_category:,} "
        f"({files[smallest]} has {rows_in[smallest]:,})")
  return rows


def _size_sweep(config, available: int, log) -> list[int]:
  """H3/H6 row counts: the configured ones that exist; H6 falls back to an even local grid."""
  asked = ints(config.rows_sweep, "rows_sweep")
  kept = [n for n in asked if n <= available]
  if len(kept) < config.min_sweep_points:
    step = max(100 * (available // (100 * config.min_sweep_points)), 1)
    kept = sorted({step * (i + 1) for i in range(config.min_sweep_points)} | set(kept))
    kept = [n for n in kept if n <= available]
  if kept != asked:
    log(f"reduced scale: {config.hypothesis} uses rows per category {kept} (asked {asked}; "
        f"the smallest file has {available:,})")
  return kept


def _imbalance(config, files, log) -> list[Point]:
  if len(files) < 2:
    raise QdError("h4 needs two categories (majority first, then minority)", "pass --categories=fork,hammer")
  pair = dict(list(files.items())[:2])
  major, minor = pair
  available = min(npy.read_header(p).rows for p in pair.values())
  test = min(config.test_rows_per_class, int(available * config.test_fraction))
  v = _val_per_train(config)
  n_major = min(config.majority_train_rows, int((available - test) / (1 + v)))
  if n_major < config.majority_train_rows or test < config.test_rows_per_class:
    log(f"reduced scale: h4 trains {major} on {n_major:,} rows (asked {config.majority_train_rows:,}) "
        f"and tests on {test:,} per class (asked {config.test_rows_per_class:,})")
  out = []
  for ratio in floats(config.imbalance_ratios, "imbalance_ratios"):
    n_minor = max(1, int(round(ratio * n_major)))
    sizes = {major: splits.Sizes(n_major, max(1, round(v * n_major)), test),
             minor: splits.Sizes(n_minor, max(1, round(v * n_minor)), test)}
    info = {"imbalance_ratio": ratio, "majority": major, "minority": minor,
            "majority_train_rows": n_major, "minority_train_rows": n_minor}
    out.append(Point(info, pair, sizes, sizes[major].total, rows_needed(config)))
  return out


def points(config, files: dict[str, pathlib.Path], rows: int, log: Callable[[str], None]) -> list[Point]:
  """`rows` is the balanced cap: config.rows_per_category, or less where the files hold less."""
  h = config.hypothesis
  if h in ("h1", "h2"):
    return [_balanced(config, files, _capped(config, files, rows, log), {}, config.rows_per_category)]
  if h in ("h3", "h6"):
    available = min(npy.read_header(p).rows for p in files.values())
    return [_balanced(config, files, n, {"rows_per_category": n}, n) for n in _size_sweep(config, available, log)]
  if h == "h5":
    ks = ints(config.k_sweep, "k_sweep")
    if min(ks) < 2 or max(ks) > len(files):
      raise QdError(f"h5 sweeps k = {ks} but {len(files)} categories were given",
                    f"pass at least {max(ks)} categories, or lower --config.k_sweep")
    names, rows = list(files), _capped(config, files, rows, log)
    return [_balanced(config, {c: files[c] for c in names[:k]}, rows, {"num_categories": k},
                      config.rows_per_category) for k in ks]
  if h == "h4":
    return _imbalance(config, files, log)
  raise QdError(f"unknown hypothesis {h!r}", "pass one of h1 … h6")
