"""H1 and H2: each model's accuracy against the human baseline, CNN - FC deltas, time ratios."""

from analysis import deltas, paper
from analysis import runs as rs


def accuracies(runs: list[dict]) -> list[dict]:
  """Test accuracy of each (hypothesis, model) that compares models, mean with a t-CI over seeds,
  beside both human baselines."""
  out = []
  for h in paper.named(paper.REASONABLE, paper.VERSUS):
    for model in rs.models(rs.of(runs, h)):
      group = rs.of(runs, h, model)
      acc = deltas.mean_ci([r["test_accuracy"] for r in group])
      out.append({"hypothesis": h, "model": model, "num_categories": rs.num_categories(group[0]),
                  "param_count": group[0].get("param_count"),
                  "epochs": sorted({len(r.get("epochs") or []) for r in group}),
                  "human_gap_points": {k: 100 * (acc["mean"] - v) for k, v in paper.HUMAN.items()}, **acc})
  return out


def versus_deltas(runs: list[dict]) -> dict:
  """CNN - FC test accuracy paired by seed, and FC / CNN train-time ratios, over the runs of the
  hypothesis that compares them (another hypothesis' FC runs share seeds: they must not pair)."""
  out = {"accuracy": [], "train_time_ratio": []}
  for h in paper.named(paper.VERSUS):
    mine = rs.of(runs, h)
    have = set(rs.models(mine))
    if paper.FC not in have:
      continue
    for cnn in (c for c in paper.CNNS if c in have):
      out["accuracy"].append(deltas.paired_delta(mine, cnn, paper.FC))
      ratio = deltas.ratio_ci(mine, paper.FC, cnn)
      # Stacked runs record their share of the cohort's time: say so where the two models differ.
      ratio["models_at_once"] = {m: max(r.get("models_at_once", 1) for r in rs.of(mine, h, m)) for m in (paper.FC, cnn)}
      out["train_time_ratio"].append(ratio)
  return out


def reasonable_fc(acc: list[dict]) -> dict | None:
  """The FC accuracy H1 reads: its own runs', else those of the hypothesis that compares models."""
  for h in paper.named(paper.REASONABLE, paper.VERSUS):
    for a in acc:
      if a["hypothesis"] == h and a["model"] == paper.FC:
        return a
  return None
