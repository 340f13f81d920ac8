"""summary.md: the workdir's runs for people, with H1/H2's answers next to the paper's claims.

Rebuilt from runs.jsonl every time, so it never disagrees with the records.
"""

import pathlib

from analysis import architectures, fmt, paper, verdicts
from qd_jax.records import workdir as wd


def _ci(d: dict, scale: float = 100.0, unit: str = "") -> str:
  if fmt.bad(d["ci_low"]):
    return f"{scale * d['mean']:+.2f}{unit} (one seed: no interval)"
  return f"{scale * d['mean']:+.2f}{unit} [95% CI {scale * d['ci_low']:+.2f}, {scale * d['ci_high']:+.2f}]"


def _verdict(claim: dict) -> str:
  # The same rule and words as REPORT.md (analysis.verdicts), so the two files never disagree.
  return f"**{claim['verdict']}** ({claim['reason']})"


def h1_answer(runs: list[dict], reasonable: float) -> list[str]:
  fc = architectures.fc_for_h1(architectures.accuracies(runs))
  if fc is None:
    return []
  k = fc["num_categories"]
  return ["## H1: does the FC net reach reasonable accuracy?", "",
          f"- FC test accuracy: {fmt.pct(fc['mean'])} over {fc['n']} seed(s)"
          + ("" if fc["n"] < 2 else f", 95% CI [{fmt.pct(fc['ci_low'])}, {fmt.pct(fc['ci_high'])}]"),
          f"- chance on {k} classes: {fmt.pct(1 / k)}; human baseline (paper, {paper.HUMAN_CLASSES} classes): "
          f"{fmt.pct(paper.HUMAN_ACCURACY)}",
          f"- bar for \"reasonable\" (ours; the paper names none): {fmt.pct(reasonable)}",
          f"- {_verdict(verdicts.h1(fc, reasonable))}", ""]


def h2_answer(runs: list[dict]) -> list[str]:
  d = architectures.h2_deltas(runs)
  if not d["accuracy"]:
    return []
  lines = ["## H2: is the CNN ~5 points better than FC, and ~13x faster to train?", "",
           "| comparison | test accuracy delta (points) | paper | train-time ratio FC / CNN | paper |",
           "|---|---|---|---|---|"]
  for acc, t in zip(d["accuracy"], d["train_time_ratio"]):
    equal = " (equal parameters)" if acc["a"] == "cnn2" else " (16x the parameters)"
    lines.append(f"| {acc['a']} - fc{equal} | {_ci(acc)} | +{paper.H2_DELTA_POINTS:g} | "
                 f"{t['ratio']:.3g}x | {paper.H2_SPEEDUP:g}x |")
  # CNN2 is the equal-parameter comparison; CNN1 stands in only when CNN2 did not run
  acc, t = d["accuracy"][0], d["train_time_ratio"][0]
  claims = [c for c in (verdicts.h2_accuracy(acc), verdicts.h2_speed(t)) if c]
  return lines + [""] + [f"- {c['claim']}: {_verdict(c)}" for c in claims] + [""]


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
                 f"{fmt.pct(r['test_accuracy'])} | {r['test_loss']:.4f} | {r['train_seconds']:.1f} | "
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
