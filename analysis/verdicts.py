"""Supported, not supported or inconclusive: each claim decided from a 95% confidence interval.

The rule, the same for every claim: a claim about a direction (CNN better, gap shrinks, ...) is
**supported** when our 95% CI lies wholly on the paper's side of "no effect", **not supported**
when it lies wholly on the other side, and **inconclusive** when it contains no effect or cannot
be formed (one seed, too few runs). Whether the paper's own number lies inside our CI is reported
next to it; it does not change the verdict, since scale and setup differ from the paper's.
"""

from analysis import fmt, grid, ols, paper

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"
HUMAN_TEXT = (f"human {fmt.pct(paper.HUMAN_NOTEBOOK, 0)} (the authors' notebook, used here; "
              f"the report says {fmt.pct(paper.HUMAN_REPORT, 0)})")


def direction(low: float, high: float, expect: int, null: float = 0.0, null_text: str = "no effect") -> tuple[str, str]:
  """Verdict for "the effect has sign `expect` relative to `null`", from the CI [low, high]."""
  if fmt.bad(low) or fmt.bad(high):
    return INCONCLUSIVE, "no confidence interval (one seed or too few runs)"
  side = "above" if expect > 0 else "below"
  if expect * (low - null) > 0 and expect * (high - null) > 0:
    return SUPPORTED, f"the 95% CI lies wholly {side} {null_text}"
  if expect * (low - null) < 0 and expect * (high - null) < 0:
    return NOT_SUPPORTED, f"the 95% CI lies wholly on the other side of {null_text}"
  return INCONCLUSIVE, f"the 95% CI contains {null_text}"


def inside(value: float, low: float, high: float) -> str:
  if fmt.bad(low) or fmt.bad(high):
    return "no CI to compare with the paper"
  return "the paper's value lies in our CI" if low <= value <= high else "the paper's value lies outside our CI"


def _claim(h, claim, paper_text, ours, verdict_reason, extra="", primary=True) -> dict:
  verdict, reason = verdict_reason
  return {"hypothesis": h, "claim": claim, "primary": primary, "paper": paper_text, "ours": ours,
          "verdict": verdict, "reason": reason + (f"; {extra}" if extra else "")}


def reasonable(fc: dict | None, bar: float, h: str) -> dict | None:
  """FC reaches "reasonable" accuracy: its CI above our bar (the paper names no number)."""
  if fc is None:
    return None
  return _claim(h, "FC reaches reasonable accuracy", f'"reasonable" (no number); {HUMAN_TEXT}',
                f"{fmt.pct(fc['mean'])}, CI {fmt.ci(fc['ci_low'], fc['ci_high'], scale=100, sign=False)}%",
                direction(fc["ci_low"], fc["ci_high"], +1, bar, f"our bar of {fmt.pct(bar, 0)}"),
                f"bar {fmt.pct(bar, 0)} is ours, from {fc['hypothesis']}'s FC runs; vs the human baseline: "
                f"{fmt.signed(fc['human_gap_points'][paper.HUMAN_USED])} points")


def versus_accuracy(d: dict | None, h: str) -> dict | None:
  if d is None or not d.get("seeds"):
    return None
  equal = " at equal parameters" if d["a"] == paper.CNNS[0] else ""
  return _claim(h, f"{d['a'].upper()} beats FC{equal}", f"+{paper.H2_DELTA_POINTS:g} points",
                f"{fmt.signed(d['mean'], scale=100)} points, CI {fmt.ci(d['ci_low'], d['ci_high'], scale=100)}",
                direction(d["ci_low"], d["ci_high"], +1),
                inside(paper.H2_DELTA_POINTS / 100, d["ci_low"], d["ci_high"]))


