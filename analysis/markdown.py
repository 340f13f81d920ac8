"""REPORT.md's text: the scale up front, then each hypothesis' tables, verdicts and figures."""

from analysis import early_guess, fmt, grid, grid_tables, paper, sweep_tables, tables, verdicts

RULE = ("Rule: a claim is **supported** when our 95% CI lies wholly on the paper's side of no effect, "
        "**not supported** when it lies wholly on the other side, **inconclusive** when it contains no "
        "effect or cannot be formed (one seed, too few runs). Whether the paper's number lies in our CI is "
        "said beside it; it does not change the verdict.")


def _figs(figs: dict, section: str) -> list[str]:
  return [f"![{caption}]({name})  \n*{caption}* (`{name}`)\n" for name, caption in figs.get(section, [])]


def _mark(claims: list[dict], *hs: str) -> list[str]:
  out = []
  for c in claims:
    if c["hypothesis"] in hs:
      out.append(f"- {c['claim']}: **{c['verdict']}** ({c['reason']}). Paper: {c['paper']}; ours: {c['ours']}.")
  if not out:
    out.append(f"- **{verdicts.INCONCLUSIVE}**: too little data to fit or compare (see the tables).")
  return out + [""]


def _title(text: str, *kinds: str) -> str:
  return f"## {' / '.join(h.upper() for h in paper.named(*kinds))}: {text}"


def header(a: dict) -> list[str]:
  lines = ["# Quick, Draw! reproduction: report", "",
           f"Regenerated from `runs.jsonl` by `python -m analysis --workdir=DIR`, without retraining. "
           f"Paper: *{paper.TITLE}*. Its numbers, and those its authors' repository settles, are in "
           f"`analysis/paper.py` with their sources; \"{paper.NOT_IN_SOURCE}\" marks a number neither holds.", "",
           "## Scale", ""]
  for h, s in a["scale"].items():
    if s["kind"] == paper.IMBALANCE:
      size = (f"majority trained on {fmt.ints(s['majority_train_rows']) or 'n/a'} rows, minority at "
              f"{', '.join(fmt.ratio_pct(r) for r in s['imbalance_ratio'])} of it; arms {', '.join(s['augmentations'])}")
    else:
      size = f"rows per category {fmt.ints(s['rows_per_category'])} (asked {fmt.ints(s['rows_asked']) or 'n/a'})"
    lines.append(f"- {h}: {len(s['categories'])} categories ({', '.join(s['categories'])}); {size}; "
                 f"{s['seeds']} seed(s); {fmt.scale_tag(s)}.")
  return lines + [""]


def models(a: dict, figs: dict) -> list[str]:
  if not a["accuracies"]:
    return []
  lines = [_title("FC vs CNN", paper.REASONABLE, paper.VERSUS), "",
           f"Test accuracy over seeds (95% t-CI), beside the human baseline: {fmt.pct(paper.HUMAN_NOTEBOOK, 0)} in the "
           f"authors' notebook ({paper.HUMAN_DRAWINGS} drawings, unanswered ones wrong), {fmt.pct(paper.HUMAN_REPORT, 0)} "
           f"in their report. H1's bar for \"reasonable\" is ours ({fmt.pct(a['reasonable_bar'], 0)}): the paper names none.", ""]
  lines += tables.accuracy_table(a["accuracies"]) + [""]
  if a["versus"].get("accuracy"):
    lines += ["CNN - FC, paired by seed (same split and shuffling), and the ratio of whole training times "
              "(compile time excluded; each model over its own epoch budget):", ""] + tables.delta_table(a["versus"]) + [""]
  lines += ["The authors' FC, from their notebooks:", ""] + tables.fc_notebook_table() + [""]
  lines += speed_lines(a, figs)
  return lines + _mark(a["verdicts"], *paper.named(paper.REASONABLE, paper.VERSUS)) + _figs(figs, paper.VERSUS)


def speed_lines(a: dict, figs: dict) -> list[str]:
  if not a["time_to_accuracy"]:
    return []
  return (["### Time to accuracy (the paper's \"13 times faster\")", "",
           f"The authors' FC ran {paper.H2_EPOCHS[paper.FC]:,} epochs against the CNNs' {paper.H2_EPOCHS[paper.CNN2]} and "
           "no timing code exists, so the claim is read as wall time to an accuracy. Every model here trained alike "
           "(the runs at once column), FC with an epoch budget past its best validation accuracy:", ""]
          + tables.convergence_table(a["convergence"]) + ["",
          "Seconds are the sums of the per-epoch seconds (compile excluded) up to the first epoch whose validation "
          "accuracy reaches the target (analysis.json `time_to_accuracy`):", ""]
          + tables.time_to_accuracy_table(a["time_to_accuracy"]) + ["", "The verdict's ratio, seed by seed:", ""]
          + tables.speed_table(a["speed"]) + [""] + _figs(figs, "speed"))


