"""Least-squares fits with HC3 or the classical ("nonrobust") standard errors.

Every fit is `sm.OLS(y, add_constant(x)).fit(cov_type=..., use_t=True)`. HC3 by default, because
the spread of accuracy is not the same at every k or n; "nonrobust" is what the paper's Fig. 11
printed, and is reported beside it. t with n - p degrees of freedom (not the normal) because a
sweep has tens of runs, not thousands. `coef` is in raw units (fraction per category, fraction
per row, nats per row): the plain least-squares solution, whichever the standard errors.
"""

import warnings

import numpy as np
import statsmodels.api as sm
from scipy import stats

KEYS = ("hypothesis", "response", "regressor", "coef", "se", "ci_low", "ci_high", "p_value", "r2", "n")
COV_TYPES = ("HC3", "nonrobust")


def fit(y, regressors: dict, confidence: float = 0.95, cov_type: str = "HC3", with_const: bool = False) -> dict | None:
  """OLS of y on a constant and each regressor; None when the design cannot identify the slopes.
  `terms` lists the regressors' coefficients (and the constant's first, with `with_const`)."""
  y = np.asarray(y, float)
  x = np.column_stack([np.asarray(v, float) for v in regressors.values()]) if regressors else np.empty((len(y), 0))
  design = sm.add_constant(x, has_constant="add")
  n, p = design.shape
  if n < p + 1 or np.linalg.matrix_rank(design) < p:
    return None  # too few runs, or a regressor that does not vary
  with warnings.catch_warnings(), np.errstate(all="ignore"):
    warnings.simplefilter("ignore")  # HC3 divides by 1 - leverage, which is 0 for a lone outlying x
    res = sm.OLS(y, design).fit(cov_type=cov_type, use_t=True)
    ci = np.asarray(res.conf_int(1 - confidence))
    params, bse, pvalues = np.asarray(res.params), np.asarray(res.bse), np.asarray(res.pvalues)
    r2, cov = float(res.rsquared), np.asarray(res.cov_params()).tolist()  # NaN R² when y is constant
  names = (["const"] if with_const else []) + list(regressors)
  first = 0 if with_const else 1
  terms = [{"regressor": name, "coef": float(params[first + i]), "se": float(bse[first + i]),
            "ci_low": float(ci[first + i, 0]), "ci_high": float(ci[first + i, 1]), "p_value": float(pvalues[first + i])}
           for i, name in enumerate(names)]
  return {"n": int(n), "r2": r2, "df_resid": float(res.df_resid), "intercept": float(params[0]), "cov": cov,
          "cov_type": cov_type, "terms": terms}


def rows(hypothesis: str, response: str, f: dict | None, **extra) -> list[dict]:
  """analysis.json's `ols` rows for one fit: one per term, plus the fit's intercept and cov."""
  if f is None:
    return []
  return [{"hypothesis": hypothesis, "response": response, **t, "r2": f["r2"], "n": f["n"],
           "intercept": f["intercept"], "df_resid": f["df_resid"], "cov": f["cov"], "cov_type": f["cov_type"],
           **extra} for t in f["terms"]]


def band(row: dict, xs, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Fitted line and pointwise CI of the mean at xs, from a one-regressor row (xs on its scale)."""
  xs = np.asarray(xs, float)
  cov = np.asarray(row["cov"], float)
  line = row["intercept"] + row["coef"] * xs
  se = np.sqrt(np.maximum(cov[0, 0] + 2 * cov[0, 1] * xs + cov[1, 1] * xs ** 2, 0))
  half = stats.t.ppf(0.5 + confidence / 2, row["df_resid"]) * se
  return line, line - half, line + half


def find(rows_: list[dict], hypothesis: str, response: str, regressor: str, model: str | None, **match) -> dict | None:
  """The first row of that fit and term; `match` narrows it further (cov_type="HC3", per="run")."""
  for r in rows_:
    if (r["hypothesis"], r["response"], r["regressor"]) == (hypothesis, response, regressor) and \
        (model is None or r.get("model") == model) and all(r.get(k) == v for k, v in match.items()):
      return r
  return None
