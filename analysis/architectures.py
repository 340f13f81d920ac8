"""H1 and H2: each model's accuracy against the human baseline, CNN - FC deltas, time ratios."""

from analysis import deltas, paper
from analysis import runs as rs


def accuracies(runs: list[dict]) -> list[dict]:
  """Test accuracy of each (hypothesis, model) of H1/H2, mean with a t-CI over seeds."""
  out = []
  for h in ("h1", "h2"):
    for model in rs.models(rs.of(runs, h)):
      group = rs.of(runs, h, model)
      acc = deltas.mean_ci([r["test_accuracy"] for r in group])
      out.append({"hypothesis": h, "model": model, "num_categories": rs.num_categories(group[0]),
                  "param_count": group[0].get("param_count"),
                  "human_gap_points": 100 * (acc["mean"] - paper.HUMAN_ACCURACY), **acc})
  return out


def h2_deltas(runs: list[dict]) -> dict:
  """CNN - FC test accuracy paired by seed, and FC / CNN train-time ratios, over H2's runs."""
  h2 = rs.of(runs, "h2")  # H1's FC runs share seeds: they must not pair with H2's CNNs
  have = set(rs.models(h2))
  out = {"accuracy": [], "train_time_ratio": []}
  if "fc" not in have:
    return out
  for cnn in ("cnn2", "cnn1"):
    if cnn in have:
      out["accuracy"].append(deltas.paired_delta(h2, cnn, "fc"))
      ratio = deltas.ratio_ci(h2, "fc", cnn)
      # Stacked runs record their share of the cohort's time: say so where the two models differ.
      ratio["models_at_once"] = {m: max(r.get("models_at_once", 1) for r in rs.of(h2, "h2", m))
                                 for m in ("fc", cnn)}
      out["train_time_ratio"].append(ratio)
  return out


def fc_for_h1(acc: list[dict]) -> dict | None:
  """H1's FC accuracy: from the h1 runs, else from H2's FC runs."""
  for h in ("h1", "h2"):
    for a in acc:
      if a["hypothesis"] == h and a["model"] == "fc":
        return a
  return None
