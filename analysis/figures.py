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

from analysis import curves, grid_tables, ols, paper, speed
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


def grid_figure(points: list[dict], model: str, path: pathlib.Path) -> str | None:
  """Fig. 10 look-alike: accuracy and loss against k, one line per n (mean over seeds), with
  Fig. 10's values as read off the plot and Fig. 11's plane at the paper's smallest line of n."""
  mine = [p for p in points if p["model"] == model]
  ks, ns = sorted({p["num_categories"] for p in mine}), sorted({p["rows_per_category"] for p in mine})
  if len(ks) < 2:
    return None
  fig = Figure(figsize=(11, 4.2))
  axes = fig.subplots(1, 2)
  colors = colormaps["viridis"](np.linspace(0, 0.9, len(ns)))
  for ax, response, scale, label in ((axes[0], "test_accuracy", 100, "test accuracy (%)"),
                                     (axes[1], "test_loss", 1, "test loss (nats)")):
    for color, n in zip(colors, ns):
      line = sorted((p["num_categories"], p[response]) for p in mine if p["rows_per_category"] == n)
      ax.plot([k for k, _ in line], [scale * v for _, v in line], "-o", ms=3, color=color, label=f"n={n:,}")
    xs = np.array([min(paper.GRID_FIGURES["k"]), max(paper.GRID_FIGURES["k"])], float)
    n = min(paper.FIG10_LINES)  # at its larger lines the paper's plane leaves [0, 1] (see REPORT.md)
    ax.plot(xs, [scale * grid_tables.paper_plane(response, k, n) for k in xs], "--", color="tab:red", lw=1,
            label=f"paper's Fig. 11 plane at n={n:,}")
    for k, (low, high) in paper.FIG10[response].items():
      ax.errorbar([k], [scale * (low + high) / 2], yerr=[[scale * (high - low) / 2]], fmt="x", color="tab:red",
                  ms=8, capsize=4, label="paper's Fig. 10, read off" if k == min(paper.FIG10[response]) else None)
    ax.set_xlabel("categories k")
    ax.set_ylabel(label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
  axes[1].legend(fontsize=6, ncol=2)
  fig.suptitle(f"Fig. 10 (ours): accuracy and loss against k, one line per n ({model}, {len(mine)} grid points)")
  return _save(fig, path)


def speed_figure(runs: list[dict], path: pathlib.Path) -> str | None:
  """Validation accuracy against cumulative wall seconds (compile excluded), one line per run."""
  timed = [r for r in rs.of_kind(runs, paper.VERSUS) if r.get("epochs")]
  if not timed:
    return None
  fig = Figure(figsize=(7, 4.5))
  ax = fig.subplots()
  colors = dict(zip(rs.models(timed), ("tab:blue", "tab:orange", "tab:green", "tab:purple")))
  for r in timed:
    t = np.cumsum([e["seconds"] for e in r["epochs"]])
    ax.plot(t, [100 * e["val_accuracy"] for e in r["epochs"]], "-", lw=1, color=colors.get(r["model"], "gray"),
            label=r["model"] if r["seed"] == min(rs.seeds(timed)) else None)
  best = [speed.best(r) for r in timed if r["model"] == paper.FC]
  if best:
    ax.axhline(100 * np.mean(best), ls="--", color="gray", lw=1, label="FC's best (mean over seeds)")
  ax.set_xscale("log")
  ax.set_xlabel("wall seconds of training (sum of epochs, log scale)")
  ax.set_ylabel("validation accuracy (%)")
  ax.grid(alpha=0.3, which="both")
  ax.legend(fontsize=8)
  ax.set_title("H2: validation accuracy against training time, every run")
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


def minority_figure(table: list[dict], row: dict | None, model: str, path: pathlib.Path) -> str | None:
  """Fig. 9 (ours): minority accuracy vs imbalance ratio (log x), one line per arm, the paper's
  Fig. 9 at its ratios, and the fit over the `none` runs."""
  tab = [t for t in table if t["model"] == model]
  if not tab:
    return None
  fig = Figure(figsize=(7, 4.8))
  ax = fig.subplots()
  for arm, color in zip(dict.fromkeys(t["augmentation"] for t in tab), ("tab:blue", "tab:orange", "tab:green", "tab:purple")):
    mine = sorted((t["imbalance_ratio"], t["minority_accuracy"]["mean"]) for t in tab if t["augmentation"] == arm)
    ax.plot([x for x, _ in mine], [100 * y for _, y in mine], "-o", ms=4, color=color, label=f"ours: {arm}")
  ratios = [t["imbalance_ratio"] for t in tab if t["augmentation"] == "none"]
  if row is not None and len(set(ratios)) >= 2:
    xs = np.linspace(math.log10(min(ratios)), math.log10(max(ratios)), 100)
    _, low, high = ols.band(row, xs)
    ax.fill_between(10 ** xs, 100 * low, 100 * high, color="tab:blue", alpha=0.12, label="OLS on log10 ratio (none), 95% CI")
  ax.plot(list(paper.H4_MINORITY_ACCURACY), [100 * v for v in paper.H4_MINORITY_ACCURACY.values()], "x--",
          ms=8, color="tab:red", label="paper's Fig. 9 (real hammer rows)")
  ax.set_xscale("log")
  ax.set_xlabel("minority : majority training rows")
  ax.set_ylabel(f"minority ({tab[0]['minority']}) test accuracy (%)")
  ax.grid(alpha=0.3, which="both")
  ax.legend(fontsize=7)
  ax.set_title(f"Fig. 9 (ours): H4 class imbalance and augmentation ({model})")
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
