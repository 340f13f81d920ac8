"""REPORT.md's text: the scale up front, then each hypothesis' tables, verdict and figures."""

from analysis import early_guess, fmt, paper, tables, verdicts

RULE = ("Rule: a claim is **supported** when our 95% CI lies wholly on the paper's side of no effect, "
        "**not supported** when it lies wholly on the other side, **inconclusive** when it contains no "
        "effect or cannot be formed (one seed, too few runs). Whether the paper's number lies in our CI is "
        "said beside it; it does not change the verdict.")


def _figs(figs: dict, section: str) -> list[str]:
  return [f"![{caption}]({name})  \n*{caption}* (`{name}`)\n" for name, caption in figs.get(section, [])]


def _mark(claims: list[dict], h: str) -> list[str]:
  out = []
  for c in claims:
    if c["hypothesis"] == h:
      out.append(f"- {c['claim']}: **{c['verdict']}** ({c['reason']}). Paper: {c['paper']}; ours: {c['ours']}.")
  if not out:
    out.append(f"- **{verdicts.INCONCLUSIVE}**: too little data to fit or compare (see the tables).")
  return out + [""]


def header(a: dict) -> list[str]:
  lines = ["# Quick, Draw! reproduction: report", "",
           f"Regenerated from `runs.jsonl` by `python -m analysis --workdir=DIR`, without retraining. "
           f"Paper: *{paper.TITLE}*; its numbers are in `analysis/paper.py` (source noted there), and "
           f'"{paper.NOT_IN_SOURCE}" marks a number we do not have.', "", "## Scale", ""]
  for h, s in a["scale"].items():
    tag = fmt.scale_tag(s)
    if h == "h4":
      size = (f"majority trained on {fmt.ints(s['majority_train_rows']) or 'n/a'} rows, minority at "
              f"{', '.join(fmt.ratio_pct(r) for r in s['imbalance_ratio'])} of it")
    else:
      size = (f"rows per category {fmt.ints(s['rows_per_category'])} "
              f"(asked {fmt.ints(s['rows_asked']) or 'n/a'})")
    lines.append(f"- {h}: {len(s['categories'])} categories ({', '.join(s['categories'])}); {size}; "
                 f"{s['seeds']} seed(s); {tag}.")
  return lines + [""]


def h1_h2(a: dict, figs: dict) -> list[str]:
  if not a["accuracies"]:
    return []
  lines = ["## H1 / H2: FC vs CNN", "",
           f"Test accuracy over seeds (95% t-CI), next to the paper's human baseline. H1's bar for "
           f"\"reasonable\" is ours ({fmt.pct(a['h1_bar'], 0)}): the paper names none.", ""]
  lines += tables.accuracy_table(a["accuracies"]) + [""]
  h2 = a["deltas"]["h2"]
  if h2.get("accuracy"):
    lines += ["CNN - FC, paired by seed (same split and shuffling), and train-time ratios (compile time excluded):",
              ""] + tables.delta_table(h2) + [""]
  return lines + ["**H1**", ""] + _mark(a["verdicts"], "h1") + (
      ["**H2**", ""] + _mark(a["verdicts"], "h2") if "h2" in a["scale"] else []) + _figs(figs, "h2")


def h3(a: dict, figs: dict) -> list[str]:
  if "h3" not in a["scale"]:
    return []
  lines = ["## H3: data size and overfitting (Fig. 8)", "",
           "The gap is train minus validation accuracy at the last epoch. Rule: the claim holds if the OLS "
           "slope of the gap on log10(n) (all runs, HC3) has a 95% CI wholly below 0. The paper's cell "
           f"values are {paper.NOT_IN_SOURCE}.", ""]
  lines += tables.h3_tables(a["h3"]) + [""]
  lines += tables.ols_table([r for r in a["ols"] if r["hypothesis"] == "h3"]) + [""]
  return lines + _mark(a["verdicts"], "h3") + _figs(figs, "h3")


def h4(a: dict, figs: dict) -> list[str]:
  if "h4" not in a["scale"]:
    return []
  lines = ["## H4: class imbalance (Fig. 9)", "",
           f"Paper: {paper.H4_MAJORITY} ({paper.H4_MAJORITY_ROWS:,}) vs {paper.H4_MINORITY} at "
           f"{', '.join(fmt.ratio_pct(r) for r in paper.H4_RATIOS)}, tested on {paper.H4_TEST_DRAWINGS:,} drawings. "
           "Per-class, balanced accuracy and macro-F1 come from each run's confusion matrix (balanced test set); "
           "mean ± sd over seeds, in %. Rule: the claim holds if the OLS slope of minority accuracy on "
           "log10(ratio) has a 95% CI wholly above 0.", ""]
  lines += tables.h4_table(a["h4"]) + [""]
  lines += tables.ols_table([r for r in a["ols"] if r["hypothesis"] == "h4"]) + [""]
  for s in a["h4_spearman"]:
    lines.append(f"Spearman's rho (minority accuracy vs ratio, {s['model']}): {s['spearman_rho']:+.3f}, "
                 f"p {fmt.p(s['p_value'], '= ')}, n = {s['n']} runs.")
  return lines + [""] + _mark(a["verdicts"], "h4") + _figs(figs, "h4")


def h5_h6(a: dict, figs: dict) -> list[str]:
  out = []
  for h, title, fig in (("h5", "## H5: number of categories (Fig. 10)", "h5"),
                        ("h6", "## H6: rows per category (Fig. 11)", "h6")):
    if h not in a["scale"]:
      continue
    rows = [r for r in a["ols"] if r["hypothesis"] == h]
    out += [title, "", "OLS with one row per run (seeds pooled), HC3 standard errors, t-based 95% CI. "
            "Slopes in points (percentage points of accuracy) and raw units.", ""]
    out += (tables.ols_table(rows) if rows else ["Too few distinct points to fit a slope."]) + [""]
    out += _mark(a["verdicts"], h) + _figs(figs, fig)
  joint = [r for r in a["ols"] if r["hypothesis"] == "h5+h6"]
  if joint:
    out += ["## H5 + H6 jointly", "", "test_accuracy ~ k + n over the pooled H5 and H6 runs (k and n both vary):",
            ""] + tables.ols_table(joint) + [""]
  return out


def report(a: dict, figs: dict, human_lines: list[str]) -> list[str]:
  present = list(a["scale"])
  lines = header(a) + ["## Verdicts", ""] + tables.verdict_table(a["verdicts"], present) + ["", RULE, ""]
  lines += ["## What was run", ""] + tables.scale_table(a["scale"]) + [""]
  lines += h1_h2(a, figs) + h3(a, figs) + h4(a, figs) + h5_h6(a, figs) + early_guess.section(a, figs)
  return lines + human_lines + _figs(figs, "human")
