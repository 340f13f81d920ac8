"""A sweep over the number of categories k, the first k of the list, at fixed rows per category."""

from qd_jax.errors import QdError
from qd_jax.experiments import designs

FIELDS = {"k_sweep": ""}  # numbers of categories, comma-separated


def points(config, files: designs.Files, log: designs.Log) -> list[designs.Point]:
  ks = designs.ints(config.k_sweep, "k_sweep")
  if min(ks) < 2 or max(ks) > len(files):
    raise QdError(f"{config.hypothesis} sweeps k = {ks} but {len(files)} categories were given",
                          f"pass at least {max(ks)} categories, or lower --config.k_sweep")
  names, rows = list(files), designs.capped_rows(config, files, log)
  return [designs.balanced_point(config, {c: files[c] for c in names[:k]}, rows, {"num_categories": k},
                                 config.rows_per_category) for k in ks]


DESIGN = designs.Design("categories", FIELDS, points, rows_needed=lambda config: config.rows_per_category,
                        validate=lambda config: designs.ints(config.k_sweep, "k_sweep"))
