"""H4 (Fig. 9): two classes, the minority cut to a fraction of the majority, tested balanced.

Accuracy on a balanced test set hides little, but per-class accuracy shows what imbalance does:
the minority class is what the paper tracks (43% at 0.2% rising to 98% at 100%).
"""

import math

import numpy as np
from scipy import stats

from analysis import confusion, deltas, ols, paper
from analysis import runs as rs


def _indices(r: dict) -> tuple[int, int]:
  """Positions of the majority and minority classes in the run's label order."""
  point, cats = r.get("point") or {}, list(r.get("categories") or [])
  maj = cats.index(point["majority"]) if point.get("majority") in cats else 0
  mino = cats.index(point["minority"]) if point.get("minority") in cats else 1 - maj
  return maj, mino


def scores(r: dict) -> dict:
  """Majority and minority accuracy, balanced accuracy and macro-F1 of one run."""
  cm = np.asarray(r["confusion_matrix"], float)
  rec = confusion.recalls(cm)
  maj, mino = _indices(r)
  return {"majority_accuracy": float(rec[maj]), "minority_accuracy": float(rec[mino]),
          "balanced_accuracy": confusion.balanced_accuracy(cm), "macro_f1": confusion.macro_f1(cm)}


SCORES = ("majority_accuracy", "minority_accuracy", "balanced_accuracy", "macro_f1")


def table(runs: list[dict]) -> list[dict]:
  """One row per (model, ratio): each score as mean, sd and t-CI over seeds."""
  out = []
  for model, ratio, at in rs.points(runs, "h4", rs.imbalance_ratio, keep=lambda r: r.get("confusion_matrix")):
    per_run = [scores(r) for r in at]
    point = at[0].get("point") or {}
    row = {"model": model, "imbalance_ratio": ratio, "seeds": len(at),
           "majority": point.get("majority", at[0]["categories"][0]),
           "minority": point.get("minority", at[0]["categories"][1]),
           "majority_train_rows": point.get("majority_train_rows"),
           "minority_train_rows": point.get("minority_train_rows"),
           "test_accuracy": deltas.mean_ci([r["test_accuracy"] for r in at])}
    row.update({s: deltas.mean_ci([p[s] for p in per_run]) for s in SCORES})
    row["paper_minority_accuracy"] = _paper_at(ratio)
    out.append(row)
  return out


def _paper_at(ratio: float) -> float | None:
  for r, acc in paper.H4_MINORITY_ACCURACY.items():
    if math.isclose(r, ratio, rel_tol=1e-6):
      return acc
  return None


def trend(runs: list[dict]) -> tuple[list[dict], list[dict]]:
  """Minority accuracy ~ log10(ratio) by OLS (per model), and Spearman's rho over the runs."""
  fits, ranks = [], []
  h4 = [r for r in rs.of(runs, "h4") if r.get("confusion_matrix")]
  for model in rs.models(h4):
    group = rs.of(h4, "h4", model)
    x = [rs.imbalance_ratio(r) for r in group]
    y = [scores(r)["minority_accuracy"] for r in group]
    keep = [i for i, v in enumerate(x) if v > 0 and not math.isnan(y[i])]
    x, y = [x[i] for i in keep], [y[i] for i in keep]
    fits += ols.rows("h4", "minority_accuracy", ols.fit(y, {"log10(imbalance_ratio)": np.log10(x)}), model=model)
    if len(set(x)) >= 2 and len(set(y)) >= 2:
      rho, p = stats.spearmanr(x, y)
      ranks.append({"model": model, "spearman_rho": float(rho), "p_value": float(p), "n": len(x)})
  return fits, ranks
