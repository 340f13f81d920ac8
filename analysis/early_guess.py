"""H7, how early a model guesses: accuracy per fraction of the drawing, with Wilson 95% CIs, the
median fraction from which the top guess is right and stays right, a table and a figure.

Each run's `early_guess` (qd_jax/experiments/guessing.py) holds, per cut ("strokes": the test
drawings cut to fractions of their strokes; "time": the held-out raw drawings cut to fractions
of their drawing time), the correct and top-3-correct counts per fraction and, per drawing, the
fraction from which it stays correct. Seeds are pooled: their test drawings differ (each seed
splits anew), so the counts add up as trials; the raw-only drawings of the time cut are the
exception (held out by every seed), which the report says.
"""

import pathlib

import numpy as np
from matplotlib.figure import Figure
from statsmodels.stats.proportion import proportion_confint

from analysis import fmt

CUTS = (("strokes", "share of strokes drawn"), ("time", "share of drawing time"))


def _runs(runs: list[dict]) -> list[dict]:
  return [r for r in runs if isinstance(r.get("early_guess"), dict)]


def _wilson(k: int, n: int) -> tuple[float, float]:
  low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
  return float(low), float(high)


def rows(runs: list[dict]) -> list[dict]:
  """analysis.json's `early_guess`: {model, cut, fraction, accuracy, ci_low, ci_high, n, top3_accuracy}."""
  out = []
  for model in dict.fromkeys(r["model"] for r in _runs(runs)):
    for cut, _ in CUTS:
      curves = [r["early_guess"].get(cut) for r in _runs(runs) if r["model"] == model]
      curves = [c for c in curves if c and c["n"]]
      if not curves:
        continue
      for i, f in enumerate(curves[0]["fractions"]):
        k, n = sum(c["correct"][i] for c in curves), sum(c["n"] for c in curves)
        low, high = _wilson(k, n)
        out.append({"model": model, "cut": cut, "fraction": f, "accuracy": k / n, "ci_low": low, "ci_high": high,
                    "n": n, "top3_accuracy": sum(c["top3_correct"][i] for c in curves) / n})
  return out


