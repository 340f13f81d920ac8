"""Reading runs.jsonl and picking runs apart: by hypothesis, by model, by sweep point."""

import json
import math
import pathlib

from qd_jax.records import jsonl

MODEL_ORDER = ("fc", "cnn1", "cnn2")
HYPOTHESES = ("h1", "h2", "h3", "h4", "h5", "h6")


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


def points(runs: list[dict], hypothesis: str, at, keep=lambda r: True):
  """(model, value, runs) per model and per sweep value `at(run)` of one hypothesis, in order."""
  mine = [r for r in of(runs, hypothesis) if keep(r)]
  for model in models(mine):
    group = of(mine, hypothesis, model)
    for value in sorted({at(r) for r in group}):
      yield model, value, [r for r in group if at(r) == value]


def models(runs: list[dict]) -> list[str]:
  """The models present, in the paper's order (unknown names last, sorted)."""
  have = {r["model"] for r in runs}
  return [m for m in MODEL_ORDER if m in have] + sorted(have - set(MODEL_ORDER))


def primary_model(runs: list[dict]) -> str | None:
  """The model a hypothesis' verdict rests on: CNN2 (the paper's sweeps use it) when present."""
  ms = models(runs)
  for m in ("cnn2", "cnn1", "fc"):
    if m in ms:
      return m
  return ms[0] if ms else None


def seeds(runs: list[dict]) -> list:
  return sorted({r.get("seed") for r in runs}, key=str)


def rows(r: dict) -> int:
  """Rows per category really drawn (after any cap), not the sweep point asked for."""
  return int(r["rows_per_category"])


def rows_asked(r: dict) -> int | None:
  """Rows per category the run asked for: its sweep point's n (H3, H6), else the config's."""
  asked = (r.get("point") or {}).get("rows_per_category", r.get("rows_requested"))
  return None if asked is None else int(asked)


def num_categories(r: dict) -> int:
  return int(r.get("num_categories") or len(r["categories"]))


def imbalance_ratio(r: dict) -> float:
  """H4's minority:majority ratio as a fraction (0.002 = 0.2%).

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
