"""The report's PNGs, drawn with matplotlib's Agg canvas (no display, no pyplot state).

Each function takes records or analysis rows, writes one file and returns its name, or None when
the data for it are absent.
"""

import math
import pathlib

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from analysis import curves, imbalance, ols, paper
from analysis import runs as rs

DPI = 110


def _save(fig: Figure, path: pathlib.Path) -> str:
  fig.tight_layout()
  try:
    fig.savefig(path, dpi=DPI)
  except OSError as e:  # a full disk: the error names the figure (report.build makes it one line)
    e.filename = e.filename or str(path)
    raise
  return path.name


def _fit_panel(ax, x, y, row, scale: float, label: str, paper_line=None, per: tuple = (1, "")) -> None:
  """Runs as dots, the OLS line with its 95% CI band, and the paper's slope through our mean."""
  ax.scatter(x, scale * np.asarray(y), s=18, alpha=0.7, color="tab:blue", label="runs")
  if row is not None:
    xs = np.linspace(min(x), max(x), 100)
    line, low, high = ols.band(row, xs)
    ax.plot(xs, scale * line, color="tab:blue", label=f"OLS fit, slope {scale * per[0] * row['coef']:+.3g}{per[1]}")
    ax.fill_between(xs, scale * low, scale * high, color="tab:blue", alpha=0.2, label="95% CI (HC3)")
    if paper_line is not None:
      ax.plot(xs, scale * paper_line(xs, np.mean(x), np.mean(y)), "--", color="tab:red",
              label="paper's slope, through our mean")
  ax.set_ylabel(label)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7)


def fit_figure(runs: list[dict], rows_: list[dict], hypothesis: str, model: str, path: pathlib.Path) -> str | None:
  """Fig. 10 (accuracy and loss vs k, H5) or Fig. 11 (vs n, H6) with fits and CI bands."""
  group = rs.of(runs, hypothesis, model)
  regressor, x_of = (("num_categories", rs.num_categories) if hypothesis == "h5" else ("rows_per_category", rs.rows))
  if len({x_of(r) for r in group}) < 2:
    return None
  x = [x_of(r) for r in group]
  if hypothesis == "h5":
    acc_line = lambda xs, xm, ym: ym + paper.H5_ACC_POINTS_PER_CATEGORY / 100 * (xs - xm)
    loss_line = lambda xs, xm, ym: ym * (1 + paper.H5_LOSS_RELATIVE_PER_CATEGORY) ** (xs - xm)
    title, xlabel, per = "Fig. 10 (ours): H5, number of categories", "categories k", (1, " per category")
  else:
    acc_line = lambda xs, xm, ym: ym + paper.H6_ACC_POINTS_PER_ROW / 100 * (xs - xm)
    loss_line = None  # the paper gives no loss slope for H6
    title, xlabel, per = "Fig. 11 (ours): H6, rows per category", "rows per category n", (1000, " per 1,000 rows")
  fig = Figure(figsize=(10, 4))
  axes = fig.subplots(1, 2)
  for ax, response, scale, label, pl in ((axes[0], "test_accuracy", 100, "test accuracy (%)", acc_line),
                                         (axes[1], "test_loss", 1, "test loss (cross-entropy)", loss_line)):
    _fit_panel(ax, x, [r[response] for r in group], ols.find(rows_, hypothesis, response, regressor, model),
               scale, label, pl, per)
    ax.set_xlabel(xlabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
  fig.suptitle(f"{title} ({model}, {len(group)} runs)")
  return _save(fig, path)


def learning_curves(runs: list[dict], model: str, path: pathlib.Path) -> str | None:
  """Fig. 8 (ours): train (solid) and validation (dashed) accuracy and loss per epoch, per n."""
  mc = curves.mean_curves(runs, model)
  if not mc:
    return None
  fig = Figure(figsize=(10, 4))
  axes = fig.subplots(1, 2)
  colors = colormaps["viridis"](np.linspace(0, 0.9, len(mc)))
  for color, (n, c) in zip(colors, mc.items()):
    for ax, what, scale in ((axes[0], "accuracy", 100), (axes[1], "loss", 1)):
      ax.plot(c["epoch"], scale * np.asarray(c[f"train_{what}"]), "-o", ms=3, color=color, label=f"n={n:,} train")
      ax.plot(c["epoch"], scale * np.asarray(c[f"val_{what}"]), "--", color=color, label=f"n={n:,} val")
  for ax, label in ((axes[0], "accuracy (%)"), (axes[1], "cross-entropy loss")):
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)
  axes[1].legend(fontsize=7, ncol=2)
  fig.suptitle(f"Fig. 8 (ours): H3 learning curves, mean over seeds ({model})")
  return _save(fig, path)


def minority_figure(runs: list[dict], table: list[dict], row: dict | None, model: str,
                    path: pathlib.Path) -> str | None:
  """Fig. 9 (ours): minority accuracy vs imbalance ratio (log x), with the paper's endpoints."""
  group = [r for r in rs.of(runs, "h4", model) if r.get("confusion_matrix")]
  tab = [t for t in table if t["model"] == model]
  if not tab:
    return None
  fig = Figure(figsize=(6.5, 4.5))
  ax = fig.subplots()
  ax.scatter([rs.imbalance_ratio(r) for r in group], [100 * imbalance.scores(r)["minority_accuracy"] for r in group],
             s=16, alpha=0.6, color="tab:blue", label="runs")
  ratios = [t["imbalance_ratio"] for t in tab]
  ax.plot(ratios, [100 * t["minority_accuracy"]["mean"] for t in tab], "-", color="tab:blue", label="mean over seeds")
  if row is not None and len(ratios) >= 2:
    xs = np.linspace(math.log10(min(ratios)), math.log10(max(ratios)), 100)
    line, low, high = ols.band(row, xs)
    ax.fill_between(10 ** xs, 100 * low, 100 * high, color="tab:blue", alpha=0.15, label="OLS on log10 ratio, 95% CI")
  ax.scatter(list(paper.H4_MINORITY_ACCURACY), [100 * v for v in paper.H4_MINORITY_ACCURACY.values()],
             marker="x", s=60, color="tab:red", label="paper (endpoints)", zorder=3)
  ax.set_xscale("log")
  ax.set_xlabel("minority : majority training rows")
  ax.set_ylabel(f"minority ({tab[0]['minority']}) test accuracy (%)")
  ax.grid(alpha=0.3, which="both")
  ax.legend(fontsize=8)
  ax.set_title(f"Fig. 9 (ours): H4 class imbalance ({model})")
  return _save(fig, path)


def confusion_figure(cm, rows: list[str], cols: list[str], title: str, path: pathlib.Path) -> str | None:
  """Counts in each cell, shaded by the share of the true class's test rows."""
  if cm is None:
    return None
  cm = np.asarray(cm, float)
  with np.errstate(invalid="ignore", divide="ignore"):
    share = np.nan_to_num(cm / cm.sum(axis=1, keepdims=True))
  size = max(4.0, 0.55 * len(cols) + 2.5)
  fig = Figure(figsize=(size, size * 0.9))
  ax = fig.subplots()
  ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
  for i in range(cm.shape[0]):
    for j in range(cm.shape[1]):
      ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=7,
              color="white" if share[i, j] > 0.5 else "black")
  ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right", fontsize=8)
  ax.set_yticks(range(len(rows)), rows, fontsize=8)
  ax.set_xlabel("predicted")
  ax.set_ylabel("true")
  ax.set_title(title, fontsize=10)
  return _save(fig, path)
