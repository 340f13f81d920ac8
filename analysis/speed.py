"""H2's "13x faster" as time to accuracy, from the runs' per-epoch records.

The authors' FC trained 1,600 epochs against the CNNs' 10 and no timing code exists [repo], so
the claim is read as wall time to an accuracy: for each run and target, `seconds` sums the run's
per-epoch `seconds` up to the first epoch whose `val_accuracy` reaches the target (null if none
does), and `epochs` is that epoch. The targets are FC's best validation accuracy (the mean over
its seeds, and each seed's own), and the fixed ones of paper.SPEED_TARGETS. The verdict's ratio
is, seed by seed, FC's time to its own best over the CNN's time to that same accuracy.
"""

import math

import numpy as np

from analysis import deltas, paper
from analysis import runs as rs

FC_BEST_MEAN, FC_BEST_SEED, FIXED = "fc_best_mean", "fc_best_of_seed", "fixed"


def reach(history: list[dict], target: float) -> tuple[int | None, float | None]:
  """(epoch, seconds so far) at the first epoch whose val_accuracy >= target, or (None, None)."""
  seconds = 0.0
  for e in history:
    seconds += e["seconds"]
    if e["val_accuracy"] >= target:
      return e["epoch"], seconds
  return None, None


def best(r: dict) -> float:
  return max(e["val_accuracy"] for e in r["epochs"])


def _row(h: str, r: dict, target: float, kind: str) -> dict:
  epochs, seconds = reach(r["epochs"], target)
  return {"hypothesis": h, "model": r["model"], "seed": r["seed"], "target": target, "target_kind": kind,
          "epochs": epochs, "seconds": seconds, "models_at_once": r.get("models_at_once", 1), "budget": len(r["epochs"])}


def time_to_accuracy(runs: list[dict]) -> list[dict]:
  """analysis.json's `time_to_accuracy`: one row per (run, target) of the hypotheses that time models."""
  out = []
  for h in paper.named(paper.VERSUS):
    mine = [r for r in rs.of(runs, h) if r.get("epochs")]
    fc = {r["seed"]: best(r) for r in mine if r["model"] == paper.FC}
    if not fc:
      continue
    targets = [(float(np.mean(list(fc.values()))), FC_BEST_MEAN)] + [(t, FIXED) for t in paper.SPEED_TARGETS]
    for r in sorted(mine, key=lambda r: (rs.MODEL_ORDER.index(r["model"]) if r["model"] in rs.MODEL_ORDER else 99,
                                         r["seed"])):
      out += [_row(h, r, t, kind) for t, kind in targets]
      if r["seed"] in fc:
        out.append(_row(h, r, fc[r["seed"]], FC_BEST_SEED))
  return out


def ratios(rows: list[dict]) -> list[dict]:
  """Per CNN: FC's seconds over the CNN's to reach FC's best (each seed's own), with a t-CI on
  their logs over seeds (times are multiplicative); seeds where the CNN never got there are listed."""
  out = []
  for h in sorted({r["hypothesis"] for r in rows}):
    at = {(r["model"], r["seed"]): r for r in rows if r["hypothesis"] == h and r["target_kind"] == FC_BEST_SEED}
    for cnn in paper.CNNS:
      seeds = sorted(s for m, s in at if m == cnn and (paper.FC, s) in at)
      if not seeds:
        continue
      ok = [s for s in seeds if at[cnn, s]["seconds"] and at[paper.FC, s]["seconds"]]
      per_seed = [at[paper.FC, s]["seconds"] / at[cnn, s]["seconds"] for s in ok]
      ci = deltas.mean_ci([math.log(x) for x in per_seed])
      out.append({"hypothesis": h, "a": paper.FC, "b": cnn, "seeds": ok, "per_seed": per_seed,
                  "never": [s for s in seeds if s not in ok],
                  "a_epochs": [at[paper.FC, s]["epochs"] for s in seeds], "b_epochs": [at[cnn, s]["epochs"] for s in seeds],
                  "a_at_budget_end": [s for s in seeds if at[paper.FC, s]["epochs"] == at[paper.FC, s]["budget"]],
                  "targets": [at[paper.FC, s]["target"] for s in seeds],
                  "models_at_once": {m: max(at[m, s]["models_at_once"] for s in seeds) for m in (paper.FC, cnn)},
                  **{k: math.exp(ci[v]) if per_seed else math.nan
                     for k, v in (("geo_mean", "mean"), ("ci_low", "ci_low"), ("ci_high", "ci_high"))}})
  return out


def convergence(runs: list[dict]) -> list[dict]:
  """Per timed model: where its best validation accuracy came, against its epoch budget and rule."""
  out = []
  for h in paper.named(paper.VERSUS):
    for model in rs.models(rs.of(runs, h)):
      group = [r for r in rs.of(runs, h, model) if r.get("epochs")]
      out.append({"hypothesis": h, "model": model, "seeds": [r["seed"] for r in group],
                  "best_epoch": [max(r["epochs"], key=lambda e: e["val_accuracy"])["epoch"] for r in group],
                  "best_val_accuracy": [best(r) for r in group], "epochs": [len(r["epochs"]) for r in group],
                  "stopping": sorted({r.get("stopping", "fixed epochs") for r in group}),
                  "models_at_once": sorted({r.get("models_at_once", 1) for r in group}),
                  "seconds_per_epoch": float(np.mean([e["seconds"] for r in group for e in r["epochs"]]))})
  return out
