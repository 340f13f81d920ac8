"""REPORT.md's tables of the data-size and imbalance sweeps, cell by cell beside Figs. 8 and 9."""

from analysis import curves, fmt, paper

NIS = paper.NOT_IN_SOURCE


def _cell(value: float, metric: str) -> str:
  return f"{100 * value:.0f}" if "accuracy" in metric else f"{value:.2f}"


def _paper_cell(p: dict | None, metric: str, epoch: int) -> str:
  if p is None:
    return NIS
  text = _cell(p["cells"][metric][epoch], metric)
  if metric in p["slide"] and p["slide"][metric][epoch] != p["cells"][metric][epoch]:
    text += f" (slide: {_cell(p['slide'][metric][epoch], metric)})"
  if metric in p["notes"] and epoch == 1:
    text += " (probably an accuracy: a typo)"
  return text


def fig8_table(table: list[dict]) -> list[str]:
  """Each of Fig. 8's cells beside ours: mean ± sd over seeds at epoch 1 and the last epoch;
  accuracy in %, loss in nats."""
  lines = ["| model | n used (asked) | seeds | metric | epoch 1: ours | epoch 1: paper | last epoch | last: ours "
           "| epoch 10: paper |", "|---|---|---:|---|---|---|---|---|---|"]
  for t in table:
    asked = f" ({fmt.ints(t['rows_requested'])})" if t["rows_requested"] != [t["rows_per_category"]] else ""
    for metric in curves.METRICS:
      scale, digits = (100, 1) if "accuracy" in metric else (1, 3)
      lines.append(f"| {t['model']} | {t['rows_per_category']:,}{asked} | {t['seeds']} | {metric} "
                   f"| {fmt.mean_sd(t['first'][metric], scale, digits)} | {_paper_cell(t['paper'], metric, 0)} "
                   f"| {fmt.ints(t['last_epoch'])} | {fmt.mean_sd(t['last'][metric], scale, digits)} "
                   f"| {_paper_cell(t['paper'], metric, 1)} |")
  for n in sorted(set(paper.FIG8) - {t["rows_per_category"] for t in table}):  # the paper's rows we did not run
    p = curves.paper_cells(n)
    lines += [f"| {paper.SWEEP_MODEL} | {n:,}: not run here | | {metric} | | {_paper_cell(p, metric, 0)} | | "
              f"| {_paper_cell(p, metric, 1)} |" for metric in curves.METRICS]
  return lines


def gap_table(table: list[dict]) -> list[str]:
  lines = ["| model | n | seeds | gap at the last epoch (points) | 95% CI | paper's gap at epoch 10 |",
           "|---|---:|---:|---|---|---:|"]
  for t in table:
    g = t["gap"]
    paper_gap = f"{100 * t['paper']['gap']:+.0f}" if t["paper"] else NIS
    lines.append(f"| {t['model']} | {t['rows_per_category']:,} | {t['seeds']} | {fmt.mean_sd(g)} "
                 f"| {fmt.ci(g['ci_low'], g['ci_high'], scale=100)} | {paper_gap} |")
  missing = sorted(set(paper.FIG8) - {t["rows_per_category"] for t in table})
  if missing:
    gaps = " / ".join(f"{100 * (paper.FIG8[n]['train_accuracy'][1] - paper.FIG8[n]['val_accuracy'][1]):+.0f}"
                      for n in missing)
    lines.append(f"| | {fmt.ints(missing)} | | not run here (the files hold fewer rows) | | {gaps} |")
  return lines


def _ci_pct(d: dict, digits: int = 1) -> str:
  return f"{fmt.pct(d['mean'], digits)} {fmt.ci(d['ci_low'], d['ci_high'], digits, 100, sign=False)}"


def _where(t: dict) -> str:
  return f"ratio {fmt.ratio_pct(t['asked'])}" if t["minority_by"] == "ratio" else f"count {int(t['asked']):,}"


