"""analysis/: OLS and HC3 against hand computations, CI coverage, and the report end to end.

The workdir fixture is synthesised here: runs for h1-h6 with plausible numbers and known trends
(accuracy falls with k, rises with n; the H3 gap shrinks with n; H4's minority accuracy rises).
"""

import json
import math
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

from analysis import confusion, deltas, human, ols, paper, report
from analysis import summary

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
  for h in ("H1", "H2", "H3", "H4", "H5", "H6", "Human baseline", "Time to accuracy", "the joint fit (Fig. 11)"):
    assert h in md
  marked = {c["hypothesis"] for c in a["verdicts"] if c["primary"]}
  assert marked == {"h1", "h2", "h3", "h4", "h5", "h6"}
  assert all(c["verdict"] in ("supported", "not supported", "inconclusive") for c in a["verdicts"])
  assert md.count("**supported**") + md.count("**not supported**") + md.count("**inconclusive**") >= 6
  pngs = sorted(p.name for p in wd.glob("*.png"))
  assert {"fig10_grid_cnn2.png", "speed_time_to_accuracy.png", "fig9_minority_cnn2.png"} <= set(pngs)
  assert set(a["figures"]) == set(pngs) and all(f"({p})" in md for p in pngs)  # every figure is linked


def test_report_quotes_every_number_of_the_paper_it_compares(built):
  wd, _, a = built
  md = (wd / "REPORT.md").read_text()
  for quoted in ("1.601e-05", "+0.0649", "-0.0188", "-5.628e-05", "43%", "98%", "85%", "87%", "0.955 / 91",
                 "(slide: 69)", "85.88%", "63%", "1,600"):
    assert quoted in md, quoted
  assert paper.NOT_IN_SOURCE in md  # Fig. 11's constant has no printed SE in our source


def test_summary_md_gives_report_md_verdicts(built):
  """summary.md (written by the launcher) and REPORT.md decide H1 and H2 by one rule."""
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
  arms = {e["augmentation"]: e["minority_accuracy"]["mean"] for e in a["imbalance_arms"]}
  assert arms == pytest.approx({"class_weight": 0.2, "affine": 0.05}, abs=0.02)
  assert a["scale"]["h6"]["trained_by"] == ["h5"]  # h6 reads the grid h5 trained


def test_joint_fit_is_least_squares_over_the_grid_runs(built):
  _, runs, a = built
  grid_runs_ = [r for r in runs if r.get("design") == "grid"]
  X = np.column_stack([np.ones(len(grid_runs_)), [r["num_categories"] for r in grid_runs_],
                       [r["rows_per_category"] for r in grid_runs_]])
  for response in ("test_accuracy", "test_loss"):
    beta = np.linalg.lstsq(X, [r[response] for r in grid_runs_], rcond=None)[0]
    for cov in ("HC3", "nonrobust"):
      got = [ols.find(a["ols"], "h5+h6", response, reg, "cnn2", cov_type=cov, per="run")
             for reg in ("const", "num_categories", "rows_per_category")]
      assert [g["coef"] for g in got] == pytest.approx(beta, rel=1e-9, abs=1e-12)
      assert {g["formula"] for g in got} == {f"{response} ~ const + num_categories + rows_per_category"}
      assert {g["n"] for g in got} == {len(grid_runs_)}
    per_point = ols.find(a["ols"], "h5+h6", response, "num_categories", "cnn2", cov_type="nonrobust", per="point")
    assert per_point["n"] == 9
  hc3, classical = (ols.find(a["ols"], "h5+h6", "test_accuracy", "rows_per_category", "cnn2", cov_type=c, per="run")
                    for c in ("HC3", "nonrobust"))
  assert hc3["se"] != classical["se"]


def test_an_older_workdirs_separate_sweeps_pool_into_the_grid(tmp_path):
  """Records from before the grid: h5 swept k at n = 1,000, h6 swept n at k = 10, no design."""
  runs = [make_run("h5", "cnn2", s, k=k, n=1000, acc=0.95 - 0.02 * k + 0.001 * s, point={"num_categories": k})
          for s in (0, 1) for k in (3, 5, 7)]
  write_workdir(tmp_path / "only_k", runs)
  a = report.build(tmp_path / "only_k")
  row = ols.find(a["ols"], "h5+h6", "test_accuracy", "num_categories", "cnn2", cov_type="HC3", per="run")
  assert row["formula"] == "test_accuracy ~ const + num_categories" and row["coef"] == pytest.approx(-0.02)
  runs += [make_run("h6", "cnn2", s, k=10, n=n, acc=0.7 + 1e-5 * n, point={"rows_per_category": n})
           for s in (0, 1) for n in (2000, 4000)]
  write_workdir(tmp_path / "both", runs)
  a = report.build(tmp_path / "both")
  assert ols.find(a["ols"], "h5+h6", "test_loss", "rows_per_category", "cnn2", per="run")["n"] == 10


