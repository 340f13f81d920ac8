"""analysis/: OLS and HC3 against hand computations, CI coverage, and the report end to end.

The workdir fixture is synthesised here: runs for h1-h6 with plausible numbers and known trends
(accuracy falls with k, rises with n; the H3 gap shrinks with n; H4's minority accuracy rises).
"""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from analysis import confusion, deltas, human, ols, paper, report
from analysis import summary

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
             seconds=10.0, recalls=None, categories=None, rows_requested=None, quick=False):
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
          "quick": quick, "point": point or {}}


def fixture_runs(seeds=(0, 1)) -> list[dict]:
  rng = np.random.default_rng(7)
  noise = lambda s=0.004: float(rng.normal(0, s))
  runs = []
  for s in seeds:
    runs.append(make_run("h1", "fc", s, acc=0.74 + noise(), seconds=1.0))
    for model, acc, sec in (("fc", 0.74, 1.0), ("cnn1", 0.83, 40.0), ("cnn2", 0.84, 20.0)):
      runs.append(make_run("h2", model, s, acc=acc + noise(), seconds=sec * (1 + noise(0.05))))
    for n in (500, 1000, 3000):
      runs.append(make_run("h3", "cnn2", s, n=n, acc=0.7 + 0.03 * math.log10(n) + noise(),
                           gap=0.12 - 0.035 * math.log10(n) + noise(0.003), epochs=4, point={"rows_per_category": n}))
    for r in (0.002, 0.02, 0.2, 1.0):
      minority = min(0.99, 0.5 + 0.15 * (math.log10(r) + 3) + noise(0.01))
      runs.append(make_run("h4", "cnn2", s, k=2, n=2000, acc=0.0, recalls=[0.97 + noise(0.005), minority],
                           categories=["fork", "hammer"],
                           point={"imbalance_ratio": r, "majority": "fork", "minority": "hammer",
                                  "majority_train_rows": 1400, "minority_train_rows": max(1, round(1400 * r))}))
    for k in (3, 4, 5, 6):
      runs.append(make_run("h5", "cnn2", s, k=k, n=1000, acc=0.95 - 0.02 * (k - 3) + noise(),
                           loss=0.2 * 1.07 ** (k - 3) * (1 + noise(0.01)), point={"num_categories": k}))
    for n in (1000, 2000, 3000):
      runs.append(make_run("h6", "cnn2", s, k=10, n=n, acc=0.78 + 2e-5 * n + noise(),
                           loss=0.7 - 2e-5 * n + noise(0.003), point={"rows_per_category": n},
                           rows_requested=n))
  return runs


def write_workdir(path, runs) -> None:
  path.mkdir(parents=True, exist_ok=True)
  (path / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in runs))


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


# --- the report -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def built(tmp_path_factory):
  wd = tmp_path_factory.mktemp("wd")
  runs = fixture_runs()
  write_workdir(wd, runs)
  (wd / "human.jsonl").write_text("".join(
      json.dumps({"id": f"{c}:{i}", "true": c, "answer": c if i % 5 else TEN[0], "ms": 1500, "name": "a"}) + "\n"
      for c in TEN for i in range(10)))
  return wd, runs, report.build(wd)


def test_report_builds_with_every_section(built):
  wd, _, a = built
  assert a == json.loads((wd / "analysis.json").read_text())
  assert a["ols"] and all(set(ols.KEYS) <= set(r) for r in a["ols"])
  md = (wd / "REPORT.md").read_text()
  for h in ("H1", "H2", "H3", "H4", "H5", "H6", "Human baseline"):
    assert h in md
  marked = {c["hypothesis"] for c in a["verdicts"] if c["primary"]}
  assert marked == {"h1", "h2", "h3", "h4", "h5", "h6"}
  assert all(c["verdict"] in ("supported", "not supported", "inconclusive") for c in a["verdicts"])
  assert md.count("**supported**") + md.count("**not supported**") + md.count("**inconclusive**") >= 6
  pngs = sorted(p.name for p in wd.glob("*.png"))
  assert len(pngs) >= 4 and set(a["figures"]) == set(pngs)
  assert all(f"({p})" in md for p in pngs)  # every figure is linked