def medians(runs: list[dict]) -> list[dict]:
  """Per model and cut: the median over drawings of the fraction from which the top guess stays
  right (drawings never right at the end count as later than 100%; None if that is the median)."""
  out = []
  for model in dict.fromkeys(r["model"] for r in _runs(runs)):
    for cut, _ in CUTS:
      first = [f for r in _runs(runs) if r["model"] == model and r["early_guess"].get(cut)
               for f in r["early_guess"][cut]["stays_correct_from"]]
      if not first:
        continue
      values = np.sort([np.inf if f is None else f for f in first])
      median = float(values[(len(values) - 1) // 2])  # the lower median: an observed fraction
      out.append({"model": model, "cut": cut, "median_fraction": None if np.isinf(median) else median,
                  "reached": sum(f is not None for f in first) / len(first), "n": len(first)})
  return out


def analyse(runs: list[dict]) -> dict:
  mine = _runs(runs)
  acc = {}
  for r in mine:
    acc.setdefault(r["model"], []).append(r["test_accuracy"])
  cut = [(s["max_points"], sum(s["cut_to_max_points"].values()), sum(s[p] for p in ("train", "val", "test")))
         for r in mine for s in r.get("split", []) if "cut_to_max_points" in s]
  return {"early_guess": rows(runs), "early_guess_median": medians(runs),
          "early_guess_cut": {"max_points": sorted({c[0] for c in cut}), "drawings_cut": sum(c[1] for c in cut),
                              "drawings": sum(c[2] for c in cut)},
          "early_guess_test_accuracy": {m: float(np.mean(v)) for m, v in acc.items()},
          "early_guess_seeds": len({r["seed"] for r in mine})}


def figure(a: dict, path: pathlib.Path) -> str | None:
  """Accuracy vs fraction drawn, one line per model with its 95% band, a panel per cut."""
  cuts = [(c, label) for c, label in CUTS if any(r["cut"] == c for r in a["early_guess"])]
  if not cuts:
    return None
  fig = Figure(figsize=(5 * len(cuts), 3.8))
  axes = np.atleast_1d(fig.subplots(1, len(cuts)))
  for ax, (cut, label) in zip(axes, cuts):
    for model in dict.fromkeys(r["model"] for r in a["early_guess"]):
      pts = [r for r in a["early_guess"] if r["model"] == model and r["cut"] == cut]
      if not pts:
        continue
      x = [100 * r["fraction"] for r in pts]
      ax.plot(x, [100 * r["accuracy"] for r in pts], marker="o", ms=3, label=f"{model} (n = {pts[0]['n']:,})")
      ax.fill_between(x, [100 * r["ci_low"] for r in pts], [100 * r["ci_high"] for r in pts], alpha=0.2)
    ax.set_xlabel(f"{label} (%)")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
  fig.suptitle("H7: how early can it guess? (95% Wilson bands, seeds pooled)", fontsize=10)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  return path.name


def section(a: dict, figs: dict) -> list[str]:
  """REPORT.md's H7 section (nothing when the workdir has no H7 runs)."""
  if not a.get("early_guess"):
    return []
  lines = ["## H7: how early can it guess? (the paper's future work)", "",
           "The stroke model reads the drawing's stroke-3 deltas; CNN2 reads the same drawings rendered as the "
           "official 28x28 bitmaps. *strokes*: the test drawings cut to their first share of strokes; *time*: the "
           "raw drawings (with timing) never trained or validated on, cut to the points of their first share of "
           f"drawing time. Seeds pooled ({a['early_guess_seeds']}): *drawings* counts scorings, drawings x seeds; the "
           "raw drawings missing from simplified/ are held out by every seed, so the *time* rows count them once per "
           "seed, and their 95% Wilson CIs, which treat scorings as independent, are too narrow by up to "
           "sqrt(seeds).", "",
           "| model | test accuracy (mean over seeds) | cut | drawings | median fraction at which the top guess "
           "becomes and stays right | right at 100% | top-3 at 100% |", "|---|---:|---|---:|---:|---:|---:|"]
  for m in a["early_guess_median"]:
    last = [r for r in a["early_guess"] if r["model"] == m["model"] and r["cut"] == m["cut"]][-1]
    median = "not reached" if m["median_fraction"] is None else fmt.pct(m["median_fraction"], 0)
    lines.append(f"| {m['model']} | {fmt.pct(a['early_guess_test_accuracy'][m['model']])} | {m['cut']} | {m['n']:,} "
                 f"| {median} | {fmt.pct(m['reached'], 1)} | {fmt.pct(last['top3_accuracy'], 1)} |")
  cut = a["early_guess_cut"]
  if cut["drawings"]:
    lines += ["", f"Stroke-3 rows are capped at {', '.join(map(str, cut['max_points']))} points "
              f"(`--config.max_points`): {cut['drawings_cut']:,} of {cut['drawings']:,} stroke-model drawings "
              "(train, val and test over all seeds) kept only their first points."]
  lines += ["", "Top-1 accuracy (%) by share drawn, with its 95% CI:", ""]
  keys = list(dict.fromkeys((r["model"], r["cut"]) for r in a["early_guess"]))
  fractions = sorted({r["fraction"] for r in a["early_guess"]})
  lines += ["| model | cut | " + " | ".join(fmt.pct(f, 0) for f in fractions) + " |",
            "|---|---|" + "---:|" * len(fractions)]
  for model, cut in keys:
    at = {r["fraction"]: r for r in a["early_guess"] if (r["model"], r["cut"]) == (model, cut)}
    cells = [f"{100 * at[f]['accuracy']:.1f} [{100 * at[f]['ci_low']:.1f}, {100 * at[f]['ci_high']:.1f}]"
             if f in at else "" for f in fractions]
    lines.append(f"| {model} | {cut} | " + " | ".join(cells) + " |")
  return lines + [""] + [f"![{c}]({n})  \n*{c}* (`{n}`)\n" for n, c in figs.get("early_guess", [])]
