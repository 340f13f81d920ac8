"""A k x n grid: the first k categories at n rows each, for every k and n, fitted jointly.

The paper's H5 and H6 were one such grid and one OLS (Fig. 11: 91 runs, regressors const,
no_categories and rows_per_category); Fig. 10's lines show k = 3 ... 9 and n = 2,000 ... 14,000.
Its runs are named by the design (`shared_runs`), so H5 and H6 train each one once and each reads
all of them. Where the files hold fewer rows than the largest n, the grid's n becomes every
multiple of `reduced_n_step` from `reduced_n_min` up to the smallest file.
"""

import dataclasses

from qd_jax.errors import QdError
from qd_jax.experiments import designs

FIELDS = {
    "k_values": "3..9",  # numbers of categories; the paper's text says 3..10
    "n_values": "2000..14000/1000",  # rows per category; the paper's text says 7000..20000/1000
    "reduced_n_step": 1000,
    "reduced_n_min": 1000,
}
QUICK = {"k_values": "3,4,5", "n_values": "300,600"}


def _ks(config) -> list[int]:
  ks = designs.ints(config.k_values, "k_values")
  if min(ks) < 2:
    raise QdError(f"--config.k_values={config.k_values!r} has k < 2", "start the grid at k = 2 or more")
  return ks


def categories(config, names: tuple) -> tuple:
  """The first max(k) names: the grid never reads the others."""
  k = max(_ks(config))
  if len(names) < k:
    raise QdError(f"{config.hypothesis}'s grid goes up to k = {k} but {len(names)} categories were given",
                  f"pass at least {k} categories, or lower --config.k_values")
  return names[:k]


def n_values(config, available: int, log: designs.Log) -> list[int]:
  asked = designs.ints(config.n_values, "n_values")
  if max(asked) <= available:
    return asked
  kept = list(range(config.reduced_n_min, available + 1, config.reduced_n_step)) or [available]
  log(f"reduced scale: {config.hypothesis} uses n = {kept[0]:,} ... {kept[-1]:,} in steps of "
      f"{config.reduced_n_step:,} (asked {asked[0]:,} ... {asked[-1]:,}; the smallest file has {available:,})")
  return kept


def points(config, files: designs.Files, log: designs.Log) -> list[designs.Point]:
  names, ns = list(files), n_values(config, designs.smallest(files).rows, log)
  return [dataclasses.replace(designs.balanced_point(config, {c: files[c] for c in names[:k]}, n,
                                                     {"num_categories": k, "rows_per_category": n}, n),
                              swept=("num_categories", "rows_per_category"))
          for k in _ks(config) for n in ns]


def validate(config) -> None:
  _ks(config)
  designs.ints(config.n_values, "n_values")
  for key in ("reduced_n_step", "reduced_n_min"):
    if config[key] <= 0:
      raise QdError(f"--config.{key}={config[key]} must be positive", f"pass --config.{key}=N with N > 0")


DESIGN = designs.Design("grid", FIELDS, points, rows_needed=lambda c: max(designs.ints(c.n_values, "n_values")),
                        categories=categories, validate=validate, shared_runs=True, quick=QUICK)
