"""analysis/'s report end to end, on a synthetic workdir (tests/analysis_fixtures.py): every
section, the paper's numbers, the verdicts summary.md repeats, the trends and fits it finds."""

import json
import subprocess
import sys

import numpy as np
import pytest

from analysis import ols, paper, report, summary

from analysis_fixtures import TEN, fixture_runs, make_run, write_workdir


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
