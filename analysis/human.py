"""The human baseline from DIR/human.jsonl: accuracy with a Wilson CI, per class, and confusions.

Each line: {"id": "<category>:<row>", "true": name, "answer": name, "ms": int, "name": str|null}.
An answer outside the true classes (a skip, a typo) counts as wrong and is tallied as "other".
`human_section` also scores each H1/H2 model on exactly the drawings the people
saw, from the workdir's test_predictions.jsonl (a drawing counts for a run only when it lies in
that run's test split, which holds for runs with the seed the human page used).
"""

import pathlib

import numpy as np
from statsmodels.stats.proportion import proportion_confint

from analysis import fmt, paper
from analysis import runs as rs
from qd_jax.experiments.configs import HUMAN_BASELINE
from qd_jax.human import LOG_NAME
from qd_jax.records import jsonl

OTHER = "other"


def _model_hypotheses() -> list[str]:
  """The hypotheses whose models people are compared with: the page's own first (its drawings)."""
  others = [h for h in paper.named(paper.REASONABLE, paper.VERSUS) if h != HUMAN_BASELINE]
  return [HUMAN_BASELINE, *others]


def load(workdir: pathlib.Path) -> list[dict]:
  """The answers with a true class."""
  return [r for r in jsonl.read(pathlib.Path(workdir) / LOG_NAME) if r.get("true") is not None]


def wilson(correct: int, n: int) -> tuple[float, float]:
  """95% Wilson interval: sensible near 0% or 100% and for small n, unlike the normal one."""
  if n == 0:
    return float("nan"), float("nan")
  low, high = proportion_confint(correct, n, alpha=0.05, method="wilson")
  return float(low), float(high)


def label_order(records: list[dict], runs: list[dict]) -> list[str]:
  """The models' label order (the page's hypothesis, else the others comparing models) for the
  classes that occur, then any others sorted."""
  seen = {r["true"] for r in records}
  model_order = next((r["categories"] for h in _model_hypotheses() for r in rs.of(runs, h)), [])
  return [c for c in model_order if c in seen] + sorted(seen - set(model_order))


def summary(records: list[dict], runs: list[dict] = ()) -> dict | None:
  """Accuracy (Wilson CI), per-class accuracy and the confusion matrix of the human answers."""
  if not records:
    return None
  labels = label_order(records, list(runs))
  cols = labels + ([OTHER] if any(r.get("answer") not in labels for r in records) else [])
  cm = np.zeros((len(labels), len(cols)), int)
  for r in records:
    cm[labels.index(r["true"]), cols.index(r["answer"] if r.get("answer") in labels else OTHER)] += 1
  correct = int(np.trace(cm[:, :len(labels)]))
  per_class = {}
  for i, c in enumerate(labels):
    n_c = int(cm[i].sum())
    per_class[c] = {"n": n_c, "correct": int(cm[i, i]), "accuracy": cm[i, i] / n_c if n_c else float("nan")}
  ms = [r["ms"] for r in records if isinstance(r.get("ms"), (int, float))]
  low, high = wilson(correct, len(records))
  return {"n": len(records), "correct": correct, "accuracy": correct / len(records), "ci_low": low, "ci_high": high,
          "raters": len({r.get("name") for r in records if r.get("name")}),
          "median_ms": float(np.median(ms)) if ms else None,
          "labels": labels, "columns": cols, "confusion_matrix": cm.tolist(), "per_class": per_class}


def load_predictions(workdir: pathlib.Path) -> dict[str, dict]:
  """run_id -> {"rows": {category: [file rows]}, "pred": {category: [labels]}}; the last line wins."""
  return {p["run_id"]: p for p in jsonl.read(pathlib.Path(workdir) / "test_predictions.jsonl") if "run_id" in p}


