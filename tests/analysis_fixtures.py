"""Synthetic workdirs for analysis/'s tests: runs.jsonl records for h1-h6 in qd_jax's schema,
with plausible numbers and known trends (accuracy falls with k, rises with n; the H3 gap shrinks
with n; H4's minority accuracy rises), and the paper's text where it is found.
"""

import json
import math
import os
import pathlib

import numpy as np

from analysis import confusion, paper

def _paper_md() -> pathlib.Path:
  """The paper's text: in ../shared/paper beside the checkout, or beside $QD_DATA_DIR's data folder."""
  beside = pathlib.Path(__file__).resolve().parents[2] / "shared" / "paper" / "paper.md"
  data = pathlib.Path(os.environ.get("QD_DATA_DIR", "/nonexistent")).resolve()
  return beside if beside.is_file() else data.parents[1] / "paper" / "paper.md"


PAPER_MD = _paper_md()

TEN = list(paper.CATEGORIES)


def _confusion(k: int, acc: float, test_per_class: int, recalls=None) -> list[list[int]]:
  """A k x k matrix whose per-class accuracy is `recalls` (default: acc for every class)."""
  recalls = recalls if recalls is not None else [acc] * k
  cm = np.zeros((k, k), int)
  for i, rec in enumerate(recalls):
    cm[i, i] = round(rec * test_per_class)
    wrong = test_per_class - cm[i, i]
    others = [j for j in range(k) if j != i]
    for w in range(wrong):
      cm[i, others[w % len(others)]] += 1
  return cm.tolist()


def make_run(h, model, seed, *, k=10, n=1000, acc=0.8, loss=0.6, point=None, epochs=3, gap=0.02,
             seconds=10.0, recalls=None, categories=None, rows_requested=None, quick=False, design=None):
  """One runs.jsonl record in qd_jax's schema, with per-epoch curves that end at acc and gap."""
  cats = categories or TEN[:k]
  test = max(1, n // 5)
  cm = _confusion(k, acc, test, recalls)
  rec = confusion.recalls(cm)
  eps = []
  for e in range(1, epochs + 1):
    frac = e / epochs
    val = acc - 0.15 * (1 - frac)
    eps.append({"epoch": e, "train_accuracy": val + gap * frac, "val_accuracy": val,
                "train_loss": loss * (1.5 - 0.6 * frac), "val_loss": loss * (1.4 - 0.4 * frac),
                "seconds": seconds / epochs, "samples_per_s": 1000.0})
  return {"hypothesis": h, "model": model, "param_count": {"fc": 20067, "cnn1": 320890, "cnn2": 19322}[model],
          "seed": seed, "categories": cats, "num_categories": k, "rows_per_category": n,
          "rows_requested": rows_requested or n,
          "split": [{"category": c, "label": i, "file": f"{c}.npy", "rows_in_file": 5 * n,
                     "train": int(0.7 * n), "val": n // 10, "test": test} for i, c in enumerate(cats)],
          "epochs": eps, "test_accuracy": float(np.trace(np.asarray(cm)) / (k * test)), "test_loss": loss,
          "per_class_accuracy": {c: float(rec[i]) for i, c in enumerate(cats)}, "confusion_matrix": cm,
          "test_examples": k * test, "train_seconds": seconds, "compile_seconds": 1.0,
          "input_pipeline": "device", "batch_size": 128, "learning_rate": 1e-3, "devices": 1,
          "quick": quick, "point": point or {}, **({"design": design} if design else {})}


def fixture_runs(seeds=(0, 1)) -> list[dict]:
  rng = np.random.default_rng(7)
  noise = lambda s=0.004: float(rng.normal(0, s))
  runs = []
  for s in seeds:
    runs.append(make_run("h1", "fc", s, acc=0.74 + noise(), seconds=1.0))
    for model, acc, sec, epochs in (("fc", 0.74, 1.0, 12), ("cnn1", 0.83, 40.0, 3), ("cnn2", 0.84, 20.0, 3)):
      runs.append(make_run("h2", model, s, acc=acc + noise(), seconds=sec * (1 + noise(0.05)), epochs=epochs))
    for n in (500, 1000, 3000):
      runs.append(make_run("h3", "cnn2", s, n=n, acc=0.7 + 0.03 * math.log10(n) + noise(),
                           gap=0.12 - 0.035 * math.log10(n) + noise(0.003), epochs=4, point={"rows_per_category": n}))
    for r in (0.002, 0.02, 0.2, 1.0):
      for arm, lift in (("none", 0.0), ("class_weight", 0.2), ("affine", 0.05)):
        if arm != "none" and r == 1.0:
          continue
        minority = min(0.99, 0.5 + 0.15 * (math.log10(r) + 3) + lift + noise(0.01))
        runs.append(make_run("h4", "cnn2", s, k=2, n=2000, acc=0.0, recalls=[0.97 + noise(0.005), minority],
                             categories=["fork", "hammer"],
                             point={"imbalance_ratio": r, "augmentation": arm, "majority": "fork", "minority": "hammer",
                                    "majority_train_rows": 1400, "minority_train_rows": max(1, round(1400 * r))}))
    runs += grid_runs(s, noise)
  return runs


def grid_runs(seed, noise, ks=(3, 4, 5), ns=(1000, 2000, 3000)) -> list[dict]:
  """The k x n grid's runs as `--hypothesis=all` records them: trained by h5, named by the design."""
  return [make_run("h5", "cnn2", seed, k=k, n=n, acc=1.0 - 0.02 * k + 2e-5 * n + noise(),
                   loss=0.1 + 0.06 * k - 5e-5 * n + noise(0.003), design="grid",
                   point={"num_categories": k, "rows_per_category": n}) for k in ks for n in ns]


def write_workdir(path, runs) -> None:
  path.mkdir(parents=True, exist_ok=True)
  (path / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in runs))
