"""Guessing while drawing: models trained on stroke files, then scored on cut drawings.

One balanced point over the categories' simplified drawings (cut to the smallest file). Each
model gets the split in its own input kind (the stroke model stroke-3 rows, CNN2 rendered
bitmaps) from the same seeded permutation, so both train and test on the same drawings. A
finished run keeps its final parameters in the workdir (records/params.py) and is scored on its
test drawings cut to each of guess_fractions of their strokes, and on the held-out raw drawings
cut to each fraction of their drawing time (experiments/guessing.py).
"""

from qd_jax.data import stroke_download, stroke_split
from qd_jax.data.stroke_file import StrokeFile
from qd_jax.errors import QdError
from qd_jax.experiments import designs

FIELDS = {
    "strokes_dir": "",  # "" = $QD_STROKES_DIR, else ~/.cache/qd_jax/quickdraw_strokes
    "strokes_url": stroke_download.BUCKET_URL,  # or a mirror with the bucket's full/ layout
    # stroke-3 rows per drawing; longer drawings keep their first max_points points, and the
    # split's record counts them (split[...]["cut_to_max_points"])
    "max_points": 200,
    "guess_fractions": "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0",
}


def files(config, names, log) -> designs.Files:
  folder = stroke_download.strokes_dir(config.strokes_dir)
  stroke_download.ensure_local(names, folder, config.rows_per_category, base_url=config.strokes_url,
                               download=config.download, log=log)
  out = {c: StrokeFile.open(c, folder) for c in names}
  log(f"strokes: {len(out)} categories from {folder}: "
      + ", ".join(f"{c} ({f.rows:,}, {len(f.raw):,} raw)" for c, f in out.items()))
  return out


def points(config, files_: designs.Files, log) -> list[designs.Point]:
  rows = designs.capped_rows(config, files_, log)
  return [designs.balanced_point(config, files_, rows, {}, config.rows_per_category)]


def split(config, point: designs.Point, seed: int, input_kind):
  return stroke_split.make_split(point.files, point.sizes, seed, input_kind.name, config.max_points)


def finish_run(config, point, member, result, workdir) -> dict:
  """The run's parameters saved, and its early-guess curves, for its runs.jsonl line."""
  from qd_jax.experiments import guessing  # these load jax and flax: the flags' schema reads
  from qd_jax.records import params  # this module, and a bad flag should not wait for them
  saved = params.save(workdir, member.tag, result.params, {
      "model": result.model, "categories": list(member.split.names), "input_kind": member.split.kind,
      "max_points": config.max_points, "test_accuracy": result.test["accuracy"], "seed": member.seed})
  fractions = designs.floats(config.guess_fractions, "guess_fractions")
  return {"params_file": saved, "early_guess": guessing.score(result, member.split, fractions, config.max_points)}


def validate(config) -> None:
  designs.floats(config.guess_fractions, "guess_fractions")
  if config.max_points < 2:
    raise QdError(f"--config.max_points={config.max_points} is too small", "pass --config.max_points=200")
  if config.input_pipeline == "tfdata":
    raise QdError("stroke files do not stream through tf.data", "pass --config.input_pipeline=auto")


DESIGN = designs.Design("early_guess", FIELDS, points, rows_needed=lambda config: config.rows_per_category,
                        validate=validate, files=files, split=split, finish_run=finish_run,
                        input_kinds=("bitmap", "strokes"))