def versus_speed(t: dict | None, h: str) -> dict | None:
  """FC's time to its best validation accuracy over the CNN's time to that accuracy, > 1."""
  if t is None:
    return None
  cnn, g = t["b"].upper(), t["geo_mean"]
  plain = "" if fmt.bad(g) or g <= 0 else f" ({cnn} {g:.3g}x faster)" if g >= 1 else f" ({cnn} {1 / g:.3g}x slower)"
  extra = inside(paper.H2_SPEEDUP, t["ci_low"], t["ci_high"])
  if t["never"]:
    extra += f"; {cnn} never reached FC's best in seed(s) {', '.join(map(str, t['never']))}"
  if t.get("a_at_budget_end"):
    extra += (f"; FC's best came at its budget's last epoch in seed(s) {', '.join(map(str, t['a_at_budget_end']))}, "
              "so FC may not have converged there")
  stacked = t["models_at_once"]
  extra += ("; time to accuracy, every model trained alike" if len(set(stacked.values())) == 1 else
            "; time to accuracy, but " + ", ".join(f"{m.upper()} trained {n} runs at once" if n > 1 else
                                                   f"{m.upper()} one at a time" for m, n in stacked.items())
            + " (a stacked run's time is its share)")
  return _claim(h, f"{cnn} reaches FC's best accuracy faster (FC seconds / {cnn} seconds > 1)",
                f"{paper.H2_SPEEDUP:g}x (FC {paper.H2_EPOCHS[paper.FC]:,} epochs vs {paper.H2_EPOCHS[paper.CNN2]})",
                f"{fmt.num(g)}x{plain}, CI {fmt.ci_g(t['ci_low'], t['ci_high'])}",
                direction(t["ci_low"], t["ci_high"], +1, 1.0, "1x (equal time)"),
                extra, primary=False)


def overfitting(row: dict | None, table: list[dict], h: str) -> dict | None:
  if row is None:
    return None
  at = next((t for t in table if t["model"] == row.get("model") and t["paper"]), None)
  extra = f"OLS of gap on log10(n), n = {row['n']} runs"
  if at is not None:
    g = at["gap"]
    extra += (f"; epoch-{at['last_epoch'][-1]} gap at n = {at['rows_per_category']:,}: ours "
              f"{fmt.signed(g['mean'], 1, 100)} points vs the paper's {100 * at['paper']['gap']:+.0f} "
              f"({inside(at['paper']['gap'], g['ci_low'], g['ci_high'])})")
  return _claim(h, "the generalisation gap shrinks as rows per category grow", "Fig. 8: 10 points at n = 500, 2 at 10,000",
                f"{fmt.signed(row['coef'], scale=100)} points of gap per 10x rows, "
                f"CI {fmt.ci(row['ci_low'], row['ci_high'], scale=100)}",
                direction(row["ci_low"], row["ci_high"], -1), extra)


def _ends(table: list[dict], model: str) -> list[str]:
  out = []
  for r in table:
    if r["model"] == model and r["augmentation"] == "none" and r["paper_minority_accuracy"] is not None:
      m, where = r["minority_accuracy"], (fmt.ratio_pct(r["asked"]) if r["minority_by"] == "ratio"
                                          else f"{int(r['asked']):,} rows")
      if r["asked"] in (min(paper.H4_RATIOS), max(paper.H4_RATIOS)) or r["minority_by"] == "count":
        out.append(f"at {where} ours {fmt.pct(m['mean'], 1)} vs paper {fmt.pct(r['paper_minority_accuracy'], 0)} "
                   f"({inside(r['paper_minority_accuracy'], m['ci_low'], m['ci_high'])})")
  return out


