"""H3 (Fig. 8): learning curves per data size, and the generalisation gap they leave.

The gap is train accuracy minus validation accuracy at a run's last epoch (train accuracy as the
run recorded it over that epoch). More rows per category should leave less room to overfit, so
the paper's claim is read as: the gap shrinks as n grows.
"""

import math

import numpy as np

from analysis import deltas, ols, paper
from analysis import runs as rs

METRICS = ("train_accuracy", "val_accuracy", "train_loss", "val_loss")


def gap(r: dict) -> float:
  last = r["epochs"][-1]
  return last["train_accuracy"] - last["val_accuracy"]


def _mean_sd(values) -> dict:
  ci = deltas.mean_ci(values)
  return {"mean": ci["mean"], "sd": ci["sd"]}


def paper_cells(n: int) -> dict | None:
  """Fig. 8's cells at n (report; the slide's where it differs), with their epoch-10 gap."""
  if n not in paper.FIG8:
    return None
  cells = paper.FIG8[n]
  slide = {m: paper.FIG8_SLIDE[n, m] for m in METRICS if (n, m) in paper.FIG8_SLIDE}
  return {"cells": cells, "slide": slide, "gap": cells["train_accuracy"][1] - cells["val_accuracy"][1],
          "notes": {m: paper.FIG8_NOTES[n, m] for m in METRICS if (n, m) in paper.FIG8_NOTES}}


def table(runs: list[dict]) -> list[dict]:
  """One row per (model, n): epoch-1 and last-epoch metrics (mean, sd over seeds), the gap, and
  Fig. 8's cells at that n."""
  out = []
  for model, n, at in rs.points(rs.of_kind(runs, paper.OVERFITTING), rs.rows, keep=lambda r: r.get("epochs")):
    out.append({
        "model": model, "rows_per_category": n,
        "rows_requested": sorted({rs.rows_asked(r) or n for r in at}),
        "seeds": len(at), "last_epoch": sorted({r["epochs"][-1]["epoch"] for r in at}),
        "first": {m: _mean_sd([r["epochs"][0][m] for r in at]) for m in METRICS},
        "last": {m: _mean_sd([r["epochs"][-1][m] for r in at]) for m in METRICS},
        "gap": deltas.mean_ci([gap(r) for r in at]), "paper": paper_cells(n),
    })
  return out


def gap_trend(runs: list[dict]) -> list[dict]:
  """OLS of the gap on log10(n), per model: the slope is the change in gap per 10x more rows."""
  out = []
  for h in paper.named(paper.OVERFITTING):
    mine = [r for r in rs.of(runs, h) if r.get("epochs")]
    for model in rs.models(mine):
      group = rs.of(mine, h, model)
      f = ols.fit([gap(r) for r in group], {"log10(rows_per_category)": [math.log10(rs.rows(r)) for r in group]})
      out += ols.rows(h, "generalisation_gap", f, model=model)
  return out


def mean_curves(runs: list[dict], model: str) -> dict:
  """{n: {"epoch": [...], metric: [mean over seeds] ...}} over the epochs every seed reached."""
  group = [r for r in rs.of_kind(runs, paper.OVERFITTING, model=model) if r.get("epochs")]
  out = {}
  for n in sorted({rs.rows(r) for r in group}):
    at = [r for r in group if rs.rows(r) == n]
    length = min(len(r["epochs"]) for r in at)
    curve = {"epoch": [e["epoch"] for e in at[0]["epochs"][:length]]}
    for m in METRICS:
      curve[m] = np.mean([[e[m] for e in r["epochs"][:length]] for r in at], axis=0).tolist()
    out[n] = curve
  return out
