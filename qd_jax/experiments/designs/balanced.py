"""One point: every category at config.rows_per_category (cut to the smallest file)."""

from qd_jax.experiments import designs


def points(config, files: designs.Files, log: designs.Log) -> list[designs.Point]:
  rows = designs.capped_rows(config, files, log)
  return [designs.balanced_point(config, files, rows, {}, config.rows_per_category)]


DESIGN = designs.Design("balanced", fields={}, points=points, rows_needed=lambda config: config.rows_per_category)