def imbalance(row: dict | None, table: list[dict], effects: list[dict], h: str) -> list[dict]:
  if row is None:
    return []
  out = [_claim(h, "minority accuracy rises with the imbalance ratio (no augmentation)",
                f"{fmt.pct(paper.H4_MINORITY_ACCURACY[min(paper.H4_RATIOS)], 0)} at 0.2% to "
                f"{fmt.pct(paper.H4_MINORITY_ACCURACY[1.0], 0)} at 100%",
                f"{fmt.signed(row['coef'], scale=100)} points per 10x ratio, CI {fmt.ci(row['ci_low'], row['ci_high'], scale=100)}",
                direction(row["ci_low"], row["ci_high"], +1),
                "; ".join(_ends(table, row.get("model"))) or "the paper's endpoint ratios were not run")]
  for e in effects:
    if e["model"] == row.get("model"):
      d = e["minority_accuracy"]
      out.append(_claim(h, f"{e['augmentation']} (no new real rows) raises minority accuracy",
                        "not tested (it added real hammer rows)",
                        f"{fmt.signed(d['mean'], scale=100)} points vs none, CI {fmt.ci(d['ci_low'], d['ci_high'], scale=100)}",
                        direction(d["ci_low"], d["ci_high"], +1),
                        f"mean over the {e['points']} imbalanced points, paired by seed", primary=False))
  return out


def _grid_claim(h, rows_, model, response, regressor, expect, claim, primary):
  t = grid.term(rows_, response, regressor, model)
  if t is None:
    return None
  p = paper.FIG11[response]["terms"][regressor]["coef"]
  unit = "nats" if response == "test_loss" else "accuracy"
  per = "per category" if regressor == "num_categories" else "per row"
  return _claim(h, claim, f"{p:+.4g} {unit} {per} ({paper.GRID_TEXT_CLAIMS[response, regressor]} in the text)",
                f"{fmt.num(t['coef'], '+.4g')} {unit} {per}, CI {fmt.ci_g(t['ci_low'], t['ci_high'])}",
                direction(t["ci_low"], t["ci_high"], expect), inside(p, t["ci_low"], t["ci_high"])
                + f"; joint OLS {t['formula']}, HC3, n = {t['n']} runs", primary)


def grid_claims(rows_: list[dict], model: str | None, h: str) -> list[dict]:
  kind = paper.kind_of(h)
  reg = "num_categories" if kind == paper.MORE_CATEGORIES else "rows_per_category"
  sign = -1 if kind == paper.MORE_CATEGORIES else +1
  what = "categories are added" if kind == paper.MORE_CATEGORIES else "rows per category grow"
  out = [_grid_claim(h, rows_, model, "test_accuracy", reg, sign, f"accuracy {'falls' if sign < 0 else 'rises'} as {what}", True),
         _grid_claim(h, rows_, model, "test_loss", reg, -sign, f"test loss {'rises' if sign < 0 else 'falls'} as {what}",
                     False)]
  return [c for c in out if c is not None]


def decide(a: dict, bar: float) -> list[dict]:
  """Every claim the analysis dict `a` can decide, in the paper's order of hypotheses."""
  pm, rows_, out = a["primary_models"], a["ols"], []
  for h in a["scale"]:
    kind = paper.kind_of(h)
    if kind == paper.REASONABLE:
      out.append(reasonable(a["reasonable"], bar, h))
    elif kind == paper.VERSUS:
      acc, speed = a["versus"]["accuracy"], [t for t in a["speed"] if t["hypothesis"] == h]
      out += [versus_accuracy(next((d for d in acc if d["a"] == paper.CNNS[0]), acc[0] if acc else None), h),
              versus_speed(next((t for t in speed if t["b"] == paper.CNNS[0]), speed[0] if speed else None), h)]
    elif kind == paper.OVERFITTING:
      out.append(overfitting(ols.find(rows_, h, "generalisation_gap", "log10(rows_per_category)", pm.get(h)),
                             a["overfitting"], h))
    elif kind == paper.IMBALANCE:
      out += imbalance(ols.find(rows_, h, "minority_accuracy", "log10(imbalance_ratio)", pm.get(h)),
                       a["imbalance"], a["imbalance_arms"], h)
    elif kind in paper.GRID_KINDS:
      out += grid_claims(rows_, pm.get(h), h)
  return [c for c in out if c is not None]
