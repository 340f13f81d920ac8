"""Supported, not supported or inconclusive: each claim decided from a 95% confidence interval.

The rule, the same for every claim: a claim about a direction (CNN better, gap shrinks, ...) is
**supported** when our 95% CI lies wholly on the paper's side of "no effect", **not supported**
when it lies wholly on the other side, and **inconclusive** when it contains no effect or cannot
be formed (one seed, too few runs). Whether the paper's own number lies inside our CI is reported
next to it; it does not change the verdict, since scale and setup differ from the paper's.
"""

from analysis import fmt, ols, paper

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE = "supported", "not supported", "inconclusive"


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


def h1(fc: dict | None, bar: float) -> dict | None:
  """FC reaches "reasonable" accuracy: its CI above our bar (the paper names no number)."""
  if fc is None:
    return None
  return _claim("h1", "FC reaches reasonable accuracy", f'"reasonable" (no number); human {fmt.pct(paper.HUMAN_ACCURACY, 0)}',
                f"{fmt.pct(fc['mean'])}, CI {fmt.ci(fc['ci_low'], fc['ci_high'], scale=100, sign=False)}%",
                direction(fc["ci_low"], fc["ci_high"], +1, bar, f"our bar of {fmt.pct(bar, 0)}"),
                f"bar {fmt.pct(bar, 0)} is ours, from {fc['hypothesis']}'s FC runs")


def h2_accuracy(d: dict | None) -> dict | None:
  if d is None or not d.get("seeds"):
    return None
  claim = "CNN2 beats FC at equal parameters" if d["a"] == "cnn2" else f"{d['a'].upper()} beats FC"
  return _claim("h2", claim, f"+{paper.H2_DELTA_POINTS:g} points",
                f"{fmt.signed(d['mean'], scale=100)} points, CI {fmt.ci(d['ci_low'], d['ci_high'], scale=100)}",
                direction(d["ci_low"], d["ci_high"], +1),
                inside(paper.H2_DELTA_POINTS / 100, d["ci_low"], d["ci_high"]))


def h2_speed(t: dict | None) -> dict | None:
  if t is None or not t.get("seeds"):
    return None
  cnn, g = t["b"].upper(), t["geo_mean"]
  plain = "" if fmt.bad(g) or g <= 0 else f" ({cnn} {g:.3g}x faster)" if g >= 1 else f" ({cnn} {1 / g:.3g}x slower)"
  extra = inside(paper.H2_SPEEDUP, t["ci_low"], t["ci_high"])
  stacked = t.get("models_at_once", {})
  if len(set(stacked.values())) > 1:
    extra += "; " + ", ".join(f"{m.upper()} trained {n} runs at once" if n > 1 else f"{m.upper()} one at a time"
                              for m, n in stacked.items()) + " (a stacked run's time is its share)"
  return _claim("h2", f"{cnn} trains faster than FC (FC time / {cnn} time > 1)", f"{paper.H2_SPEEDUP:g}x",
                f"{fmt.num(g)}x{plain}, CI {fmt.ci_g(t['ci_low'], t['ci_high'])}",
                direction(t["ci_low"], t["ci_high"], +1, 1.0, "1x (equal time)"), extra, primary=False)


def h3(row: dict | None) -> dict | None:
  if row is None:
    return None
  return _claim("h3", "the generalisation gap shrinks as rows per category grow",
                f"Fig. 8 ({paper.NOT_IN_SOURCE} as numbers)",
                f"{fmt.signed(row['coef'], scale=100)} points of gap per 10x rows, "
                f"CI {fmt.ci(row['ci_low'], row['ci_high'], scale=100)}",
                direction(row["ci_low"], row["ci_high"], -1), f"OLS of gap on log10(n), n = {row['n']} runs")


