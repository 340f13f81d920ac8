"""REPORT.md's tables of the k x n grid: each hypothesis' slice, and the joint fit beside Fig. 11."""

from analysis import fmt, grid, paper

NIS = paper.NOT_IN_SOURCE
FITS = (("run", "HC3"), ("run", "nonrobust"), ("point", "HC3"), ("point", "nonrobust"))
UNITS = {"test_accuracy": "accuracy (fraction)", "test_loss": "loss (nats)"}


def paper_plane(response: str, k: float, n: float) -> float:
  """Fig. 11's fitted value of `response` at (k, n)."""
  t = paper.FIG11[response]["terms"]
  return t["const"]["coef"] + t["num_categories"]["coef"] * k + t["rows_per_category"]["coef"] * n


def _fig10(response: str, k: int) -> str:
  if k not in paper.FIG10[response]:
    return NIS
  low, high = paper.FIG10[response][k]
  show = (lambda v: f"{100 * v:g}%") if response == "test_accuracy" else (lambda v: f"{v:g}")
  return f"about {show(low)}" if low == high else f"{show(low)}-{show(high)}"


def slice_table(slices: list[dict], points: list[dict], by: str) -> list[str]:
  """One row per value of `by` (k or n): our means over the grid's other axis, beside Fig. 10 as
  read off the plot (k only) and Fig. 11's plane at that value and our mean of the other axis."""
  other = "rows_per_category" if by == "num_categories" else "num_categories"
  name = "k" if by == "num_categories" else "n"
  lines = [f"| model | {name} | grid points | runs | test accuracy | test loss (nats) | Fig. 10, accuracy / loss "
           "(read off) | Fig. 11's plane, accuracy / loss |", "|---|---:|---:|---:|---:|---:|---|---|"]
  for s in slices:
    mine = [p for p in points if p["model"] == s["model"] and p[by] == s[by]]
    mean_other = sum(p[other] for p in mine) / len(mine)
    at = {by: s[by], other: mean_other}
    plane = [paper_plane(y, at["num_categories"], at["rows_per_category"]) for y in grid.RESPONSES]
    fig10 = NIS if by != "num_categories" or s[by] not in paper.FIG10["test_accuracy"] else \
        f"{_fig10('test_accuracy', s[by])} / {_fig10('test_loss', s[by])}"
    lines.append(f"| {s['model']} | {s[by]:,} | {s['points']} | {s['runs']} | {fmt.pct(s['test_accuracy'])} "
                 f"| {s['test_loss']:.3f} | {fig10} | {fmt.pct(plane[0])} / {plane[1]:.3f} |")
  return lines


def _cell(t: dict | None) -> str:
  if t is None:
    return "no fit"
  return f"{fmt.num(t['coef'], '+.4g')} (SE {fmt.num(t['se'])}) {_ci(t)}"


def _ci(t: dict) -> str:
  return "no interval" if fmt.bad(t["ci_low"]) or fmt.bad(t["ci_high"]) else \
      f"[{t['ci_low']:+.3g}, {t['ci_high']:+.3g}]"


def _paper_cell(response: str, term: str) -> str:
  p = paper.FIG11[response]["terms"][term]
  se = f"SE {NIS}" if "se" not in p else "SE 0.000, as printed" if p["se"] == 0 else f"SE {p['se']:.3g}"
  ci = f"[{p['ci'][0]:+.3g}, {p['ci'][1]:+.3g}]" if "ci" in p else f"CI {NIS}"
  return f"{p['coef']:+.4g} ({se}) {ci}"


