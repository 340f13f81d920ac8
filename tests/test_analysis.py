"""analysis/'s pieces: OLS and HC3 against hand computations, CI coverage, confusion scores,
the paper's tables against its text, and the human and summary helpers (the report end to end
is tests/test_report.py)."""

import math
import re

import numpy as np
import pytest

from analysis import confusion, deltas, human, ols, paper, summary

from analysis_fixtures import PAPER_MD


# --- OLS -------------------------------------------------------------------------------------

def test_ols_recovers_a_known_slope_and_equals_lstsq():
  rng = np.random.default_rng(0)
  x = rng.uniform(0, 10, 300)
  y = 2.0 + 0.5 * x + rng.normal(0, 0.3, 300)
  f = ols.fit(y, {"x": x})
  t = f["terms"][0]
  assert abs(t["coef"] - 0.5) < 0.02 and t["ci_low"] < 0.5 < t["ci_high"]
  beta = np.linalg.lstsq(np.column_stack([np.ones_like(x), x]), y, rcond=None)[0]
  assert abs(t["coef"] - beta[1]) < 1e-10 and abs(f["intercept"] - beta[0]) < 1e-10
  assert f["n"] == 300 and 0.9 < f["r2"] < 1


def test_hc3_standard_error_matches_a_hand_computation():
  x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 7.0])
  y = np.array([1.1, 1.9, 3.4, 3.9, 5.6, 6.1])
  X = np.column_stack([np.ones_like(x), x])
  bread = np.linalg.inv(X.T @ X)
  e = y - X @ (bread @ X.T @ y)
  h = np.einsum("ij,jk,ik->i", X, bread, X)  # leverages
  meat = X.T @ np.diag(e ** 2 / (1 - h) ** 2) @ X
  se = np.sqrt(np.diag(bread @ meat @ bread))
  f = ols.fit(y, {"x": x})
  assert abs(f["terms"][0]["se"] - se[1]) < 1e-12
  # t-based CI with n - 2 degrees of freedom
  from scipy import stats
  half = stats.t.ppf(0.975, 4) * se[1]
  assert abs(f["terms"][0]["ci_high"] - f["terms"][0]["coef"] - half) < 1e-10


def test_ols_refuses_a_regressor_that_does_not_vary():
  assert ols.fit([0.8, 0.81, 0.79], {"k": [10, 10, 10]}) is None
  assert ols.fit([0.8, 0.7], {"k": [3, 4]}) is None  # two points: no residual degrees of freedom


# --- intervals --------------------------------------------------------------------------------

def test_paired_delta_ci_covers_the_truth_at_the_nominal_rate():
  rng = np.random.default_rng(2024)
  truth, covered, trials = 0.05, 0, 2000
  for _ in range(trials):
    m = int(rng.integers(3, 6))
    seed_effect = rng.normal(0, 0.02, m)  # shared by both models of a seed: the pairing
    fc = 0.74 + seed_effect + rng.normal(0, 0.005, m)
    cnn = 0.74 + truth + seed_effect + rng.normal(0, 0.005, m)
    runs = [{"model": "fc", "seed": s, "test_accuracy": fc[s]} for s in range(m)]
    runs += [{"model": "cnn2", "seed": s, "test_accuracy": cnn[s]} for s in range(m)]
    d = deltas.paired_delta(runs, "cnn2", "fc")
    covered += d["ci_low"] <= truth <= d["ci_high"]
  assert 0.93 <= covered / trials <= 0.97


def test_one_seed_gives_no_interval():
  d = deltas.ratio_ci([{"model": "fc", "seed": 0, "train_seconds": 1.0},
                       {"model": "cnn2", "seed": 0, "train_seconds": 4.0}], "fc", "cnn2")
  assert d["geo_mean"] == pytest.approx(0.25) and math.isnan(d["ci_low"])


def test_confusion_scores_by_hand():
  cm = [[8, 2], [5, 5]]
  assert confusion.balanced_accuracy(cm) == pytest.approx((0.8 + 0.5) / 2)
  f1 = [2 * 8 / (16 + 5 + 2), 2 * 5 / (10 + 2 + 5)]
  assert confusion.macro_f1(cm) == pytest.approx(np.mean(f1))


def test_wilson_interval():
  low, high = human.wilson(87, 100)
  assert low == pytest.approx(0.7904, abs=1e-3) and high == pytest.approx(0.9224, abs=1e-3)


# --- the paper, imbalance ratios, human scores, summary.md ---------------------------------