def h4(row: dict | None, table: list[dict]) -> dict | None:
  if row is None:
    return None
  ends = []
  for r in table:
    if r["model"] == row.get("model") and r["paper_minority_accuracy"] is not None:
      m = r["minority_accuracy"]
      ends.append(f"at {fmt.ratio_pct(r['imbalance_ratio'])} ours {fmt.pct(m['mean'], 1)} vs paper "
                  f"{fmt.pct(r['paper_minority_accuracy'], 0)} ({inside(r['paper_minority_accuracy'], m['ci_low'], m['ci_high'])})")
  return _claim("h4", "minority accuracy rises with the imbalance ratio",
                " to ".join(f"{fmt.pct(acc, 0)} at {fmt.ratio_pct(r)}" for r, acc in paper.H4_MINORITY_ACCURACY.items()),
                f"{fmt.signed(row['coef'], scale=100)} points per 10x ratio, CI {fmt.ci(row['ci_low'], row['ci_high'], scale=100)}",
                direction(row["ci_low"], row["ci_high"], +1),
                "; ".join(ends) or "the paper's endpoint ratios (0.2%, 100%) were not run")


def h5(acc: dict | None, loss: dict | None) -> list[dict]:
  out = []
  if acc is not None:
    out.append(_claim("h5", "accuracy falls as categories are added", f"{paper.H5_ACC_POINTS_PER_CATEGORY:+.2f} points per category",
                      f"{fmt.signed(acc['coef'], scale=100)} points per category, CI {fmt.ci(acc['ci_low'], acc['ci_high'], scale=100)}",
                      direction(acc["ci_low"], acc["ci_high"], -1),
                      inside(paper.H5_ACC_POINTS_PER_CATEGORY / 100, acc["ci_low"], acc["ci_high"])))
  if loss is not None:
    rel = {k: loss[f"relative_{k}"] for k in ("change", "ci_low", "ci_high")}
    out.append(_claim("h5", "test loss rises as categories are added",
                      f"+{100 * paper.H5_LOSS_RELATIVE_PER_CATEGORY:.1f}% per category",
                      f"{fmt.signed(rel['change'], 1, 100)}% per category, CI {fmt.ci(rel['ci_low'], rel['ci_high'], 1, 100)}%",
                      direction(rel["ci_low"], rel["ci_high"], +1),
                      inside(paper.H5_LOSS_RELATIVE_PER_CATEGORY, rel["ci_low"], rel["ci_high"]), primary=acc is None))
  return out


def h6(acc: dict | None) -> dict | None:
  if acc is None:
    return None
  per_k = 100 * 1000  # fraction per row -> points per 1,000 rows
  return _claim("h6", "accuracy rises with rows per category",
                f"+{paper.H6_ACC_POINTS_PER_ROW:g} points per row (+{paper.H6_ACC_POINTS_PER_ROW * 1000:g} per 1,000)",
                f"{fmt.signed(acc['coef'], 3, per_k)} points per 1,000 rows, CI {fmt.ci(acc['ci_low'], acc['ci_high'], 3, per_k)}",
                direction(acc["ci_low"], acc["ci_high"], +1),
                inside(paper.H6_ACC_POINTS_PER_ROW / 100, acc["ci_low"], acc["ci_high"]))


def decide(a: dict, bar: float) -> list[dict]:
  """Every claim the analysis dict `a` can decide, in hypothesis order."""
  pm, rows_ = a["primary_models"], a["ols"]
  h2d = a["deltas"].get("h2") or {}
  acc, time = h2d.get("accuracy", []), h2d.get("train_time_ratio", [])
  out = [h1(a["deltas"].get("h1"), bar),
         # CNN2 is the equal-parameter comparison; CNN1 stands in only when CNN2 did not run
         h2_accuracy(next((d for d in acc if d["a"] == "cnn2"), acc[0] if acc else None)),
         h2_speed(next((t for t in time if t["b"] == "cnn2"), time[0] if time else None)),
         h3(ols.find(rows_, "h3", "generalisation_gap", "log10(rows_per_category)", pm.get("h3"))),
         h4(ols.find(rows_, "h4", "minority_accuracy", "log10(imbalance_ratio)", pm.get("h4")), a["h4"])]
  out += h5(ols.find(rows_, "h5", "test_accuracy", "num_categories", pm.get("h5")),
            ols.find(rows_, "h5", "log(test_loss)", "num_categories", pm.get("h5")))
  out.append(h6(ols.find(rows_, "h6", "test_accuracy", "rows_per_category", pm.get("h6"))))
  return [c for c in out if c is not None]
