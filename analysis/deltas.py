"""Paired differences between models across seeds, with Student-t confidence intervals.

Runs with the same seed share the split and the shuffling, so model A and model B are compared
seed by seed (a paired design) and the interval is over the per-seed differences.
"""

import math

import numpy as np
from scipy import stats


def mean_ci(values, confidence: float = 0.95) -> dict:
  """Mean with a t-interval; with one value the interval is undefined (NaN)."""
  v = np.asarray(values, float)
  n = len(v)
  mean = float(np.mean(v)) if n else math.nan
  if n < 2:
    return {"mean": mean, "sd": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n": n}
  sd = float(np.std(v, ddof=1))
  half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
  return {"mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half, "n": n}


def _by_seed(runs, model: str, key: str) -> dict:
  return {r["seed"]: r[key] for r in runs if r["model"] == model}


def paired_delta(runs, a: str, b: str, key: str = "test_accuracy", confidence: float = 0.95) -> dict:
  """key(a) - key(b) over the seeds both models ran, e.g. CNN2 - FC test accuracy."""
  ra, rb = _by_seed(runs, a, key), _by_seed(runs, b, key)
  seeds = sorted(set(ra) & set(rb))
  diffs = [ra[s] - rb[s] for s in seeds]
  return {"a": a, "b": b, "key": key, "seeds": seeds, "per_seed": diffs, **mean_ci(diffs, confidence)}


def ratio(runs, a: str, b: str, key: str = "train_seconds") -> dict:
  """mean key(a) / mean key(b), e.g. how many times longer FC trains than CNN2."""
  ra, rb = _by_seed(runs, a, key), _by_seed(runs, b, key)
  seeds = sorted(set(ra) & set(rb))
  if not seeds:
    return {"a": a, "b": b, "key": key, "ratio": math.nan, "per_seed": [], "seeds": []}
  return {"a": a, "b": b, "key": key, "seeds": seeds,
          "ratio": float(np.mean([ra[s] for s in seeds]) / np.mean([rb[s] for s in seeds])),
          "per_seed": [ra[s] / rb[s] for s in seeds]}


def ratio_ci(runs, a: str, b: str, key: str = "train_seconds", confidence: float = 0.95) -> dict:
  """`ratio` plus a CI: the geometric mean of per-seed ratios, t-interval on their logs.

  Times are multiplicative (a run twice as slow is 2x, not +x seconds), so the interval is
  built on log(a / b) seed by seed and mapped back; it is undefined with one seed.
  """
  out = ratio(runs, a, b, key)
  logs = [math.log(x) for x in out["per_seed"] if x > 0]
  ci = mean_ci(logs, confidence)
  out.update({"geo_mean": math.exp(ci["mean"]) if logs else math.nan,
              "ci_low": math.exp(ci["ci_low"]) if logs else math.nan,
              "ci_high": math.exp(ci["ci_high"]) if logs else math.nan})
  return out
