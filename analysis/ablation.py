"""python -m analysis.ablation --root=DIR: H3's ablation (launch/h3_ablation.sh), from DIR/*/runs.jsonl.

Which of the authors' likely settings reproduces Fig. 8's overfitting? Each arm is one workdir of
the overfitting hypothesis, labelled by what its records say it ran (initialisers, batch size,
row order, train:validation split) rather than by its folder's name. An arm reproduces Fig. 8 at
n when the paper's epoch-10 gap lies in our 95% CI. Writes DIR/ABLATION.md and DIR/ablation.json.
"""

import json
import pathlib
import sys

from absl import app, flags

from analysis import curves, fmt, paper
from analysis import runs as rs

FLAGS = flags.FLAGS
flags.DEFINE_string("root", None, "the folder launch/h3_ablation.sh wrote (one workdir per arm)")
BASE = {"init": "flax", "batch_size": 128, "row_order": "random"}


def label(r: dict) -> str:
  """The settings a run changed from qd_jax's defaults, in words ("baseline" if none)."""
  out = []
  if r.get("init", BASE["init"]) != BASE["init"]:
    out.append(f"{r['init']} init")
  if r.get("batch_size", BASE["batch_size"]) != BASE["batch_size"]:
    out.append(f"batch {r['batch_size']}")
  if r.get("row_order", BASE["row_order"]) != BASE["row_order"]:
    out.append(f"{r['row_order']} rows")
  s = r["split"][0]
  if abs(s["val"] / (s["train"] + s["val"]) - 0.2) < 0.01:
    out.append("train:val 80:20")
  return ", ".join(out) or "baseline"


def rows(root: pathlib.Path) -> list[dict]:
  """One row per (arm, n): epoch-1 and last-epoch metrics, the gap with its CI, Fig. 8's cells."""
  out = []
  for workdir in sorted(p for p in root.iterdir() if (p / "runs.jsonl").is_file()):
    runs = [r for r in rs.load(workdir / "runs.jsonl") if r["hypothesis"] in paper.named(paper.OVERFITTING)]
    for t in curves.table(runs):
      at = [r for r in runs if rs.rows(r) == t["rows_per_category"] and r["model"] == t["model"]]
      out.append({**t, "arm": label(at[0]), "workdir": workdir.name,
                  "batch_size": at[0].get("batch_size"), "train_rows": at[0]["split"][0]["train"]})
  # the baseline, then one change, then more; each by its rows
  return sorted(out, key=lambda t: (t["arm"] != "baseline", t["arm"].count(",") + (t["arm"] != "baseline"),
                                    t["arm"], t["rows_per_category"]))


def verdict(row: dict) -> str:
  """"reproduces": the paper's gap lies in our CI, which lies above 0 (a gap is there); "too noisy
  to tell": the CI holds both the paper's gap and none; else "does not"."""
  if not row["paper"]:
    return paper.NOT_IN_SOURCE
  g = row["gap"]
  if fmt.bad(g["ci_low"]) or not g["ci_low"] <= row["paper"]["gap"] <= g["ci_high"]:
    return "does not"
  return "reproduces" if g["ci_low"] > 0 else "too noisy to tell"


def _conclusions(table: list[dict]) -> list[str]:
  out = []
  for n in sorted({t["rows_per_category"] for t in table if t["paper"]}):
    at = [t for t in table if t["rows_per_category"] == n]
    by = {v: [t["arm"] for t in at if verdict(t) == v] for v in ("reproduces", "too noisy to tell")}
    widest = max(at, key=lambda t: t["gap"]["mean"])
    out.append(f"- n = {n:,} (paper's gap {100 * at[0]['paper']['gap']:+.0f} points): "
               + (f"reproduced by {', '.join(by['reproduces'])}" if by["reproduces"] else "reproduced by no arm")
               + (f"; too noisy to tell for {', '.join(by['too noisy to tell'])}" if by["too noisy to tell"] else "")
               + f"; the largest gap: {widest['arm']}, {fmt.signed(widest['gap']['mean'], 1, 100)} points.")
  return out


def markdown(table: list[dict]) -> list[str]:
  lines = ["# H3 ablation: what reproduces Fig. 8's overfitting?", "",
           f"The paper's CNN2 ends epoch 10 at n = 500 with train {fmt.pct(paper.FIG8[500]['train_accuracy'][1], 0)} "
           f"against validation {fmt.pct(paper.FIG8[500]['val_accuracy'][1], 0)} accuracy: a {paper.H3_GAP_POINTS:g}-point "
           "gap. Each arm changes qd_jax's defaults toward the authors' likely settings (Keras' initialisers, fit's "
           "batch of 32, the first N rows of each file, an 80:20 split), alone and all together. An arm "
           "reproduces Fig. 8 at n when the paper's gap lies in our 95% CI (t over seeds) and that CI lies "
           "above 0; when the CI holds both, it is too noisy to tell. Accuracy in %.", "",
           "| arm | n | train rows | seeds | train acc, epoch 1 / last | paper | val acc, epoch 1 / last | paper "
           "| gap, last (points) | 95% CI | paper's gap | Fig. 8 |", "|---|---:|---:|---:|---|---|---|---|---|---|---:|---|"]
  for t in table:
    p, g = t["paper"], t["gap"]
    cell = lambda m: f"{fmt.mean_sd(t['first'][m])} / {fmt.mean_sd(t['last'][m])}"  # noqa: E731
    paper_cell = lambda m: f"{100 * p['cells'][m][0]:.0f} / {100 * p['cells'][m][1]:.0f}" if p else paper.NOT_IN_SOURCE  # noqa: E731
    paper_gap = f"{100 * p['gap']:+.0f}" if p else paper.NOT_IN_SOURCE
    lines.append(f"| {t['arm']} | {t['rows_per_category']:,} | {t['train_rows']:,} | {t['seeds']} "
                 f"| {cell('train_accuracy')} | {paper_cell('train_accuracy')} | {cell('val_accuracy')} "
                 f"| {paper_cell('val_accuracy')} | {fmt.mean_sd(g)} | {fmt.ci(g['ci_low'], g['ci_high'], scale=100)} "
                 f"| {paper_gap} | {verdict(t)} |")
  return lines + [""] + _conclusions(table) + [""]


def build(root: pathlib.Path) -> list[dict]:
  table = rows(root)
  if not table:
    raise ValueError(f"{root} holds no workdir with runs of the overfitting hypothesis")
  (root / "ablation.json").write_text(json.dumps([{**t, "verdict": verdict(t)} for t in table], indent=1, default=str))
  (root / "ABLATION.md").write_text("\n".join(markdown(table)))
  return table


def main(argv: list[str]) -> None:
  if len(argv) > 1 or not FLAGS.root:
    print("analysis: error: usage: python -m analysis.ablation --root=DIR", file=sys.stderr)
    sys.exit(2)
  try:
    build(pathlib.Path(FLAGS.root))
  except (OSError, ValueError) as e:
    print(f"analysis: error: {e}", file=sys.stderr)
    sys.exit(2)
  print(f"ablation: {pathlib.Path(FLAGS.root) / 'ABLATION.md'}")


if __name__ == "__main__":
  app.run(main)
