"""`build(workdir)`: runs.jsonl -> analysis.json, REPORT.md and PNG figures, without retraining."""

import json
import math
import pathlib

import numpy as np

from analysis import architectures, confusion, curves, early_guess, figures, fmt, human, imbalance, markdown, ols, paper, scale, verdicts
from analysis import runs as rs
from qd_jax.experiments.configs import base
from qd_jax.records import jsonl, storage, workdir as wd

RERUN = "then rerun python -m analysis --workdir=<this folder> (nothing is trained again)"

REASONABLE_DEFAULT = base.get_config("balanced").reasonable_accuracy  # qd_jax's H1 bar; the paper names none


class AnalysisError(Exception):
  """A workdir that cannot be analysed; `python -m analysis` prints it on one line."""


def _finite(x):
  """NaN and infinities become null: analysis.json stays strict JSON."""
  if isinstance(x, np.generic):
    x = x.item()
  if isinstance(x, float):
    return x if math.isfinite(x) else None
  if isinstance(x, dict):
    return {k: _finite(v) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [_finite(v) for v in x]
  return x


def _bar(workdir: pathlib.Path) -> float:
  """H1's bar from config.json (flat, or one config per hypothesis), else qd_jax's default."""
  try:
    config = json.loads((workdir / "config.json").read_text())
  except (OSError, ValueError):
    return REASONABLE_DEFAULT
  for c in (config, config.get("h1"), config.get("h2"), *config.values()) if isinstance(config, dict) else ():
    if isinstance(c, dict) and isinstance(c.get("reasonable_accuracy"), (int, float)):
      return float(c["reasonable_accuracy"])
  return REASONABLE_DEFAULT


def analyse(runs: list[dict], bar: float = REASONABLE_DEFAULT) -> dict:
  """Every number of the report, from the runs alone (pure: no files)."""
  acc = architectures.accuracies(runs)
  h3_table, h4_table = curves.table(runs), imbalance.table(runs)
  h4_fits, h4_ranks = imbalance.trend(runs)
  a = {"paper": paper.TITLE, "scale": scale.used(runs),
       "primary_models": {h: rs.primary_model(rs.of(runs, h)) for h in rs.HYPOTHESES if rs.of(runs, h)},
       "ols": ols.all_rows(runs) + curves.gap_trend(runs) + h4_fits,
       "accuracies": acc,
       "deltas": {"h1": architectures.fc_for_h1(acc), "h2": architectures.h2_deltas(runs),
                  "h3": [{"model": t["model"], "rows_per_category": t["rows_per_category"], "gap": t["gap"]}
                         for t in h3_table],
                  "h4": [{"model": t["model"], "imbalance_ratio": t["imbalance_ratio"],
                          "minority_accuracy": t["minority_accuracy"]} for t in h4_table]},
       "h3": h3_table, "h4": h4_table, "h4_spearman": h4_ranks, "h1_bar": bar}
  a["verdicts"] = verdicts.decide(a, bar)
  a.update(early_guess.analyse(runs))
  return a


def draw(runs: list[dict], a: dict, workdir: pathlib.Path, human_summary: dict | None) -> dict:
  """{section: [(file name, caption)]} of the figures drawn into workdir."""
  pm, out = a["primary_models"], {}

  def add(section, name, caption):
    if name:
      out.setdefault(section, []).append((name, caption))

  for h, fig in (("h5", "fig10_categories"), ("h6", "fig11_rows")):
    for m in rs.models(rs.of(runs, h)):
      add(h, figures.fit_figure(runs, a["ols"], h, m, workdir / f"{fig}_{m}.png"),
          f"{h.upper()} ({m}): accuracy and loss with the OLS fit and its 95% CI band")
  for m in rs.models(rs.of(runs, "h3")):
    add("h3", figures.learning_curves(runs, m, workdir / f"fig8_learning_curves_{m}.png"),
        f"H3 ({m}): learning curves per n, mean over seeds")
  for m in rs.models(rs.of(runs, "h4")):
    row = ols.find(a["ols"], "h4", "minority_accuracy", "log10(imbalance_ratio)", m)
    add("h4", figures.minority_figure(runs, a["h4"], row, m, workdir / f"fig9_minority_{m}.png"),
        f"H4 ({m}): minority accuracy vs imbalance ratio")
  # H2's (else H1's) most accurate model, summed over its seeds
  acc = sorted((x for x in a["accuracies"] if x["hypothesis"] == ("h2" if rs.of(runs, "h2") else "h1")),
               key=lambda x: x["mean"])
  if acc:
    h, best = acc[-1]["hypothesis"], acc[-1]["model"]
    group = rs.of(runs, h, best)
    add("h2", figures.confusion_figure(confusion.summed(group), group[0]["categories"], group[0]["categories"],
                                       f"{h.upper()}: {best}, summed over {len(group)} seed(s)",
                                       workdir / f"confusion_{h}_{best}.png"),
        f"confusion matrix of the most accurate model ({best}), summed over seeds")
  ratios = [t["imbalance_ratio"] for t in a["h4"] if t["model"] == pm.get("h4")]
  if ratios:
    group = [r for r in rs.of(runs, "h4", pm["h4"]) if rs.imbalance_ratio(r) == min(ratios)]
    add("h4", figures.confusion_figure(confusion.summed(group), group[0]["categories"], group[0]["categories"],
                                       f"H4 at ratio {fmt.ratio_pct(min(ratios))}: {pm['h4']}, summed over seeds",
                                       workdir / "confusion_h4_smallest_ratio.png"),
        f"confusion matrix at the smallest ratio ({fmt.ratio_pct(min(ratios))})")
  add("h7", early_guess.figure(a, workdir / "fig_h7_early_guess.png"),
      "H7: top-1 accuracy by share of strokes drawn and of drawing time, both models")
  if human_summary:
    add("human", figures.confusion_figure(human_summary["confusion_matrix"], human_summary["labels"],
                                          human_summary["columns"], "Human answers", workdir / "confusion_human.png"),
        "human answers: confusion matrix")
  return out


def build(workdir: pathlib.Path) -> dict:
  """Writes analysis.json, REPORT.md and the figures into workdir; returns analysis.json's content."""
  workdir = pathlib.Path(workdir)
  if not workdir.is_dir():
    raise AnalysisError(f"{workdir} is not a folder; pass --workdir= a folder written by qd_jax.launch")
  if not (workdir / "runs.jsonl").is_file():
    raise AnalysisError(f"{workdir} has no runs.jsonl; pass --workdir= a folder written by qd_jax.launch")
  runs = rs.load(workdir / "runs.jsonl")
  if not runs:
    raise AnalysisError(f"{workdir / 'runs.jsonl'} holds no complete run")
  a = analyse(runs, _bar(workdir))
  a["damaged_lines"] = damaged_lines(workdir)
  answers = human.load(workdir)
  people = a["human"] = human.summary(answers, runs)
  with storage.guard(workdir, rerun=RERUN):  # a full disk: one line naming the file, not a traceback
    figs = draw(runs, a, workdir, people)
    a["figures"] = [name for section in figs.values() for name, _ in section]
    a = _finite(a)
    wd.write_atomic(workdir / "analysis.json", json.dumps(a, indent=1, allow_nan=False) + "\n")
    report = markdown.report(a, figs, human.human_section(workdir, runs, answers, people))
    wd.write_atomic(workdir / "REPORT.md", "\n".join(report) + "\n")
  return a


def damaged_lines(workdir: pathlib.Path) -> list[str]:
  """One message per damaged line of the record files (the analysis leaves those lines out)."""
  out = []
  for name in wd.RECORDS:
    for number in jsonl.scan(workdir / name).damaged:
      out.append(f"{workdir / name} line {number} is damaged (not a JSON object) and is left out; the next "
                 f"launch on this workdir moves it to {name}.damaged" + (" and trains its run again"
                                                                         if name == "runs.jsonl" else ""))
  return out
