"""REPORT.md's tables, each beside the paper's number: pure functions from analysis rows to lines."""

from analysis import fmt, paper

NIS = paper.NOT_IN_SOURCE


def scale_table(scale: dict) -> list[str]:
  lines = ["| hypothesis | models | seeds (runs) | k | categories | rows per category: used (asked) | epochs "
           "| paper's design | scale |", "|---|---|---|---|---|---|---|---|---|"]
  for h, s in scale.items():
    asked = f" ({fmt.ints(s['rows_asked'])})" if s["rows_asked"] and s["rows_asked"] != s["rows_per_category"] else ""
    lines.append(f"| {h} | {', '.join(s['models'])} | {s['seeds']} ({s['runs']}) | {fmt.ints(s['num_categories'])} "
                 f"| {', '.join(s['categories'])} | {fmt.ints(s['rows_per_category'])}{asked} "
                 f"| {fmt.ints(s['epochs'])} | {s['paper_design']} "
                 f"| {fmt.scale_tag(s)} |")
  return lines


def verdict_table(claims: list[dict], present: list[str]) -> list[str]:
  lines = ["| hypothesis | claim | paper | ours | verdict | why |", "|---|---|---|---|---|---|"]
  for h in ("h1", "h2", "h3", "h4", "h5", "h6"):
    mine = [c for c in claims if c["hypothesis"] == h]
    if not mine:
      lines.append(f"| {h} | | | | {'not run in this workdir' if h not in present else 'too little data to decide'} | |")
    for c in mine:
      lines.append(f"| {h}{'' if c['primary'] else ' (also)'} | {c['claim']} | {c['paper']} | {c['ours']} "
                   f"| **{c['verdict']}** | {c['reason']} |")
  return lines


def accuracy_table(acc: list[dict]) -> list[str]:
  lines = ["| hypothesis | model | params | k | seeds | test accuracy | 95% CI (%) | human (paper) | vs human (points) |",
           "|---|---|---:|---:|---:|---:|---|---:|---:|"]
  for a in acc:
    lines.append(f"| {a['hypothesis']} | {a['model']} | {fmt.num(a['param_count'], ',')} | {a['num_categories']} "
                 f"| {a['n']} | {fmt.pct(a['mean'])} | {fmt.ci(a['ci_low'], a['ci_high'], scale=100, sign=False)} "
                 f"| {fmt.pct(paper.HUMAN_ACCURACY, 0)} ({paper.HUMAN_CLASSES} classes) | {fmt.signed(a['human_gap_points'])} |")
  return lines


def delta_table(h2: dict) -> list[str]:
  lines = ["| comparison | seeds | test accuracy delta (points) | 95% CI | paper |", "|---|---:|---:|---|---|"]
  for d in h2.get("accuracy", []):
    paper_text = f"+{paper.H2_DELTA_POINTS:g} (equal parameters)" if d["a"] == "cnn2" else NIS
    lines.append(f"| {d['a']} - {d['b']} | {d['n']} | {fmt.signed(d['mean'], scale=100)} "
                 f"| {fmt.ci(d['ci_low'], d['ci_high'], scale=100)} | {paper_text} |")
  lines += ["", "| train-time ratio | seeds | geometric mean of per-seed ratios | 95% CI | ratio of mean times | paper |",
            "|---|---:|---:|---|---:|---|"]
  for t in h2.get("train_time_ratio", []):
    lines.append(f"| {t['a']} time / {t['b']} time | {len(t['seeds'])} | {fmt.num(t['geo_mean'])}x "
                 f"| {fmt.ci_g(t['ci_low'], t['ci_high'])} | {fmt.num(t['ratio'])}x "
                 f"| ~{paper.H2_SPEEDUP:g}x (CNN faster) |")
  return lines


def h3_tables(table: list[dict]) -> list[str]:
  """Fig. 8 as numbers: mean ± sd over seeds, at epoch 1 and at each run's last epoch."""
  acc = ["| model | n used (asked) | seeds | last epoch | train acc, epoch 1 | val acc, epoch 1 | train acc, last "
         "| val acc, last | gap, last (points) | gap 95% CI | paper |", "|---|---|---:|---|---|---|---|---|---|---|---|"]
  loss = ["| model | n used | train loss, epoch 1 | val loss, epoch 1 | train loss, last | val loss, last | paper |",
          "|---|---|---|---|---|---|---|"]
  for t in table:
    f, last, g = t["first"], t["last"], t["gap"]
    asked = f" ({fmt.ints(t['rows_requested'])})" if t["rows_requested"] != [t["rows_per_category"]] else ""
    acc.append(f"| {t['model']} | {t['rows_per_category']:,}{asked} | {t['seeds']} | {fmt.ints(t['last_epoch'])} "
               f"| {fmt.mean_sd(f['train_accuracy'])} | {fmt.mean_sd(f['val_accuracy'])} "
               f"| {fmt.mean_sd(last['train_accuracy'])} | {fmt.mean_sd(last['val_accuracy'])} "
               f"| {fmt.mean_sd(g)} | {fmt.ci(g['ci_low'], g['ci_high'], scale=100)} | {NIS} |")
    loss.append(f"| {t['model']} | {t['rows_per_category']:,} | {fmt.mean_sd(f['train_loss'], 1, 3)} "
                f"| {fmt.mean_sd(f['val_loss'], 1, 3)} | {fmt.mean_sd(last['train_loss'], 1, 3)} "
                f"| {fmt.mean_sd(last['val_loss'], 1, 3)} | {NIS} |")
  return ["Accuracy in %, mean ± sd over seeds:", ""] + acc + ["", "Cross-entropy loss, mean ± sd over seeds:", ""] + loss


