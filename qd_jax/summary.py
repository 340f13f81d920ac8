"""summary.md: the workdir's runs for people, with H1/H2's answers next to the paper's claims.

Rebuilt from runs.jsonl every time, so it never disagrees with the records.
"""

import math
import pathlib

from analysis import deltas
from qd_jax import workdir as wd

HUMAN_BASELINE = 0.87  # the paper's two team members on its ten classes
PAPER_H2_DELTA_POINTS = 5.0  # CNN minus FC at equal parameter count
PAPER_H2_SPEEDUP = 13.0  # CNN trains ~13x faster than FC


def _pct(x: float) -> str:
  return "n/a" if math.isnan(x) else f"{100 * x:.2f}%"


def _ci(d: dict, scale: float = 100.0, unit: str = "") -> str:
  if math.isnan(d["ci_low"]):
    return f"{scale * d['mean']:+.2f}{unit} (one seed: no interval)"
  return f"{scale * d['mean']:+.2f}{unit} [95% CI {scale * d['ci_low']:+.2f}, {scale * d['ci_high']:+.2f}]"


def h1_answer(runs: list[dict], reasonable: float) -> list[str]:
  acc = deltas.mean_ci([r["test_accuracy"] for r in runs if r["model"] == "fc"])
  if not acc["n"]:
    return []
  k = runs[0]["num_categories"]
  low = acc["ci_low"] if acc["n"] > 1 else acc["mean"]
  verdict = ("supported" if low >= reasonable else
             "not supported" if acc["mean"] < reasonable else "inconclusive (the CI straddles the bar)")
  return ["## H1: does the FC net reach reasonable accuracy?", "",
          f"- FC test accuracy: {_pct(acc['mean'])} over {acc['n']} seed(s)"
          + ("" if acc["n"] < 2 else f", 95% CI [{_pct(acc['ci_low'])}, {_pct(acc['ci_high'])}]"),
          f"- chance on {k} classes: {_pct(1 / k)}; human baseline (paper, 10 classes): {_pct(HUMAN_BASELINE)}",
          f"- bar for \"reasonable\" (ours; the paper names none): {_pct(reasonable)}",
          f"- **{verdict}**", ""]


def h2_answer(runs: list[dict]) -> list[str]:
  have = {r["model"] for r in runs}
  if "fc" not in have or not have & {"cnn1", "cnn2"}:
    return []
  lines = ["## H2: is the CNN ~5 points better than FC, and ~13x faster to train?", "",
           "| comparison | test accuracy delta (points) | paper | train-time ratio FC / CNN | paper |",
           "|---|---|---|---|---|"]
  verdicts = []
  for cnn in ("cnn2", "cnn1"):
    if cnn not in have:
      continue
    d = deltas.paired_delta(runs, cnn, "fc")
    t = deltas.ratio(runs, "fc", cnn)
    equal = " (equal parameters)" if cnn == "cnn2" else " (16x the parameters)"
    lines.append(f"| {cnn} - fc{equal} | {_ci(d)} | +{PAPER_H2_DELTA_POINTS:.0f} | "
                 f"{t['ratio']:.3g}x | {PAPER_H2_SPEEDUP:.0f}x |")
    if cnn == "cnn2":
      verdicts = _h2_verdicts(d, t)
  return lines + [""] + verdicts + [""]


def _h2_verdicts(d: dict, t: dict) -> list[str]:
  pts = {k: 100 * d[k] for k in ("mean", "ci_low", "ci_high")}
  if math.isnan(pts["ci_low"]):
    acc = "inconclusive: one seed gives no interval"
  elif pts["ci_low"] > 0:
    near = pts["ci_low"] <= PAPER_H2_DELTA_POINTS <= pts["ci_high"]
    acc = ("supported: CNN2 is better and the CI contains +5" if near else
           f"partly supported: CNN2 is better, by {pts['mean']:+.1f} points rather than +5")
  elif pts["ci_high"] < 0:
    acc = "not supported: CNN2 is worse than FC"
  else:
    acc = "inconclusive: the CI contains 0"
  r = t["ratio"]
  if r >= PAPER_H2_SPEEDUP / 2:
    speed = f"supported: FC takes {r:.1f}x CNN2's training time"
  elif r >= 1:
    speed = f"not supported: CNN2 trains {r:.1f}x faster than FC, not ~13x"
  else:
    speed = f"not supported: CNN2 trains {1 / r:.1f}x slower than FC"
  return [f"- accuracy, CNN2 vs FC at equal parameters: **{acc}**",
          f"- training speed: **{speed}**"]


def _point(r: dict) -> str:
  return ", ".join(f"{k}={v}" for k, v in sorted(r.get("point", {}).items())) or "-"


def _section(config, runs: list[dict]) -> list[str]:
  r0 = runs[0]
  split = r0["split"][0]
  lines = [f"# {config.hypothesis.upper()}{' (--quick)' if config.quick else ''}", "",
           f"- categories ({r0['num_categories']}): {', '.join(r0['categories'])}",
           f"- rows per category: {r0['rows_per_category']:,} (asked {r0['rows_requested']:,}); "
           f"split train/val/test {split['train']}/{split['val']}/{split['test']} for {split['category']}",
           f"- {config.epochs} epochs, batch {config.batch_size}, Adam lr {config.learning_rate:g}, "
           f"input pipeline {r0['input_pipeline']}, {r0['devices']} device(s)", "",
           "| model | point | params | seed | test acc | test loss | train s | compile s | samples/s (last epoch) |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
  for r in sorted(runs, key=lambda r: (r["model"], _point(r), r["seed"])):
    lines.append(f"| {r['model']} | {_point(r)} | {r['param_count']:,} | {r['seed']} | "
                 f"{_pct(r['test_accuracy'])} | {r['test_loss']:.4f} | {r['train_seconds']:.1f} | "
                 f"{r['compile_seconds']:.1f} | {r['epochs'][-1]['samples_per_s']:,.0f} |")
  lines.append("")
  if config.hypothesis in ("h1", "h2"):
    lines += h1_answer(runs, config.reasonable_accuracy)
  if config.hypothesis == "h2":
    lines += h2_answer(runs)
  if config.hypothesis in ("h3", "h4", "h5", "h6"):
    lines += ["The fits, intervals and the paper's numbers: `python -m analysis --workdir=<this folder>`.", ""]
  return lines


def write(workdir: pathlib.Path, configs: list) -> None:
  runs = wd.read_runs(workdir)
  lines = []
  for config in configs:
    mine = [r for r in runs if r["hypothesis"] == config.hypothesis]
    if mine:
      lines += _section(config, mine)
  if lines:
    wd.write_atomic(workdir / "summary.md", "\n".join(lines))
