"""REPORT.md's general tables and H1/H2's, each beside the paper's numbers: pure functions from
analysis rows to lines."""

from analysis import fmt, paper, speed

NIS = paper.NOT_IN_SOURCE


def scale_table(scale: dict) -> list[str]:
  lines = ["| hypothesis | models | seeds (runs) | k | categories | rows per category: used (asked) | epochs "
           "| paper's design | scale |", "|---|---|---|---|---|---|---|---|---|"]
  for h, s in scale.items():
    asked = f" ({fmt.ints(s['rows_asked'])})" if s["rows_asked"] and s["rows_asked"] != s["rows_per_category"] else ""
    shared = f", trained by {', '.join(s['trained_by'])}" if s["trained_by"] != [h] else ""
    lines.append(f"| {h} | {', '.join(s['models'])} | {s['seeds']} ({s['runs']}{shared}) | {fmt.ints(s['num_categories'])} "
                 f"| {', '.join(s['categories'])} | {fmt.ints(s['rows_per_category'])}{asked} "
                 f"| {fmt.ints(s['epochs'])} | {s['paper_design']} | {fmt.scale_tag(s)} |")
  return lines


def verdict_table(claims: list[dict], present: list[str]) -> list[str]:
  lines = ["| hypothesis | claim | paper | ours | verdict | why |", "|---|---|---|---|---|---|"]
  for h in (h.name for h in paper.HYPOTHESES):
    mine = [c for c in claims if c["hypothesis"] == h]
    if not mine:
      lines.append(f"| {h} | | | | {'not run in this workdir' if h not in present else 'too little data to decide'} | |")
    for c in mine:
      lines.append(f"| {h}{'' if c['primary'] else ' (also)'} | {c['claim']} | {c['paper']} | {c['ours']} "
                   f"| **{c['verdict']}** | {c['reason']} |")
  return lines


def accuracy_table(acc: list[dict]) -> list[str]:
  lines = ["| hypothesis | model | params (paper) | k | epochs | seeds | test accuracy | 95% CI (%) "
           "| vs human 85% (notebook) | vs human 87% (report) |", "|---|---|---:|---:|---|---:|---:|---|---:|---:|"]
  for a in acc:
    gap = a["human_gap_points"]
    lines.append(f"| {a['hypothesis']} | {a['model']} | {fmt.num(a['param_count'], ',')} "
                 f"({fmt.num(paper.PARAMS.get(a['model']), ',')}) | {a['num_categories']} | {fmt.ints(a['epochs'])} "
                 f"| {a['n']} | {fmt.pct(a['mean'])} | {fmt.ci(a['ci_low'], a['ci_high'], scale=100, sign=False)} "
                 f"| {fmt.signed(gap['notebook'])} | {fmt.signed(gap['report'])} |")
  return lines


def delta_table(versus: dict) -> list[str]:
  lines = ["| comparison | seeds | test accuracy delta (points) | 95% CI | paper |", "|---|---:|---:|---|---|"]
  for d in versus.get("accuracy", []):
    paper_text = f"+{paper.H2_DELTA_POINTS:g} (equal parameters)" if d["a"] == paper.CNNS[0] else NIS
    lines.append(f"| {d['a']} - {d['b']} | {d['n']} | {fmt.signed(d['mean'], scale=100)} "
                 f"| {fmt.ci(d['ci_low'], d['ci_high'], scale=100)} | {paper_text} |")
  lines += ["", "| train seconds over each model's whole budget | seeds | geometric mean of per-seed ratios | 95% CI "
            "| ratio of mean times |", "|---|---:|---:|---|---:|"]
  for t in versus.get("train_time_ratio", []):
    lines.append(f"| {t['a']} time / {t['b']} time | {len(t['seeds'])} | {fmt.num(t['geo_mean'])}x "
                 f"| {fmt.ci_g(t['ci_low'], t['ci_high'])} | {fmt.num(t['ratio'])}x |")
  return lines


