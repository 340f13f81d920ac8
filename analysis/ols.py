"""Least-squares slopes with HC3 standard errors: H5 (k), H6 (n) and their joint fit.

Every fit is `sm.OLS(y, add_constant(x)).fit(cov_type="HC3", use_t=True)` with one row per run
(seeds pooled). HC3 because the spread of accuracy is not the same at every k or n; t with n - p
degrees of freedom (not the normal) because a sweep has tens of runs, not thousands. `coef` is in
raw units (fraction per category, fraction per row), i.e. the plain least-squares slope.
"""

import math
import warnings

import numpy as np
import statsmodels.api as sm
from scipy import stats

from analysis import runs as rs

KEYS = ("hypothesis", "response", "regressor", "coef", "se", "ci_low", "ci_high", "p_value", "r2", "n")


def fit(y, regressors: dict, confidence: float = 0.95) -> dict | None:
  """OLS of y on a constant and each regressor; None when the design cannot identify the slopes."""
  y = np.asarray(y, float)
  x = np.column_stack([np.asarray(v, float) for v in regressors.values()]) if regressors else np.empty((len(y), 0))
  design = sm.add_constant(x, has_constant="add")
  n, p = design.shape
  if n < p + 1 or np.linalg.matrix_rank(design) < p:
    return None  # too few runs, or a regressor that does not vary
  with warnings.catch_warnings(), np.errstate(all="ignore"):
    warnings.simplefilter("ignore")  # HC3 divides by 1 - leverage, which is 0 for a lone outlying x
    res = sm.OLS(y, design).fit(cov_type="HC3", use_t=True)
    ci = np.asarray(res.conf_int(1 - confidence))
    params, bse, pvalues = np.asarray(res.params), np.asarray(res.bse), np.asarray(res.pvalues)
    r2, cov = float(res.rsquared), np.asarray(res.cov_params()).tolist()  # NaN R² when y is constant
  terms = [{"regressor": name, "coef": float(params[i + 1]), "se": float(bse[i + 1]),
            "ci_low": float(ci[i + 1, 0]), "ci_high": float(ci[i + 1, 1]), "p_value": float(pvalues[i + 1])}
           for i, name in enumerate(regressors)]
  return {"n": int(n), "r2": r2, "df_resid": float(res.df_resid), "intercept": float(params[0]), "cov": cov,
          "terms": terms}


def rows(hypothesis: str, response: str, f: dict | None, **extra) -> list[dict]:
  """analysis.json's `ols` rows for one fit: one per regressor, plus the fit's intercept and cov."""
  if f is None:
    return []
  return [{"hypothesis": hypothesis, "response": response, **t, "r2": f["r2"], "n": f["n"],
           "intercept": f["intercept"], "df_resid": f["df_resid"], "cov": f["cov"], **extra}
          for t in f["terms"]]


def band(row: dict, xs, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Fitted line and pointwise CI of the mean at xs, from a one-regressor row (xs on its scale)."""
  xs = np.asarray(xs, float)
  cov = np.asarray(row["cov"], float)
  line = row["intercept"] + row["coef"] * xs
  se = np.sqrt(np.maximum(cov[0, 0] + 2 * cov[0, 1] * xs + cov[1, 1] * xs ** 2, 0))
  half = stats.t.ppf(0.5 + confidence / 2, row["df_resid"]) * se
  return line, line - half, line + half


def sweep_rows(runs: list[dict], hypothesis: str, regressor: str, x_of) -> list[dict]:
  """test_accuracy ~ x and test_loss ~ x over one hypothesis' runs, per model."""
  out = []
  for model in rs.models(rs.of(runs, hypothesis)):
    group = rs.of(runs, hypothesis, model)
    x = [x_of(r) for r in group]
    for response in ("test_accuracy", "test_loss"):
      y = [r[response] for r in group]
      out += rows(hypothesis, response, fit(y, {regressor: x}), model=model)
  return out


def log_loss_rows(runs: list[dict]) -> list[dict]:
  """H5's "+6.4% loss per category": log(test_loss) ~ k, reported as exp(b) - 1 with its CI."""
  out = []
  for model in rs.models(rs.of(runs, "h5")):
    group = [r for r in rs.of(runs, "h5", model) if r["test_loss"] > 0]
    f = fit([math.log(r["test_loss"]) for r in group], {"num_categories": [rs.num_categories(r) for r in group]})
    for row in rows("h5", "log(test_loss)", f, model=model):
      row.update({"relative_change": math.expm1(row["coef"]), "relative_ci_low": math.expm1(row["ci_low"]),
                  "relative_ci_high": math.expm1(row["ci_high"])})
      out.append(row)
  return out


def joint_rows(runs: list[dict]) -> list[dict]:
  """test_accuracy ~ k + n over H5 and H6 pooled, only where k and n both vary (a k x n grid)."""
  out = []
  pooled = rs.of(runs, "h5") + rs.of(runs, "h6")
  for model in rs.models(pooled):
    group = [r for r in pooled if r["model"] == model]
    k = [rs.num_categories(r) for r in group]
    n = [rs.rows(r) for r in group]
    if len(set(k)) < 2 or len(set(n)) < 2:
      continue
    f = fit([r["test_accuracy"] for r in group], {"num_categories": k, "rows_per_category": n})
    out += rows("h5+h6", "test_accuracy", f, model=model, formula="test_accuracy ~ num_categories + rows_per_category")
  return out


def all_rows(runs: list[dict]) -> list[dict]:
  """The H5 and H6 fits of analysis.json (H3's and H4's trend fits live with their tables)."""
  return (sweep_rows(runs, "h5", "num_categories", rs.num_categories) + log_loss_rows(runs)
          + sweep_rows(runs, "h6", "rows_per_category", rs.rows) + joint_rows(runs))


def find(rows_: list[dict], hypothesis: str, response: str, regressor: str, model: str | None) -> dict | None:
  for r in rows_:
    if (r["hypothesis"], r["response"], r["regressor"]) == (hypothesis, response, regressor) and \
        (model is None or r.get("model") == model):
      return r
  return None