def models_on_human_drawings(records: list[dict], runs: list[dict], predictions: dict) -> list[dict]:
  """Per model of the model comparison: its accuracy and the people's on the drawings both classified.

  Each drawing counts once per model, however many people answered it, so the model's Wilson CI
  is over distinct drawings: it is scored by the first run that holds it in its test split, the
  page's hypothesis' runs first (H1's FC repeats H2's), and only by runs with the seed the page
  used, when the answer records it. The people's accuracy is over their answers to those drawings."""
  out = []
  for model in rs.models([r for h in _model_hypotheses() for r in rs.of(runs, h)]):
    scored = []  # (run, {category: {row: position}}, predictions)
    for run in (r for h in _model_hypotheses() for r in rs.of(runs, h, model)):
      p = predictions.get(run.get("run_id"))
      if p is not None:
        scored.append((run, {c: {row: i for i, row in enumerate(rows)} for c, rows in p["rows"].items()}, p))
    model_right = {}  # (run, drawing) -> the model's answer was right: several raters, one score
    answers = human_ok = 0
    for rec in records:
      category, _, row = rec["id"].rpartition(":")
      for run, where, p in scored:
        at = where.get(category, {}).get(int(row))
        if at is None or rec.get("seed", run["seed"]) != run["seed"]:
          continue
        model_right[run["run_id"], rec["id"]] = run["categories"][p["pred"][category][at]] == rec["true"]
        answers += 1
        human_ok += rec.get("answer") == rec["true"]
        break
    if model_right:
      n, model_ok = len(model_right), sum(model_right.values())
      low, high = wilson(model_ok, n)
      out.append({"model": model, "n": n, "model_accuracy": model_ok / n, "model_ci_low": low,
                  "model_ci_high": high, "answers": answers, "human_accuracy": human_ok / answers})
  return out


def human_section(workdir: pathlib.Path, runs: list[dict], records: list[dict], s: dict | None) -> list[str]:
  """REPORT.md lines on the human baseline from its answers (`load`) and their `summary`; [] when
  there are none."""
  if s is None:
    return []
  lines = ["## Human baseline", "",
           f"{s['n']:,} answers from {s['raters'] or 'unnamed'} rater(s), on {len(s['labels'])} classes"
           + (f"; median answer time {s['median_ms'] / 1000:.1f} s" if s["median_ms"] else "") + ".", "",
           "| | ours | the authors' notebook | their report |", "|---|---|---|---|",
           f"| human accuracy | {fmt.pct(s['accuracy'])}, 95% Wilson CI "
           f"[{fmt.pct(s['ci_low'])}, {fmt.pct(s['ci_high'])}] | {fmt.pct(paper.HUMAN_NOTEBOOK, 0)} "
           f"({paper.HUMAN_DRAWINGS} drawings, unanswered ones wrong) | {fmt.pct(paper.HUMAN_REPORT, 0)} "
           f"({paper.HUMAN_CLASSES} classes) |", "",
           "| class | answers | accuracy | 95% Wilson CI |", "|---|---:|---:|---|"]
  for c, d in s["per_class"].items():
    low, high = wilson(d["correct"], d["n"])
    lines.append(f"| {c} | {d['n']} | {fmt.pct(d['accuracy'], 1)} | [{fmt.pct(low, 1)}, {fmt.pct(high, 1)}] |")
  lines += ["", "Confusion matrix (rows: true class, columns: answer):", "",
            "| true \\ answer | " + " | ".join(s["columns"]) + " |", "|---" * (len(s["columns"]) + 1) + "|"]
  for c, row in zip(s["labels"], s["confusion_matrix"]):
    lines.append(f"| {c} | " + " | ".join(str(v) for v in row) + " |")
  same = models_on_human_drawings(records, runs, load_predictions(workdir))
  if same:
    lines += ["", "Models on exactly the drawings the people saw (each drawing scored once, by a run whose "
              "test split holds it):", "", "| model | drawings | model accuracy (95% Wilson CI) | people's answers | people, same drawings |",
              "|---|---:|---|---:|---:|"]
    for m in same:
      lines.append(f"| {m['model']} | {m['n']} | {fmt.pct(m['model_accuracy'], 1)} "
                   f"[{fmt.pct(m['model_ci_low'], 1)}, {fmt.pct(m['model_ci_high'], 1)}] | "
                   f"{m['answers']} | {fmt.pct(m['human_accuracy'], 1)} |")
  return lines + [""]