def overfitting(a: dict, figs: dict) -> list[str]:
  hs = [h for h in paper.named(paper.OVERFITTING) if h in a["scale"]]
  if not hs:
    return []
  lines = [_title("data size and overfitting (Fig. 8)", paper.OVERFITTING), "",
           "Fig. 8's cells beside ours (accuracy in %, loss in nats; mean ± sd over seeds). The gap is train minus "
           "validation accuracy at the last epoch. Rule: the claim holds if the OLS slope of the gap on log10(n) "
           "(all runs, HC3) has a 95% CI wholly below 0. `python -m analysis.ablation` asks which of the authors' "
           "likely settings would reproduce the paper's gap (analysis/h3_ablation.md).", ""]
  lines += sweep_tables.fig8_table(a["overfitting"]) + [""] + sweep_tables.gap_table(a["overfitting"]) + [""]
  lines += tables.ols_table([r for r in a["ols"] if r["hypothesis"] in hs]) + [""]
  return lines + _mark(a["verdicts"], *hs) + _figs(figs, paper.OVERFITTING)


def imbalance(a: dict, figs: dict) -> list[str]:
  hs = [h for h in paper.named(paper.IMBALANCE) if h in a["scale"]]
  if not hs:
    return []
  lines = [_title("class imbalance and augmentation (Fig. 9)", paper.IMBALANCE), "",
           f"Paper: {paper.H4_MAJORITY} ({paper.H4_MAJORITY_ROWS:,}) vs {paper.H4_MINORITY} at "
           f"{', '.join(fmt.ratio_pct(r) for r in paper.H4_RATIOS)}, tested on {paper.H4_TEST_DRAWINGS:,} drawings; "
           f"augmentation: {paper.H4_AUGMENTATION}. Ours: the minority sized by the paper's ratios of our (capped) "
           "majority, and by the paper's absolute counts; at each imbalanced point the arms none, oversample, "
           "class_weight and affine. Scores come from each run's confusion matrix on the balanced test set; "
           "mean and t-CI over seeds, in %.", ""]
  lines += sweep_tables.h4_table(a["imbalance"]) + ["", "Fig. 9, row by row:", ""]
  lines += sweep_tables.fig9_table(a["imbalance"]) + [""] + sweep_tables.slide21_table() + [""]
  if a["imbalance_arms"]:
    lines += ["What each arm adds to `none`, at the same point and seed (averaged over the points, then over seeds):",
              ""] + sweep_tables.arm_table(a["imbalance_arms"]) + [""]
  lines += tables.ols_table([r for r in a["ols"] if r["hypothesis"] in hs]) + [""]
  for s in a["imbalance_spearman"]:
    lines.append(f"Spearman's rho (minority accuracy vs ratio, none, {s['model']}): {s['spearman_rho']:+.3f}, "
                 f"p {fmt.p(s['p_value'], '= ')}, n = {s['n']} runs.")
  return lines + [""] + _mark(a["verdicts"], *hs) + _figs(figs, paper.IMBALANCE)


def grid_sections(a: dict, figs: dict) -> list[str]:
  points, out = a["grid"]["points"], []
  if not points:
    return []
  model = a["grid"]["model"]
  for kind, by, text in ((paper.MORE_CATEGORIES, "num_categories", "number of categories (Fig. 10)"),
                         (paper.MORE_ROWS, "rows_per_category", "rows per category (Fig. 11)")):
    hs = [h for h in paper.named(kind) if h in a["scale"]]
    out += [_title(text, kind), "", f"This hypothesis' slice of the grid: means over the other axis and the seeds "
            f"({model}). Fig. 11's plane is its fitted accuracy and loss at this value and our mean of the other axis.", ""]
    out += grid_tables.slice_table(a["grid"]["by_" + by], points, by) + ["", f"`{by}` in the joint fits:", ""]
    out += grid_tables.term_table(a["ols"], model, by) + [""] + _mark(a["verdicts"], *hs) + _figs(figs, kind)
  out += [f"## {paper.grid_name().upper()}: the joint fit (Fig. 11)", "",
          "One OLS per response over the whole grid, as the paper's: with HC3 and with the classical (nonrobust) "
          "standard errors, over one row per run and over one row per grid point (the mean over seeds; the paper "
          "had one run per point). Each cell: coef (SE) [95% CI].", ""]
  for response in grid.RESPONSES:
    out += grid_tables.joint_table(a["ols"], model, response) + [""]
  out += [grid_tables.plane_check(), ""]
  for response in grid.RESPONSES:
    out += [f"{grid_tables.UNITS[response]} at every grid point (mean over seeds):", ""]
    out += grid_tables.matrix(points, model, response) + [""]
  return out


def report(a: dict, figs: dict, human_lines: list[str]) -> list[str]:
  lines = header(a) + ["## Verdicts", ""] + tables.verdict_table(a["verdicts"], list(a["scale"])) + ["", RULE, ""]
  lines += ["## What was run", ""] + tables.scale_table(a["scale"]) + [""]
  lines += models(a, figs) + overfitting(a, figs) + imbalance(a, figs) + grid_sections(a, figs) + early_guess.section(a, figs)
  return lines + human_lines + _figs(figs, "human")