def h4_table(table: list[dict]) -> list[str]:
  lines = ["| model | minority | arm | train rows maj / min (ratio) | seeds | majority acc | minority acc [95% CI] "
           "| balanced acc [95% CI] | macro-F1 [95% CI] | paper minority acc |",
           "|---|---|---|---|---:|---|---|---|---|---|"]
  for t in table:
    rows = (f"{fmt.num(t['majority_train_rows'], ',')} / {fmt.num(t['minority_train_rows'], ',')} "
            f"({fmt.ratio_pct(t['imbalance_ratio'])})" if t["majority_train_rows"] is not None else "n/a")
    paper_text = fmt.pct(t["paper_minority_accuracy"], 0) if t["paper_minority_accuracy"] is not None else NIS
    f1 = t["macro_f1"]
    lines.append(f"| {t['model']} | {_where(t)} | {t['augmentation']} | {rows} | {t['seeds']} "
                 f"| {fmt.mean_sd(t['majority_accuracy'])} | {_ci_pct(t['minority_accuracy'])} "
                 f"| {_ci_pct(t['balanced_accuracy'])} | {f1['mean']:.3f} {fmt.ci(f1['ci_low'], f1['ci_high'], 3, sign=False)} "
                 f"| {paper_text} |")
  return lines


def fig9_table(table: list[dict]) -> list[str]:
  """Fig. 9 row by row, with ours (no augmentation) at the same ratio and at the same count."""
  lines = ["| paper: fork / hammer rows | train acc | test acc | fork acc | hammer acc | ours, same ratio (minority rows) "
           "| ours, same count |", "|---|---:|---:|---:|---:|---|---|"]
  for row in paper.FIG9:
    ratio = row["minority_rows"] / row["majority_rows"]
    same = lambda by, v: next((t for t in table if t["augmentation"] == "none" and t["minority_by"] == by  # noqa: E731
                               and abs(t["asked"] - v) <= 1e-9 * max(1, v)), None)
    r, c = same("ratio", ratio), same("count", row["minority_rows"])
    ours_r = f"{_ci_pct(r['minority_accuracy'])} ({fmt.num(r['minority_train_rows'], ',')})" if r else "not run"
    ours_c = _ci_pct(c["minority_accuracy"]) if c else (
        "the same point as the ratio's here" if r and r["minority_train_rows"] == row["minority_rows"] else "not run")
    lines.append(f"| {row['majority_rows']:,} / {row['minority_rows']:,} ({fmt.ratio_pct(ratio)}) "
                 f"| {fmt.pct(row['train_accuracy'], 0)} | {fmt.pct(row['test_accuracy'], 0)} "
                 f"| {fmt.pct(row['majority_accuracy'], 0)} | {fmt.pct(row['minority_accuracy'], 0)} | {ours_r} | {ours_c} |")
  return lines


def slide21_table() -> list[str]:
  s = paper.SLIDE21
  rows = " | ".join(f"{n:,}" if n else NIS for n in s["minority_rows"])
  accs = " | ".join(fmt.pct(a, 0) for a in s["minority_accuracy"])
  return [f"Slide 21: {s['majority_rows']:,} forks against hammer (the repository's slides; no run of ours matches it):", "",
          "| hammer rows | " + rows + " |", "|---" * (len(s["minority_rows"]) + 1) + "|", "| hammer accuracy | " + accs + " |"]


def arm_table(effects: list[dict]) -> list[str]:
  lines = ["| model | arm | imbalanced points | minority acc, arm - none (points) [95% CI] | balanced acc [95% CI] "
           "| macro-F1 [95% CI] |", "|---|---|---:|---|---|---|"]
  for e in effects:
    cells = [f"{fmt.signed(e[k]['mean'], 1, 100)} {fmt.ci(e[k]['ci_low'], e[k]['ci_high'], 1, 100)}"
             for k in ("minority_accuracy", "balanced_accuracy")]
    f1 = e["macro_f1"]
    lines.append(f"| {e['model']} | {e['augmentation']} | {e['points']} | {cells[0]} | {cells[1]} "
                 f"| {fmt.signed(f1['mean'], 3)} {fmt.ci(f1['ci_low'], f1['ci_high'], 3)} |")
  return lines
