"""Scores computed from a confusion matrix (rows = true label, columns = predicted)."""

import numpy as np


def recalls(cm) -> np.ndarray:
  """Per-class accuracy: the diagonal over each row's total (NaN for a class with no test rows)."""
  cm = np.asarray(cm, float)
  with np.errstate(invalid="ignore", divide="ignore"):
    return np.diag(cm) / cm.sum(axis=1)


def balanced_accuracy(cm) -> float:
  """Mean per-class accuracy: what accuracy would be on a test set balanced across classes."""
  return float(np.nanmean(recalls(cm)))


def macro_f1(cm) -> float:
  """Mean over classes of 2 TP / (2 TP + FP + FN); a class never predicted nor present scores 0."""
  cm = np.asarray(cm, float)
  tp = np.diag(cm)
  denom = 2 * tp + (cm.sum(axis=0) - tp) + (cm.sum(axis=1) - tp)
  f1 = np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), 0.0)
  return float(f1.mean())


def summed(runs: list[dict]) -> np.ndarray | None:
  """The runs' confusion matrices added up (they must share the label order), or None."""
  mats = [np.asarray(r["confusion_matrix"]) for r in runs if r.get("confusion_matrix")]
  if not mats or any(m.shape != mats[0].shape for m in mats):
    return None
  return np.sum(mats, axis=0)
