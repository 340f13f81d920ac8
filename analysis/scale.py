"""What each hypothesis really ran with, and where that falls short of the paper's scale."""

from analysis import paper
from analysis import runs as rs


def _sorted_set(values) -> list:
  return sorted({v for v in values if v is not None})


def used(runs: list[dict]) -> dict:
  """{hypothesis: what its runs used}, for the paper's hypotheses with runs to read."""
  out = {}
  for h in rs.present(runs):
    group, kind = rs.serving(runs, h), paper.kind_of(h)
    cats = []
    for r in group:
      cats += [c for c in r.get("categories") or [] if c not in cats]
    s = {"categories": cats, "num_categories": _sorted_set(rs.num_categories(r) for r in group),
         "rows_per_category": _sorted_set(r.get("rows_per_category") for r in group),
         "rows_requested": _sorted_set(r.get("rows_requested") for r in group),
         "rows_asked": _sorted_set(rs.rows_asked(r) for r in group),
         "seeds": len(rs.seeds(group)), "runs": len(group), "models": rs.models(group),
         "epochs": _sorted_set(len(r.get("epochs") or []) for r in group),
         "quick": any(r.get("quick") for r in group), "paper_design": paper.BY_NAME[h].design,
         "kind": kind, "trained_by": _sorted_set(r["hypothesis"] for r in group)}
    if kind == paper.IMBALANCE:
      s["rows_asked"] = []  # sized by majority_train_rows and ratios or counts, not rows per category
      s["imbalance_ratio"] = _sorted_set(rs.imbalance_ratio(r) for r in group)
      s["majority_train_rows"] = _sorted_set((r.get("point") or {}).get("majority_train_rows") for r in group)
      s["augmentations"] = sorted({rs.augmentation(r) for r in group})
    s["reasons"] = reasons(kind, group, s)
    s["reduced_scale"] = bool(s["reasons"])
    out[h] = s
  return out


def _imbalance(s: dict, group: list[dict]) -> list[str]:
  why = []
  pair = {paper.H4_MAJORITY, paper.H4_MINORITY}
  if any(set(r.get("categories") or []) != pair for r in group):
    why.append(f"classes {', '.join(s['categories'])}, not the paper's {paper.H4_MAJORITY} vs {paper.H4_MINORITY}")
  if s["majority_train_rows"] and max(s["majority_train_rows"]) < paper.H4_MAJORITY_ROWS:
    why.append(f"majority class trained on {max(s['majority_train_rows']):,} rows (paper: {paper.H4_MAJORITY_ROWS:,}), "
               "so its ratios give fewer minority rows than the paper's; the minority counts keep the paper's rows")
  return why


def reasons(kind: str, group: list[dict], s: dict) -> list[str]:
  """Why a hypothesis ran at reduced scale (empty when it matched the paper as far as we know)."""
  why = []
  capped = [] if kind == paper.IMBALANCE else sorted(
      {(rs.rows(r), rs.rows_asked(r)) for r in group if rs.rows_asked(r) and rs.rows(r) < rs.rows_asked(r)})
  if capped:
    why.append("rows per category capped to the data: " + ", ".join(f"{u:,} used of {a:,} asked" for u, a in capped))
  if kind == paper.IMBALANCE:
    why += _imbalance(s, group)
  elif not set(s["categories"]) <= set(paper.CATEGORIES):
    why.append("categories differ from the paper's ten")
  if s["quick"]:
    why.append("--quick (a smoke-test cut)")
  if kind == paper.OVERFITTING and s["epochs"] and max(s["epochs"]) < max(paper.H3_EPOCHS):
    why.append(f"{max(s['epochs'])} epochs, not the paper's {max(paper.H3_EPOCHS)}")
  if kind in paper.GRID_KINDS:
    ks, ns = paper.GRID_FIGURES["k"], paper.GRID_FIGURES["n"]
    if s["rows_per_category"] and max(s["rows_per_category"]) < max(ns):
      why.append(f"n up to {max(s['rows_per_category']):,} (paper's grid: {min(ns):,}-{max(ns):,})")
    if s["num_categories"] and max(s["num_categories"]) < max(ks):
      why.append(f"k up to {max(s['num_categories'])} (paper's grid: {min(ks)}-{max(ks)})")
  return why
