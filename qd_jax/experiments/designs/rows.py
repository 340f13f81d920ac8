"""A sweep over rows per category at fixed categories: the sizes that exist, or an even grid."""

from qd_jax.errors import QdError
from qd_jax.experiments import designs

FIELDS = {
    "rows_sweep": "",  # rows per category, comma-separated
    # At least this many sizes: where the files hold fewer of the asked ones, an even grid up to
    # the smallest file stands in.
    "min_sweep_points": 1,
}


def sizes(config, available: int, log: designs.Log) -> list[int]:
  asked = designs.ints(config.rows_sweep, "rows_sweep")
  kept = [n for n in asked if n <= available]
  if len(kept) < config.min_sweep_points:
    step = max(100 * (available // (100 * config.min_sweep_points)), 1)
    kept = sorted({step * (i + 1) for i in range(config.min_sweep_points)} | set(kept))
    kept = [n for n in kept if n <= available]
  if kept != asked:
    log(f"reduced scale: {config.hypothesis} uses rows per category {kept} (asked {asked}; "
        f"the smallest file has {available:,})")
  return kept


def points(config, files: designs.Files, log: designs.Log) -> list[designs.Point]:
  available = designs.smallest(files).rows
  return [designs.balanced_point(config, files, n, {"rows_per_category": n}, n)
          for n in sizes(config, available, log)]


def validate(config) -> None:
  designs.ints(config.rows_sweep, "rows_sweep")
  if config.min_sweep_points < 1:
    raise QdError(f"--config.min_sweep_points={config.min_sweep_points} must be positive",
                          "pass --config.min_sweep_points=1 or more")


DESIGN = designs.Design("rows", FIELDS, points, rows_needed=lambda c: max(designs.ints(c.rows_sweep, "rows_sweep")),
                        validate=validate)
