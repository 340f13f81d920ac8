"""What each hypothesis really ran with, and where that falls short of the paper's scale."""

from analysis import paper
from analysis import runs as rs


def _sorted_set(values) -> list:
  return sorted({v for v in values if v is not None})


def used(runs: list[dict]) -> dict:
  """{hypothesis: what its runs used}, only for hypotheses present in runs."""
  out = {}
  for h in rs.HYPOTHESES:
    group = rs.of(runs, h)
    if not group:
      continue
    cats = []
    for r in group:
      cats += [c for c in r.get("categories") or [] if c not in cats]
    s = {"categories": cats, "num_categories": _sorted_set(rs.num_categories(r) for r in group),
         "rows_per_category": _sorted_set(r.get("rows_per_category") for r in group),
         "rows_requested": _sorted_set(r.get("rows_requested") for r in group),
         "rows_asked": _sorted_set(rs.rows_asked(r) for r in group),
         "seeds": len(rs.seeds(group)), "runs": len(group), "models": rs.models(group),
         "epochs": _sorted_set(len(r.get("epochs") or []) for r in group),
         "quick": any(r.get("quick") for r in group), "paper_design": paper.DESIGN[h]}
    if h == "h4":
      s["rows_asked"] = []  # H4 asks for majority_train_rows and ratios, not rows per category
      s["imbalance_ratio"] = _sorted_set(rs.imbalance_ratio(r) for r in group)
      s["majority_train_rows"] = _sorted_set((r.get("point") or {}).get("majority_train_rows") for r in group)
    s["reasons"] = reasons(h, group, s)
    s["reduced_scale"] = bool(s["reasons"])
    out[h] = s
  return out


def reasons(h: str, group: list[dict], s: dict) -> list[str]:
  """Why a hypothesis ran at reduced scale (empty when it matched the paper as far as we know)."""
  why = []
  # H4 sizes its classes by majority_train_rows, not by rows per category
  capped = [] if h == "h4" else sorted({(rs.rows(r), rs.rows_asked(r)) for r in group
                                        if rs.rows_asked(r) and rs.rows(r) < rs.rows_asked(r)})
  if capped:
    why.append("rows per category capped to the data: " +
               ", ".join(f"{u:,} used of {a:,} asked" for u, a in capped))
  if h == "h4":
    pair = {paper.H4_MAJORITY, paper.H4_MINORITY}
    if any(set(r.get("categories") or []) != pair for r in group):
      why.append(f"classes {', '.join(s['categories'])}, not the paper's {paper.H4_MAJORITY} vs {paper.H4_MINORITY}")
    if s["majority_train_rows"] and max(s["majority_train_rows"]) < paper.H4_MAJORITY_ROWS:
      why.append(f"majority class trained on {max(s['majority_train_rows']):,} rows "
                 f"(paper: {paper.H4_MAJORITY_ROWS:,})")
  elif not set(s["categories"]) <= set(paper.CATEGORIES):
    why.append("categories differ from the paper's ten")
  if s["quick"]:
    why.append("--quick (a smoke-test cut)")
  if h == "h3" and s["epochs"] and max(s["epochs"]) < max(paper.H3_EPOCHS):
    why.append(f"{max(s['epochs'])} epochs, not the paper's {max(paper.H3_EPOCHS)}")
  if h == "h6" and s["rows_per_category"] and max(s["rows_per_category"]) < paper.H6_ROWS_RANGE[1]:
    why.append(f"n up to {max(s['rows_per_category']):,} (paper: {paper.H6_ROWS_RANGE[0]:,}"
               f"-{paper.H6_ROWS_RANGE[1]:,})")
  if h == "h5" and s["num_categories"] and max(s["num_categories"]) < max(paper.H5_K):
    why.append(f"k up to {max(s['num_categories'])} (paper: {min(paper.H5_K)}-{max(paper.H5_K)})")
  return why