def test_paper_tables_match_the_papers_text():
  text = PAPER_MD.read_text() if PAPER_MD.is_file() else pytest.skip(f"{PAPER_MD} is not here")
  fig8 = re.findall(r"^(\d+)\t" + r"\t".join([r"\(([\d.]+), ([\d.]+)\)"] * 4) + "$", text, re.M)
  assert len(fig8) == 6
  for row in fig8:
    n, cells = int(row[0]), [float(v) for v in row[1:]]
    want = paper.FIG8[n]
    got = [v for m in ("train_accuracy", "val_accuracy", "train_loss", "val_loss") for v in want[m]]
    assert got == cells, n
  fig9 = re.findall(r"^50000\t(\d+)\t(\d+)\t(\d+)\t(\d+)\t(\d+)$", text, re.M)
  assert [(r["minority_rows"], round(100 * r["train_accuracy"]), round(100 * r["test_accuracy"]),
           round(100 * r["majority_accuracy"]), round(100 * r["minority_accuracy"])) for r in paper.FIG9] == \
      [tuple(int(v) for v in row) for row in fig9]
  assert "87% accuracy" in text and paper.HUMAN_REPORT == 0.87
  assert "1.88%" in text and "6.4%" in text and ".0016%" in text and ".0056%" in text
  assert "20,067 parameters" in text and "320,890" in text and "19,322" in text
  assert sorted(paper.PARAMS.values()) == [19_322, 20_067, 320_890]


def test_imbalance_ratio_as_fraction_or_percent():
  from analysis import runs as rs
  ratio = lambda v, maj=None, mino=None: rs.imbalance_ratio(
      {"point": {"imbalance_ratio": v, "majority_train_rows": maj, "minority_train_rows": mino}})
  assert ratio(0.2, 50_000, 100) == 0.002  # percent, told apart by the training rows
  assert ratio(0.2, 50_000, 10_000) == 0.2
  assert ratio(50) == 0.5 and ratio(0.5) == 0.5


def test_human_section_is_empty_without_human_jsonl(tmp_path):
  records = human.load(tmp_path)
  assert records == [] and human.human_section(tmp_path, [], records, human.summary(records, [])) == []


def test_models_scored_on_exactly_the_drawings_people_saw():
  from analysis import human
  runs = [{"run_id": "h2/cnn2/seed0", "hypothesis": "h2", "model": "cnn2", "seed": 0, "categories": ["a", "b"]},
          {"run_id": "h2/cnn2/seed1", "hypothesis": "h2", "model": "cnn2", "seed": 1, "categories": ["a", "b"]}]
  predictions = {"h2/cnn2/seed0": {"rows": {"a": [5, 7], "b": [3]}, "pred": {"a": [0, 1], "b": [1]}},
                 "h2/cnn2/seed1": {"rows": {"a": [1], "b": [2]}, "pred": {"a": [0], "b": [0]}}}
  records = [{"id": "a:5", "true": "a", "answer": "a"}, {"id": "a:7", "true": "a", "answer": "b"},
             {"id": "b:3", "true": "b", "answer": "a"}, {"id": "a:99", "true": "a", "answer": "a"}]
  out, = human.models_on_human_drawings(records, runs, predictions)
  assert out["model"] == "cnn2" and out["n"] == 3
  assert out["model_accuracy"] == pytest.approx(2 / 3) and out["human_accuracy"] == pytest.approx(1 / 3)
  # H1's run and another seed's run hold a:5 too; with the page's seed recorded, it still counts once
  runs += [{"run_id": "h1/cnn2/seed0", "hypothesis": "h1", "model": "cnn2", "seed": 0, "categories": ["a", "b"]},
           {"run_id": "h2/cnn2/seed2", "hypothesis": "h2", "model": "cnn2", "seed": 2, "categories": ["a", "b"]}]
  predictions["h1/cnn2/seed0"] = predictions["h2/cnn2/seed0"]
  predictions["h2/cnn2/seed2"] = {"rows": {"a": [5], "b": []}, "pred": {"a": [1], "b": []}}
  out, = human.models_on_human_drawings([dict(r, seed=0) for r in records], runs, predictions)
  assert out["n"] == 3 and out["model_accuracy"] == pytest.approx(2 / 3)
  # a second rater on the same three drawings: still three drawings for the model's CI
  second = [dict(r, seed=0, name="second", answer=r["true"]) for r in records]
  out, = human.models_on_human_drawings([dict(r, seed=0) for r in records] + second, runs, predictions)
  assert out["n"] == 3 and out["model_accuracy"] == pytest.approx(2 / 3)
  assert out["answers"] == 6 and out["human_accuracy"] == pytest.approx(4 / 6)


def test_summary_md_gives_each_models_epoch_budget_where_they_differ():
  # H2's FC trains 30 epochs against the CNNs' 10: one "10 epochs" line would misstate it.
  runs = [{"model": "fc", "epoch_budget": 30, "epochs": [{}] * 30},
          {"model": "cnn2", "epoch_budget": 10, "epochs": [{}] * 10}]
  assert summary._epochs(runs) == "epochs cnn2 10, fc 30"
  assert summary._epochs(runs[1:]) == "10 epochs"
  assert summary._epochs([{"model": "cnn2", "epochs": [{}] * 4}]) == "4 epochs"  # records without a budget
