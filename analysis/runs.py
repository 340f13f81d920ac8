"""Reading runs.jsonl and picking runs apart: by hypothesis or the paper's kind of claim, by model,
by sweep point. Nothing here names a hypothesis or a model: analysis/paper.py does."""

import json
import math
import pathlib

from analysis import paper
from qd_jax.experiments.designs import grid as grid_design
from qd_jax.records import jsonl

MODEL_ORDER = paper.MODELS


def load(path: pathlib.Path) -> list[dict]:
  """Every whole line of runs.jsonl; a torn last line (a crash mid-write) is skipped.

  A run recorded twice (same hypothesis, model, seed and point) keeps its last record, so a
  rerun that appended again does not count twice in the statistics.
  """
  runs = {key(r): r for r in jsonl.read(path) if "hypothesis" in r and "model" in r}
  return list(runs.values())


def key(r: dict) -> tuple:
  if r.get("run_id"):
    return ("run_id", r["run_id"])
  return (r["hypothesis"], r["model"], r.get("seed"), json.dumps(r.get("point") or {}, sort_keys=True),
          r.get("rows_per_category"), tuple(r.get("categories") or ()))


def of(runs: list[dict], hypothesis: str, model: str | None = None) -> list[dict]:
  return [r for r in runs if r["hypothesis"] == hypothesis and (model is None or r["model"] == model)]


def of_kind(runs: list[dict], *kinds: str, model: str | None = None) -> list[dict]:
  """The runs of every hypothesis of these kinds (paper.HYPOTHESES)."""
  names = paper.named(*kinds)
  return [r for r in runs if r["hypothesis"] in names and (model is None or r["model"] == model)]


def grid(runs: list[dict], model: str | None = None) -> list[dict]:
  """The k x n grid's runs: recorded by its design, or by a hypothesis the paper fits on it (an
  older workdir's separate k and n sweeps pool into one grid)."""
  names = paper.named(*paper.GRID_KINDS)
  return [r for r in runs if (r.get("design") == grid_design.DESIGN.name or r["hypothesis"] in names)
          and (model is None or r["model"] == model)]


def serving(runs: list[dict], hypothesis: str) -> list[dict]:
  """The runs a hypothesis reads: its own, or for a grid hypothesis, the whole grid's."""
  return grid(runs) if paper.kind_of(hypothesis) in paper.GRID_KINDS else of(runs, hypothesis)


def present(runs: list[dict]) -> list[str]:
  """The paper's hypotheses with runs to read, in its order."""
  return [h.name for h in paper.HYPOTHESES if serving(runs, h.name)]


def points(group: list[dict], at, keep=lambda r: True):
  """(model, value, runs) per model and per sweep value `at(run)`, in order."""
  mine = [r for r in group if keep(r)]
  for model in models(mine):
    runs_of_model = [r for r in mine if r["model"] == model]
    for value in sorted({at(r) for r in runs_of_model}):
      yield model, value, [r for r in runs_of_model if at(r) == value]


def models(runs: list[dict]) -> list[str]:
  """The models present, in the paper's order (unknown names last, sorted)."""
  have = {r["model"] for r in runs}
  return [m for m in MODEL_ORDER if m in have] + sorted(have - set(MODEL_ORDER))


def primary_model(runs: list[dict]) -> str | None:
  """The model a hypothesis' verdict rests on: the first of paper.PRIMARY present."""
  ms = models(runs)
  return next((m for m in paper.PRIMARY if m in ms), ms[0] if ms else None)


def seeds(runs: list[dict]) -> list:
  return sorted({r.get("seed") for r in runs}, key=str)


def rows(r: dict) -> int:
  """Rows per category really drawn (after any cap), not the sweep point asked for."""
  return int(r["rows_per_category"])


def rows_asked(r: dict) -> int | None:
  """Rows per category the run asked for: its sweep point's n, else the config's."""
  asked = (r.get("point") or {}).get("rows_per_category", r.get("rows_requested"))
  return None if asked is None else int(asked)


def num_categories(r: dict) -> int:
  return int(r.get("num_categories") or len(r["categories"]))


def augmentation(r: dict) -> str:
  """The run's augmentation arm (older records have none: `none`)."""
  return (r.get("point") or {}).get("augmentation", "none")


def minority_arm(r: dict) -> tuple[str, float]:
  """How an imbalance run sized its minority: ("ratio", fraction) or ("count", rows asked)."""
  point = r.get("point") or {}
  if "minority_count" in point:
    return "count", float(point["minority_count"])
  return "ratio", imbalance_ratio(r)


def imbalance_ratio(r: dict) -> float:
  """The minority:majority training-row ratio as a fraction (0.002 = 0.2%).

  `point.imbalance_ratio` may be a fraction or a percent (0.2 means either 20% or 0.2%); the
  recorded training rows decide which, and without them a value above 1 is read as percent.
  """
  point = r.get("point") or {}
  value, maj, mino = point.get("imbalance_ratio"), point.get("majority_train_rows"), point.get("minority_train_rows")
  actual = mino / maj if maj and mino else None
  if value is None:
    return actual if actual is not None else math.nan
  value = float(value)
  if actual is not None and value > 0:
    return min((value, value / 100), key=lambda v: abs(math.log(v / actual)))
  return value / 100 if value > 1 else value