def test_time_to_accuracy_agrees_with_the_per_epoch_records(built):
  _, runs, a = built
  h2 = {(r["model"], r["seed"]): r for r in runs if r["hypothesis"] == "h2"}
  best = np.mean([max(e["val_accuracy"] for e in h2["fc", s]["epochs"]) for s in (0, 1)])
  rows = a["time_to_accuracy"]
  assert [r["target"] for r in rows if r["target_kind"] == "fc_best_mean"] == pytest.approx([best] * 6)
  assert {r["target"] for r in rows if r["target_kind"] == "fixed"} == {0.7, 0.8}
  for row in rows:
    history = h2[row["model"], row["seed"]]["epochs"]
    first = next((e["epoch"] for e in history if e["val_accuracy"] >= row["target"]), None)
    assert row["epochs"] == first
    want = None if first is None else sum(e["seconds"] for e in history[:first])
    assert row["seconds"] == (None if want is None else pytest.approx(want))
  ratio = next(t for t in a["speed"] if t["b"] == "cnn2")
  per_seed = [next(r["seconds"] for r in rows if (r["model"], r["seed"], r["target_kind"]) == ("fc", s, "fc_best_of_seed"))
              / next(r["seconds"] for r in rows if (r["model"], r["seed"], r["target_kind"]) == ("cnn2", s, "fc_best_of_seed"))
              for s in (0, 1)]
  assert ratio["per_seed"] == pytest.approx(per_seed)
  claim = next(c for c in a["verdicts"] if c["hypothesis"] == "h2" and not c["primary"])
  assert "time to accuracy" in claim["reason"]


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


def test_single_seed_and_missing_hypotheses(tmp_path):
  runs = [r for r in fixture_runs(seeds=(0,)) if r["hypothesis"] in ("h2", "h5")]
  write_workdir(tmp_path, runs)
  a = report.build(tmp_path)
  md = (tmp_path / "REPORT.md").read_text()
  assert "no interval" in md and "not run in this workdir" in md and "## H3" not in md
  h2 = next(c for c in a["verdicts"] if c["hypothesis"] == "h2" and c["primary"])
  assert h2["verdict"] == "inconclusive"
  assert ols.find(a["ols"], "h5+h6", "test_accuracy", "num_categories", "cnn2")["n"] == 9
  assert "## H6" in md  # the grid h5 trained answers h6 too


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
  from analysis import speed, verdicts
  runs = [make_run("h2", m, s, seconds=sec, epochs=e) for s in (0, 1, 2) for m, sec, e in (("fc", 1.0, 9), ("cnn2", 5.0, 3))]
  plain = verdicts.versus_speed(speed.ratios(speed.time_to_accuracy(runs))[0], "h2")
  assert "every model trained alike" in plain["reason"]
  for r in runs:
    r["models_at_once"] = 3 if r["model"] == "fc" else 1
  marked = verdicts.versus_speed(speed.ratios(speed.time_to_accuracy(runs))[0], "h2")
  assert "FC trained 3 runs at once, CNN2 one at a time" in marked["reason"]
  assert marked["ours"] == plain["ours"]


def test_ablation_labels_arms_by_their_records_and_compares_fig8(tmp_path):
  from analysis import ablation
  for name, changes, gap in (("a", {}, 0.02), ("b", {"init": "keras", "batch_size": 32, "row_order": "first"}, 0.10)):
    runs = []
    for s, noise in ((0, -0.01), (1, 0.0), (2, 0.01)):
      for n in (500, 5000):
        r = make_run("h3", "cnn2", s, n=n, epochs=10, gap=gap + noise / 5, acc=0.8, point={"rows_per_category": n})
        runs.append({**r, **changes, "init": changes.get("init", "flax"), "row_order": changes.get("row_order", "random")})
    write_workdir(tmp_path / name, runs)
  table = ablation.build(tmp_path)
  labels = {t["arm"] for t in table}
  assert labels == {"baseline", "keras init, batch 32, first rows"}
  md = (tmp_path / "ABLATION.md").read_text()
  assert "n = 500 (paper's gap +10 points): reproduced by keras init, batch 32, first rows;" in md  # its gap is 10
  verdicts_ = {(t["arm"], t["rows_per_category"]): ablation.verdict(t) for t in table}
  assert verdicts_[("baseline", 500)] == "does not"


def test_summary_md_gives_each_models_epoch_budget_where_they_differ():
  # H2's FC trains 30 epochs against the CNNs' 10: one "10 epochs" line would misstate it.
  runs = [{"model": "fc", "epoch_budget": 30, "epochs": [{}] * 30},
          {"model": "cnn2", "epoch_budget": 10, "epochs": [{}] * 10}]
  assert summary._epochs(runs) == "epochs cnn2 10, fc 30"
  assert summary._epochs(runs[1:]) == "10 epochs"
  assert summary._epochs([{"model": "cnn2", "epochs": [{}] * 4}]) == "4 epochs"  # records without a budget
