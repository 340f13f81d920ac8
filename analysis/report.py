"""`build(workdir)`: runs.jsonl -> analysis.json, REPORT.md and PNG figures, without retraining."""

import json
import math
import pathlib

import numpy as np

from analysis import architectures, confusion, curves, early_guess, figures, fmt, grid, human, imbalance, markdown, ols, paper, scale
from analysis import runs as rs
from analysis import speed, verdicts
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
  for c in ((config, *config.values()) if isinstance(config, dict) else ()):
    if isinstance(c, dict) and isinstance(c.get("reasonable_accuracy"), (int, float)):
      return float(c["reasonable_accuracy"])
  return REASONABLE_DEFAULT


def _grid(runs: list[dict]) -> dict:
  points = grid.table(rs.grid(runs))
  return {"model": rs.primary_model(rs.grid(runs)), "points": points,
          "by_num_categories": grid.slices(points, "num_categories"),
          "by_rows_per_category": grid.slices(points, "rows_per_category")}


def analyse(runs: list[dict], bar: float = REASONABLE_DEFAULT) -> dict:
  """Every number of the report, from the runs alone (pure: no files)."""
  acc = architectures.accuracies(runs)
  fits, ranks = imbalance.trend(runs)
  tta = speed.time_to_accuracy(runs)
  a = {"paper": paper.TITLE, "sources": paper.SOURCES, "scale": scale.used(runs),
       "primary_models": {h: rs.primary_model(rs.serving(runs, h)) for h in rs.present(runs)},
       "ols": grid.fits(runs) + curves.gap_trend(runs) + fits,
       "accuracies": acc, "reasonable": architectures.reasonable_fc(acc), "versus": architectures.versus_deltas(runs),
       "time_to_accuracy": tta, "speed": speed.ratios(tta), "convergence": speed.convergence(runs),
       "overfitting": curves.table(runs), "imbalance": imbalance.table(runs), "imbalance_arms": imbalance.arm_effects(runs),
       "imbalance_spearman": ranks, "grid": _grid(runs), "reasonable_bar": bar}
  a["verdicts"] = verdicts.decide(a, bar)
  a.update(early_guess.analyse(runs))
  return a


def _confusions(runs: list[dict], a: dict, workdir: pathlib.Path, add) -> None:
  """The most accurate model of the model comparison, and the smallest imbalance ratio."""
  acc = sorted(a["accuracies"], key=lambda x: (x["hypothesis"] in paper.named(paper.VERSUS), x["mean"]))
  if acc:
    h, best = acc[-1]["hypothesis"], acc[-1]["model"]
    group = rs.of(runs, h, best)
    add(paper.VERSUS, figures.confusion_figure(confusion.summed(group), group[0]["categories"], group[0]["categories"],
                                               f"{h.upper()}: {best}, summed over {len(group)} seed(s)",
                                               workdir / f"confusion_{h}_{best}.png"),
        f"confusion matrix of the most accurate model ({best}), summed over seeds")
  none = [t for t in a["imbalance"] if t["augmentation"] == imbalance.NONE]
  if none:
    low = min(none, key=lambda t: t["imbalance_ratio"])
    group = [r for r in rs.of_kind(runs, paper.IMBALANCE, model=low["model"]) if rs.augmentation(r) == imbalance.NONE
             and math.isclose(rs.imbalance_ratio(r), low["imbalance_ratio"])]
    ratio = fmt.ratio_pct(low["imbalance_ratio"])
    add(paper.IMBALANCE, figures.confusion_figure(confusion.summed(group), group[0]["categories"],
                                                  group[0]["categories"], f"ratio {ratio}, no augmentation: "
                                                  f"{low['model']}, summed over seeds",
                                                  workdir / "confusion_imbalance_smallest_ratio.png"),
        f"confusion matrix at the smallest ratio ({ratio}), no augmentation")


def draw(runs: list[dict], a: dict, workdir: pathlib.Path, human_summary: dict | None) -> dict:
  """{section: [(file name, caption)]} of the figures drawn into workdir."""
  pm, out = a["primary_models"], {}

  def add(section, name, caption):
    if name:
      out.setdefault(section, []).append((name, caption))

  if a["grid"]["points"]:
    m = a["grid"]["model"]
    add(paper.MORE_CATEGORIES, figures.grid_figure(a["grid"]["points"], m, workdir / f"fig10_grid_{m}.png"),
        f"accuracy and loss against k, one line per n ({m}), beside Figs. 10 and 11")
  add("speed", figures.speed_figure(runs, workdir / "speed_time_to_accuracy.png"),
      "validation accuracy against wall seconds of training, every run of the model comparison")
  for m in rs.models(rs.of_kind(runs, paper.OVERFITTING)):
    add(paper.OVERFITTING, figures.learning_curves(runs, m, workdir / f"fig8_learning_curves_{m}.png"),
        f"learning curves per n ({m}), mean over seeds")
  for h in paper.named(paper.IMBALANCE):
    if pm.get(h):
      row = ols.find(a["ols"], h, "minority_accuracy", "log10(imbalance_ratio)", pm[h])
      add(paper.IMBALANCE, figures.minority_figure(a["imbalance"], row, pm[h], workdir / f"fig9_minority_{pm[h]}.png"),
          f"minority accuracy against the imbalance ratio, per arm ({pm[h]}), beside Fig. 9")
  _confusions(runs, a, workdir, add)
  add("early_guess", early_guess.figure(a, workdir / "fig_h7_early_guess.png"),
      "top-1 accuracy by share of strokes drawn and of drawing time, both models")
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