def joint_table(rows_: list[dict], model: str, response: str) -> list[str]:
  """Every term of one response's joint fit, four ways, beside Fig. 11's (per point, nonrobust)."""
  head = " | ".join(f"ours: per {per}, {cov}" for per, cov in FITS)
  lines = [f"{UNITS[response]}, {model}:", "", f"| term | {head} | Fig. 11 (91 points, nonrobust) |",
           "|---" * (len(FITS) + 2) + "|"]
  for term in ("const", *grid.REGRESSORS):
    cells = [_cell(grid.term(rows_, response, term, model, cov, per)) for per, cov in FITS]
    lines.append(f"| {term} | {' | '.join(cells)} | {_paper_cell(response, term)} |")
  fits = [grid.term(rows_, response, "const", model, cov, per) for per, cov in FITS]
  fig = paper.FIG11[response]
  lines.append("| R² / N | " + " | ".join(f"{fmt.num(f['r2'], '.3f')} / {f['n']}" if f else "no fit" for f in fits)
               + f" | {fig['r2']:.3f} / {fig['n']} |")
  formula = next((f["formula"] for f in fits if f), None)
  return lines + ["", f"Formula: `{formula}`; Fig. 11's: `{response} {paper.FIG11_FORMULA}` (cond. no. "
                      f"{fig['cond_no']:.3g}, {fig['cov_type']})."]


def term_table(rows_: list[dict], model: str, regressor: str) -> list[str]:
  """One regressor's coefficient in every fit, beside Fig. 11's and the text's reading of it."""
  lines = ["| response | fit | coef | SE | 95% CI | p | R² | N | Fig. 11 | the text |",
           "|---|---|---:|---:|---|---|---:|---:|---|---|"]
  for response in grid.RESPONSES:
    for per, cov in FITS:
      t = grid.term(rows_, response, regressor, model, cov, per)
      if t is None:
        continue
      lines.append(f"| {response} | per {per}, {cov} | {fmt.num(t['coef'], '+.4g')} | {fmt.num(t['se'])} "
                   f"| {_ci(t)} | {fmt.p(t['p_value'])} | {fmt.num(t['r2'], '.3f')} | {t['n']} "
                   f"| {_paper_cell(response, regressor)} | {paper.GRID_TEXT_CLAIMS[response, regressor]} |")
  return lines


def matrix(points: list[dict], model: str, response: str) -> list[str]:
  """The grid itself: mean over seeds at every (k, n)."""
  mine = [p for p in points if p["model"] == model]
  ns = sorted({p["rows_per_category"] for p in mine})
  show = (lambda v: f"{100 * v:.1f}") if response == "test_accuracy" else (lambda v: f"{v:.3f}")
  lines = [f"| k \\ n | {' | '.join(f'{n:,}' for n in ns)} |", "|---" * (len(ns) + 1) + "|"]
  for k in sorted({p["num_categories"] for p in mine}):
    at = {p["rows_per_category"]: p[response] for p in mine if p["num_categories"] == k}
    lines.append(f"| {k} | " + " | ".join(show(at[n]) if n in at else "" for n in ns) + " |")
  return lines


def plane_check() -> str:
  """Fig. 11's plane at Fig. 10's lines, beside the values read off Fig. 10: they do not agree."""
  k, ns, acc = min(paper.GRID_FIGURES["k"]), paper.FIG10_LINES, paper.FIG10["test_accuracy"]
  at = ", ".join(f"{fmt.pct(paper_plane('test_accuracy', k, n), 1)} / {paper_plane('test_loss', k, n):.3f} at "
                 f"n = {n:,}" for n in ns)
  per_row = paper.FIG11["test_accuracy"]["terms"]["rows_per_category"]["coef"]
  k_hi = max(acc)
  return (f"Fig. 11's plane at k = {k} (accuracy / loss): {at}; Fig. 10's lines read {_fig10('test_accuracy', k)} / "
          f"{_fig10('test_loss', k)} there. At {per_row:+.4g} per row, n = {min(ns):,} ... {max(ns):,} spreads the plane's "
          f"accuracy over {100 * per_row * (max(ns) - min(ns)):.0f} points at every k, where Fig. 10's lines, as read off, lie within "
          f"{100 * (acc[k_hi][1] - acc[k_hi][0]):.0f} points of each other at k = {k_hi}: the paper's fit and its figure cannot "
          f"both describe one grid of n = {min(ns):,} ... {max(ns):,}.")