def test_summary_md_gives_report_md_verdicts(built):
  """summary.md (written by the launcher) and REPORT.md decide H1 and H2 by one rule: with CNN2 ~10
  points ahead, +5 lies outside the CI and both must still say "supported"."""
  _, runs, a = built
  lines = "\n".join(summary.h1_answer([r for r in runs if r["hypothesis"] == "h1"], report.REASONABLE_DEFAULT)
                    + summary.h2_answer([r for r in runs if r["hypothesis"] == "h2"]))
  claims = [c for c in a["verdicts"] if c["hypothesis"] in ("h1", "h2")]
  assert len(claims) == 3 and claims[1]["verdict"] == "supported"
  for c in claims:
    assert f"**{c['verdict']}** ({c['reason']})" in lines


def test_fixture_trends_are_found(built):
  _, _, a = built
  v = {(c["hypothesis"], c["primary"]): c["verdict"] for c in a["verdicts"]}
  assert v[("h2", True)] == v[("h3", True)] == v[("h4", True)] == v[("h5", True)] == v[("h6", True)] == "supported"
  assert a["scale"]["h2"]["reduced_scale"] is False and a["scale"]["h4"]["reduced_scale"] is True


def test_h5_h6_slopes_equal_polyfit(built):
  _, runs, a = built
  for h, regressor, x_key in (("h5", "num_categories", "num_categories"), ("h6", "rows_per_category", "rows_per_category")):
    group = [r for r in runs if r["hypothesis"] == h]
    x = [r[x_key] for r in group]
    for response in ("test_accuracy", "test_loss"):
      row = ols.find(a["ols"], h, response, regressor, "cnn2")
      assert row["n"] == len(group)
      assert abs(row["coef"] - np.polyfit(x, [r[response] for r in group], 1)[0]) < 1e-10
  joint = [r for r in a["ols"] if r["hypothesis"] == "h5+h6"]
  assert {r["regressor"] for r in joint} == {"num_categories", "rows_per_category"}
  rel = ols.find(a["ols"], "h5", "log(test_loss)", "num_categories", "cnn2")
  assert rel["relative_ci_low"] < 0.07 < rel["relative_ci_high"]


def test_single_seed_and_missing_hypotheses(tmp_path):
  runs = [r for r in fixture_runs(seeds=(0,)) if r["hypothesis"] in ("h2", "h5")]
  write_workdir(tmp_path, runs)
  a = report.build(tmp_path)
  md = (tmp_path / "REPORT.md").read_text()
  assert "no interval" in md and "not run in this workdir" in md and "## H3" not in md
  h2 = next(c for c in a["verdicts"] if c["hypothesis"] == "h2" and c["primary"])
  assert h2["verdict"] == "inconclusive"
  assert ols.find(a["ols"], "h5", "test_accuracy", "num_categories", "cnn2")["n"] == 4


def test_workdir_without_runs_is_refused(tmp_path):
  with pytest.raises(report.AnalysisError, match="no runs.jsonl"):
    report.build(tmp_path)


def test_cli_missing_workdir_exits_2_with_one_line(tmp_path):
  out = subprocess.run([sys.executable, "-m", "analysis", f"--workdir={tmp_path / 'missing'}"],
                       capture_output=True, text=True, timeout=120)
  assert out.returncode == 2
  assert out.stderr.startswith("analysis: error: ") and len(out.stderr.strip().splitlines()) == 1


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


def test_h2_speed_says_when_the_models_trained_stacked_differently():
  from analysis import architectures, verdicts
  runs = [make_run("h2", m, s, seconds=sec) for s in (0, 1, 2) for m, sec in (("fc", 1.0), ("cnn2", 5.0))]
  plain = verdicts.h2_speed(architectures.h2_deltas(runs)["train_time_ratio"][0])
  assert "at once" not in plain["reason"]
  for r in runs:
    r["models_at_once"] = 3 if r["model"] == "fc" else 1
  marked = verdicts.h2_speed(architectures.h2_deltas(runs)["train_time_ratio"][0])
  assert "FC trained 3 runs at once, CNN2 one at a time" in marked["reason"]
  assert marked["ours"] == plain["ours"]
