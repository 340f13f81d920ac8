"""H4 (Fig. 9): two classes, the minority cut to ratios of the majority or to absolute counts, each
imbalanced point trained with every augmentation arm, all tested on one balanced set.

Accuracy on a balanced test set hides little, but per-class accuracy shows what imbalance does:
the minority class is what the paper tracks (43% at 0.2% rising to 98% at 100%). The arms ask
the paper's H4 as worded: does augmentation, with no new real drawings, raise that accuracy?
"""

import math

import numpy as np
from scipy import stats

from analysis import confusion, deltas, ols, paper
from analysis import runs as rs
from qd_jax.training import balance

SCORES = ("majority_accuracy", "minority_accuracy", "balanced_accuracy", "macro_f1")
NONE = balance.ARMS[0]


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


def _runs(runs: list[dict]) -> list[dict]:
  return [r for r in rs.of_kind(runs, paper.IMBALANCE) if r.get("confusion_matrix")]


def _order(r: dict) -> tuple:
  """Ratios before counts, each ascending, then the arms in balance.ARMS' order."""
  by, value = rs.minority_arm(r)
  arm = rs.augmentation(r)
  return (by != "ratio", value, balance.ARMS.index(arm) if arm in balance.ARMS else 99, arm)


def paper_at(by: str, value: float) -> float | None:
  """Fig. 9's minority accuracy at a ratio, or at an absolute count of minority rows."""
  for row in paper.FIG9:
    there = row["minority_rows"] / row["majority_rows"] if by == "ratio" else row["minority_rows"]
    if math.isclose(there, value, rel_tol=1e-6):
      return row["minority_accuracy"]
  return None


def table(runs: list[dict]) -> list[dict]:
  """One row per (model, minority size, arm): each score as mean, sd and t-CI over seeds."""
  out = []
  for model in rs.models(_runs(runs)):
    mine = [r for r in _runs(runs) if r["model"] == model]
    for key in sorted({_order(r) for r in mine}):
      at = [r for r in mine if _order(r) == key]
      point, (by, value) = at[0].get("point") or {}, rs.minority_arm(at[0])
      row = {"model": model, "minority_by": by, "asked": value, "augmentation": key[3],
             "imbalance_ratio": rs.imbalance_ratio(at[0]), "seeds": len(at),
             "majority": point.get("majority", at[0]["categories"][0]),
             "minority": point.get("minority", at[0]["categories"][1]),
             "majority_train_rows": point.get("majority_train_rows"),
             "minority_train_rows": point.get("minority_train_rows"),
             "test_accuracy": deltas.mean_ci([r["test_accuracy"] for r in at]),
             "paper_minority_accuracy": paper_at(by, value)}
      per_run = [scores(r) for r in at]
      row.update({s: deltas.mean_ci([p[s] for p in per_run]) for s in SCORES})
      out.append(row)
  return out


def trend(runs: list[dict]) -> tuple[list[dict], list[dict]]:
  """Minority accuracy ~ log10(ratio) by OLS over the `none` runs (per model), and Spearman's rho."""
  fits, ranks = [], []
  for h in paper.named(paper.IMBALANCE):
    mine = [r for r in _runs(runs) if r["hypothesis"] == h and rs.augmentation(r) == NONE]
    for model in rs.models(mine):
      group = [r for r in mine if r["model"] == model]
      x = [rs.imbalance_ratio(r) for r in group]
      y = [scores(r)["minority_accuracy"] for r in group]
      keep = [i for i, v in enumerate(x) if v > 0 and not math.isnan(y[i])]
      x, y = [x[i] for i in keep], [y[i] for i in keep]
      fits += ols.rows(h, "minority_accuracy", ols.fit(y, {"log10(imbalance_ratio)": np.log10(x)}), model=model)
      if len(set(x)) >= 2 and len(set(y)) >= 2:
        rho, p = stats.spearmanr(x, y)
        ranks.append({"model": model, "spearman_rho": float(rho), "p_value": float(p), "n": len(x)})
  return fits, ranks


def arm_effects(runs: list[dict]) -> list[dict]:
  """Per model and arm: arm - none at the same point and seed, averaged over the points both ran,
  seed by seed; then the mean with a t-CI over seeds, for each score."""
  out = []
  group = _runs(runs)
  for model in rs.models(group):
    base = {(rs.minority_arm(r), r["seed"]): scores(r) for r in group if r["model"] == model and rs.augmentation(r) == NONE}
    for arm in [a for a in balance.ARMS[1:] if any(rs.augmentation(r) == a for r in group)]:
      by_seed = {}
      for r in group:
        at = (rs.minority_arm(r), r["seed"])
        if r["model"] == model and rs.augmentation(r) == arm and at in base:
          s = scores(r)
          by_seed.setdefault(r["seed"], []).append({k: s[k] - base[at][k] for k in SCORES})
      if by_seed:
        row = {"model": model, "augmentation": arm, "points": max(len(v) for v in by_seed.values())}
        row.update({k: deltas.mean_ci([np.mean([d[k] for d in v]) for v in by_seed.values()]) for k in SCORES})
        out.append(row)
  return out