def h4_table(table: list[dict]) -> list[str]:
  lines = ["| model | ratio | train rows maj / min | seeds | majority acc | minority acc | minority 95% CI "
           "| balanced acc | macro-F1 | paper minority acc |", "|---|---:|---|---:|---|---|---|---|---|---|"]
  for t in table:
    m = t["minority_accuracy"]
    rows = (f"{fmt.num(t['majority_train_rows'], ',')} / {fmt.num(t['minority_train_rows'], ',')}"
            if t["majority_train_rows"] is not None else "n/a")
    paper_text = fmt.pct(t["paper_minority_accuracy"], 0) if t["paper_minority_accuracy"] is not None else NIS
    lines.append(f"| {t['model']} | {fmt.ratio_pct(t['imbalance_ratio'])} | {rows} | {t['seeds']} "
                 f"| {fmt.mean_sd(t['majority_accuracy'])} | {fmt.mean_sd(m)} "
                 f"| {fmt.ci(m['ci_low'], m['ci_high'], 1, 100, sign=False)} | {fmt.mean_sd(t['balanced_accuracy'])} "
                 f"| {fmt.mean_sd(t['macro_f1'], 1, 3)} | {paper_text} |")
  return lines


def _units(row: dict) -> tuple[float, str, str]:
  """(scale, unit, paper's value in that unit) for one OLS row of the report."""
  resp, reg = row["response"], row["regressor"]
  if resp == "log(test_loss)":
    return 100.0, "% loss per category (exp(b) - 1)", f"+{100 * paper.H5_LOSS_RELATIVE_PER_CATEGORY:.1f}%"
  if reg == "num_categories":
    if resp == "test_accuracy":
      return 100.0, "points per category", f"{paper.H5_ACC_POINTS_PER_CATEGORY:+.2f}"
    return 1.0, "nats per category", f"{NIS} (as nats; see the % row)"
  if reg == "rows_per_category":
    if resp == "test_accuracy":
      return 1e5, "points per 1,000 rows", f"+{paper.H6_ACC_POINTS_PER_ROW * 1000:g}"
    return 1e3, "nats per 1,000 rows", NIS
  if reg.startswith("log10("):
    return 100.0, f"points per 10x {reg[6:-1]}", NIS
  return 1.0, f"per unit of {reg}", NIS


def _se(row: dict, scale: float) -> float:
  """SE in the slope's display unit; for log(loss), by the delta method: SE(exp(b) - 1) = exp(b) SE(b)."""
  if row["response"] == "log(test_loss)":
    return 100 * (1 + row["relative_change"]) * row["se"]
  return scale * row["se"]


def ols_table(rows: list[dict]) -> list[str]:
  lines = ["| fit | model | slope (raw) | slope | unit | HC3 SE | 95% CI | p | R² | n | paper |",
           "|---|---|---:|---:|---|---:|---|---|---:|---:|---|"]
  for r in rows:
    scale, unit, paper_text = _units(r)
    if r["response"] == "log(test_loss)":
      slope, ci = fmt.signed(r["relative_change"], 2, 100), fmt.ci(r["relative_ci_low"], r["relative_ci_high"], 2, 100)
    else:
      slope, ci = fmt.signed(r["coef"], 3, scale), fmt.ci(r["ci_low"], r["ci_high"], 3, scale)
    if r["hypothesis"] == "h5+h6":
      paper_text = f"{paper_text} (from the paper's separate H5/H6 sweep)"
    lines.append(f"| {r['hypothesis']}: {r['response']} ~ {r.get('formula', r['regressor']).split(' ~ ')[-1]}"
                 f"{' [' + r['regressor'] + ']' if r.get('formula') else ''} | {r.get('model', '')} "
                 f"| {fmt.num(r['coef'], '+.4g')} | {slope} | {unit} | {fmt.num(_se(r, scale), '.3g')} "
                 f"| {ci} | {fmt.p(r['p_value'])} | {fmt.num(r['r2'], '.3f')} | {r['n']} | {paper_text} |")
  return lines
