"""summary.md: the workdir's runs for people, with H1/H2's answers next to the paper's claims.

Rebuilt from runs.jsonl's records every time, so it never disagrees with them.
"""

import pathlib

from analysis import architectures, fmt, paper, speed, verdicts
from qd_jax.experiments import designs
from qd_jax.records import workdir as wd


def _ci(d: dict, scale: float = 100.0, unit: str = "") -> str:
  if fmt.bad(d["ci_low"]):
    return f"{scale * d['mean']:+.2f}{unit} (one seed: no interval)"
  return f"{scale * d['mean']:+.2f}{unit} [95% CI {scale * d['ci_low']:+.2f}, {scale * d['ci_high']:+.2f}]"


def _verdict(claim: dict) -> str:
  # The same rule and words as REPORT.md (analysis.verdicts), so the two files never disagree.
  return f"**{claim['verdict']}** ({claim['reason']})"


def h1_answer(runs: list[dict], reasonable: float) -> list[str]:
  fc = architectures.reasonable_fc(architectures.accuracies(runs))
  if fc is None:
    return []
  k, h = fc["num_categories"], fc["hypothesis"]
  asked = "" if paper.kind_of(h) == paper.REASONABLE else " (H1's question, on these runs)"
  return [f"## {h.upper()}: does the FC net reach reasonable accuracy?{asked}", "",
          f"- FC test accuracy: {fmt.pct(fc['mean'])} over {fc['n']} seed(s)"
          + ("" if fc["n"] < 2 else f", 95% CI [{fmt.pct(fc['ci_low'])}, {fmt.pct(fc['ci_high'])}]"),
          f"- chance on {k} classes: {fmt.pct(1 / k)}; human baseline ({paper.HUMAN_CLASSES} classes): "
          f"{fmt.pct(paper.HUMAN_NOTEBOOK)} (the authors' notebook), {fmt.pct(paper.HUMAN_REPORT)} (their report)",
          f"- bar for \"reasonable\" (ours; the paper names none): {fmt.pct(reasonable)}",
          f"- {_verdict(verdicts.reasonable(fc, reasonable, h))}", ""]


def h2_answer(runs: list[dict]) -> list[str]:
  d, ratios = architectures.versus_deltas(runs), speed.ratios(speed.time_to_accuracy(runs))
  if not d["accuracy"]:
    return []
  h = runs[0]["hypothesis"]
  lines = [f"## {h.upper()}: is the CNN ~5 points better than FC, and ~13x faster to its accuracy?", "",
           "| comparison | test accuracy delta (points) | paper | FC seconds / CNN seconds to FC's best | paper |",
           "|---|---|---|---|---|"]
  for acc in d["accuracy"]:
    t = next((t for t in ratios if t["b"] == acc["a"]), None)
    equal = " (equal parameters)" if acc["a"] == paper.CNNS[0] else f" ({paper.PARAMS[acc['a']] / paper.PARAMS[paper.FC]:.0f}x the parameters)"
    lines.append(f"| {acc['a']} - {acc['b']}{equal} | {_ci(acc)} | +{paper.H2_DELTA_POINTS:g} | "
                 f"{fmt.num(t['geo_mean']) if t else 'n/a'}x | {paper.H2_SPEEDUP:g}x |")
  # CNN2 is the equal-parameter comparison; CNN1 stands in only when CNN2 did not run
  claims = [c for c in (verdicts.versus_accuracy(d["accuracy"][0], h),
                        verdicts.versus_speed(ratios[0] if ratios else None, h)) if c]
  return lines + [""] + [f"- {c['claim']}: {_verdict(c)}" for c in claims] + [""]


def _point(r: dict) -> str:
  return ", ".join(f"{k}={v}" for k, v in sorted(r.get("point", {}).items())) or "-"


def _epochs(runs: list[dict]) -> str:
  """The epoch budgets the runs had, per model where they differ (H2's FC trains longer)."""
  budgets = {r["model"]: r.get("epoch_budget", len(r["epochs"])) for r in runs}
  if len(set(budgets.values())) == 1:
    return f"{next(iter(budgets.values()))} epochs"
  return "epochs " + ", ".join(f"{m} {n}" for m, n in sorted(budgets.items()))


def _section(config, runs: list[dict]) -> list[str]:
  r0 = runs[0]
  split = r0["split"][0]
  lines = [f"# {config.hypothesis.upper()}{' (--quick)' if config.quick else ''}", "",
           f"- categories ({r0['num_categories']}): {', '.join(r0['categories'])}",
           f"- rows per category: {r0['rows_per_category']:,} (asked {r0['rows_requested']:,}); "
           f"split train/val/test {split['train']}/{split['val']}/{split['test']} for {split['category']}",
           f"- {_epochs(runs)}, batch {config.batch_size}, Adam lr {config.learning_rate:g}, "
           f"input pipeline {r0['input_pipeline']}, {r0['devices']} device(s)", "",
           "| model | point | params | seed | test acc | test loss | train s | compile s | samples/s (last epoch) |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
  for r in sorted(runs, key=lambda r: (r["model"], _point(r), r["seed"])):
    lines.append(f"| {r['model']} | {_point(r)} | {r['param_count']:,} | {r['seed']} | "
                 f"{fmt.pct(r['test_accuracy'])} | {r['test_loss']:.4f} | {r['train_seconds']:.1f} | "
                 f"{r['compile_seconds']:.1f} | {r['epochs'][-1]['samples_per_s']:,.0f} |")
  lines.append("")
  kind = paper.kind_of(config.hypothesis)
  if kind in (paper.REASONABLE, paper.VERSUS):
    lines += h1_answer(runs, config.reasonable_accuracy)
  if kind == paper.VERSUS:
    lines += h2_answer(runs)
  if kind not in (paper.REASONABLE, paper.VERSUS):
    lines += ["The fits, intervals and the paper's numbers: `python -m analysis --workdir=<this folder>`.", ""]
  return lines


def write(workdir: pathlib.Path, configs: list, runs: list[dict]) -> None:
  """`runs`: runs.jsonl's records, as the launcher's jsonl.Follower read them."""
  lines = []
  for config in configs:
    # a design whose runs hypotheses share (the grid) shows them all under each
    shared = designs.get(config.design).shared_runs
    mine = [r for r in runs if (r.get("design") == config.design if shared else r["hypothesis"] == config.hypothesis)]
    if mine:
      lines += _section(config, mine)
  if lines:
    wd.write_atomic(workdir / "summary.md", "\n".join(lines))