def convergence_table(rows: list[dict]) -> list[str]:
  lines = ["| model | stopping | epochs | best val accuracy (per seed) | at epoch (per seed) | s per epoch "
           "| runs at once | paper's epochs |", "|---|---|---|---|---|---:|---|---|"]
  for c in rows:
    lines.append(f"| {c['model']} | {', '.join(c['stopping'])} | {fmt.ints(sorted(set(c['epochs'])))} "
                 f"| {' / '.join(fmt.pct(v) for v in c['best_val_accuracy'])} | {fmt.ints(c['best_epoch'])} "
                 f"| {c['seconds_per_epoch']:.3f} | {fmt.ints(c['models_at_once'])} "
                 f"| {fmt.num(paper.H2_EPOCHS.get(c['model']), ',') if c['model'] in paper.H2_EPOCHS else NIS} |")
  return lines


def time_to_accuracy_table(rows: list[dict]) -> list[str]:
  """Per model and target: the epoch and wall seconds at which each seed first reached it."""
  lines = ["| model | target (val accuracy) | epochs, per seed | seconds, per seed |", "|---|---|---|---|"]
  keyed = {}
  for r in rows:
    keyed.setdefault((r["model"], r["target_kind"], r["target"] if r["target_kind"] != speed.FC_BEST_SEED else None),
                     []).append(r)
  for (model, kind, target), group in keyed.items():
    label = {speed.FC_BEST_MEAN: f"FC's best, mean over seeds ({fmt.pct(target)})",
             speed.FC_BEST_SEED: "FC's best, that seed's (" + " / ".join(fmt.pct(r["target"]) for r in group) + ")",
             speed.FIXED: fmt.pct(target, 0)}[kind]
    epochs = " / ".join("never" if r["epochs"] is None else str(r["epochs"]) for r in group)
    seconds = " / ".join("never" if r["seconds"] is None else f"{r['seconds']:.1f}" for r in group)
    lines.append(f"| {model} | {label} | {epochs} | {seconds} |")
  return lines


def speed_table(ratios: list[dict]) -> list[str]:
  lines = ["| ratio | seeds | per seed | geometric mean | 95% CI | epochs to reach it, FC / CNN | paper |",
           "|---|---:|---|---:|---|---|---|"]
  for t in ratios:
    lines.append(f"| FC seconds / {t['b']} seconds to FC's best | {len(t['seeds'])} "
                 f"| {' / '.join(f'{x:.3g}x' for x in t['per_seed'])} | {fmt.num(t['geo_mean'])}x "
                 f"| {fmt.ci_g(t['ci_low'], t['ci_high'])} | {fmt.ints(t['a_epochs'])} / "
                 f"{fmt.ints(['never' if e is None else e for e in t['b_epochs']])} | ~{paper.H2_SPEEDUP:g}x |")
  return lines


def fc_notebook_table() -> list[str]:
  lines = ["| the authors' FC notebook | rows per class | split | epochs | minibatch | lr | init | regularisation "
           "| train acc | test acc |", "|---|---:|---|---:|---|---|---|---|---:|---:|"]
  for n in paper.FC_NOTEBOOKS:
    lines.append(f"| {n['notebook']} | {n['rows_per_class']:,} | {n['split']} | {n['epochs']:,} | {n['minibatch']} "
                 f"| {n['learning_rate']} | {n['init']} | {n['regularisation']} | {fmt.pct(n['train_accuracy'])} "
                 f"| {fmt.pct(n['test_accuracy'])} |")
  return lines


def ols_table(rows: list[dict]) -> list[str]:
  """One-regressor trend fits (H3's gap, H4's minority accuracy), slopes per 10x of the regressor."""
  lines = ["| fit | model | slope (raw) | slope (points per 10x) | HC3 SE | 95% CI | p | R² | n |",
           "|---|---|---:|---:|---:|---|---|---:|---:|"]
  for r in rows:
    lines.append(f"| {r['hypothesis']}: {r['response']} ~ {r['regressor']} | {r.get('model', '')} "
                 f"| {fmt.num(r['coef'], '+.4g')} | {fmt.signed(r['coef'], 3, 100)} | {fmt.num(100 * r['se'], '.3g')} "
                 f"| {fmt.ci(r['ci_low'], r['ci_high'], 3, 100)} | {fmt.p(r['p_value'])} | {fmt.num(r['r2'], '.3f')} "
                 f"| {r['n']} |")
  return lines
