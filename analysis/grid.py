"""H5 and H6 (Figs. 10 and 11): one k x n grid, and one joint least-squares fit per response.

The paper fitted `accuracy ~ const + no_categories + rows_per_category` over 91 runs, one per
grid point, with statsmodels' nonrobust standard errors, and the same for the loss [repo:
fig11.png]. Here each response (test_accuracy, and test_loss in nats, the paper's unit) is fitted
four ways: HC3 and nonrobust standard errors, over one row per run (seeds pooled) and over one
row per grid point (the mean over seeds, as the paper had one run per point). The verdicts read
the per-run HC3 fit. An older workdir's separate k and n sweeps pool into one grid that varies
both; where only one of k and n varies, the fit has that regressor alone.
"""

import numpy as np

from analysis import ols, paper
from analysis import runs as rs

REGRESSORS = {"num_categories": rs.num_categories, "rows_per_category": rs.rows}
RESPONSES = ("test_accuracy", "test_loss")
PER = ("run", "point")


def table(group: list[dict]) -> list[dict]:
  """One row per (model, k, n): each response's mean and sd over seeds."""
  out = []
  for model in rs.models(group):
    mine = [r for r in group if r["model"] == model]
    for k, n in sorted({(rs.num_categories(r), rs.rows(r)) for r in mine}):
      at = [r for r in mine if (rs.num_categories(r), rs.rows(r)) == (k, n)]
      row = {"model": model, "num_categories": k, "rows_per_category": n, "seeds": len(at)}
      for response in RESPONSES:
        v = np.asarray([r[response] for r in at], float)
        row[response] = float(v.mean())
        row[f"{response}_sd"] = float(v.std(ddof=1)) if len(v) > 1 else float("nan")
      out.append(row)
  return out


def formula(response: str, regressors: list[str]) -> str:
  return f"{response} ~ " + " + ".join(["const", *regressors])


def fits(runs: list[dict]) -> list[dict]:
  """analysis.json's grid rows: per model, response, standard errors and rows (run or point),
  one row per term, each marked with its `formula`, `cov_type` and `per`."""
  out, name = [], paper.grid_name()
  for model in rs.models(rs.grid(runs)):
    per_run = [{**{reg: f(r) for reg, f in REGRESSORS.items()}, **{y: r[y] for y in RESPONSES}}
               for r in rs.grid(runs, model)]
    per_point = table(rs.grid(runs, model))
    for per, data in (("run", per_run), ("point", per_point)):
      varying = [reg for reg in REGRESSORS if len({row[reg] for row in data}) > 1]
      if not varying:
        continue
      for response in RESPONSES:
        for cov_type in ols.COV_TYPES:
          f = ols.fit([row[response] for row in data], {reg: [row[reg] for row in data] for reg in varying},
                      cov_type=cov_type, with_const=True)
          out += ols.rows(name, response, f, model=model, formula=formula(response, varying), per=per)
  return out


def slices(points: list[dict], by: str) -> list[dict]:
  """Means over the grid's other axis: one row per (model, value of `by`)."""
  out = []
  for model in rs.models(points):
    mine = [p for p in points if p["model"] == model]
    for value in sorted({p[by] for p in mine}):
      at = [p for p in mine if p[by] == value]
      out.append({"model": model, by: value, "points": len(at), "runs": sum(p["seeds"] for p in at),
                  **{y: float(np.mean([p[y] for p in at])) for y in RESPONSES}})
  return out


def term(rows_: list[dict], response: str, regressor: str, model: str | None, cov_type: str = "HC3",
         per: str = "run") -> dict | None:
  return ols.find(rows_, paper.grid_name(), response, regressor, model, cov_type=cov_type, per=per)
