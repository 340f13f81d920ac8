"""H3 (Fig. 8): learning curves per data size, and the generalisation gap they leave.

The gap is train accuracy minus validation accuracy at a run's last epoch (train accuracy as the
run recorded it over that epoch). More rows per category should leave less room to overfit, so
the paper's claim is read as: the gap shrinks as n grows.
"""

import math

import numpy as np

from analysis import deltas, ols
from analysis import runs as rs

METRICS = ("train_accuracy", "val_accuracy", "train_loss", "val_loss")


def gap(r: dict) -> float:
  last = r["epochs"][-1]
  return last["train_accuracy"] - last["val_accuracy"]


def _mean_sd(values) -> dict:
  ci = deltas.mean_ci(values)
  return {"mean": ci["mean"], "sd": ci["sd"]}


def table(runs: list[dict]) -> list[dict]:
  """One row per (model, n): epoch-1 and last-epoch metrics (mean, sd over seeds) and the gap."""
  out = []
  for model, n, at in rs.points(runs, "h3", rs.rows, keep=lambda r: r.get("epochs")):
    out.append({
        "model": model, "rows_per_category": n,
        "rows_requested": sorted({rs.rows_asked(r) or n for r in at}),
        "seeds": len(at), "last_epoch": sorted({r["epochs"][-1]["epoch"] for r in at}),
        "first": {m: _mean_sd([r["epochs"][0][m] for r in at]) for m in METRICS},
        "last": {m: _mean_sd([r["epochs"][-1][m] for r in at]) for m in METRICS},
        "gap": deltas.mean_ci([gap(r) for r in at]),
    })
  return out


def gap_trend(runs: list[dict]) -> list[dict]:
  """OLS of the gap on log10(n), per model: the slope is the change in gap per 10x more rows."""
  out = []
  h3 = [r for r in rs.of(runs, "h3") if r.get("epochs")]
  for model in rs.models(h3):
    group = rs.of(h3, "h3", model)
    f = ols.fit([gap(r) for r in group], {"log10(rows_per_category)": [math.log10(rs.rows(r)) for r in group]})
    out += ols.rows("h3", "generalisation_gap", f, model=model)
  return out


def mean_curves(runs: list[dict], model: str) -> dict:
  """{n: {"epoch": [...], metric: [mean over seeds] ...}} over the epochs every seed reached."""
  group = [r for r in rs.of(runs, "h3", model) if r.get("epochs")]
  out = {}
  for n in sorted({rs.rows(r) for r in group}):
    at = [r for r in group if rs.rows(r) == n]
    length = min(len(r["epochs"]) for r in at)
    curve = {"epoch": [e["epoch"] for e in at[0]["epochs"][:length]]}
    for m in METRICS:
      curve[m] = np.mean([[e[m] for e in r["epochs"][:length]] for r in at], axis=0).tolist()
    out[n] = curve
  return out
