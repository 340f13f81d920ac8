"""The fidelity issue's bars on real drawings: `--quick` launches of H5, H2 and H4, read back from
their workdirs and checked against their own records (least squares, per-epoch seconds, arms)."""

import json

import numpy as np

from conftest import LOCAL_TEN
from test_launch import launch


def _launch(hypothesis, data_dir, workdir):
  out = launch(f"--hypothesis={hypothesis}", "--quick", f"--data_dir={data_dir}",
               f"--categories={','.join(LOCAL_TEN)}", f"--workdir={workdir}")
  assert out.returncode == 0, out.stderr
  runs = [json.loads(line) for line in (workdir / "runs.jsonl").read_text().splitlines()]
  return runs, json.loads((workdir / "analysis.json").read_text()), (workdir / "REPORT.md").read_text()


def test_quick_h5_is_a_grid_whose_joint_fit_is_least_squares_over_its_runs(shared_data_dir, tmp_path):
  runs, analysis, report = _launch("h5", shared_data_dir, tmp_path)
  assert len({r["num_categories"] for r in runs}) >= 3 and len({r["rows_per_category"] for r in runs}) >= 2
  fit = {o["regressor"]: o for o in analysis["ols"] if o["response"] == "test_accuracy" and o["per"] == "run"
         and o["formula"] == "test_accuracy ~ const + num_categories + rows_per_category"}
  X = np.array([[1.0, r["num_categories"], r["rows_per_category"]] for r in runs])
  beta = np.linalg.lstsq(X, np.array([r["test_accuracy"] for r in runs]), rcond=None)[0]
  np.testing.assert_allclose([fit[k]["coef"] for k in ("const", "num_categories", "rows_per_category")],
                             beta, rtol=1e-6)
  assert fit["const"]["n"] == len(runs)
  assert "1.601e-05" in report and "0.0649" in report  # Fig. 11's coefficients


def test_quick_h2_time_to_accuracy_agrees_with_the_per_epoch_records(shared_data_dir, tmp_path):
  runs, analysis, _ = _launch("h2", shared_data_dir, tmp_path)
  by_run = {(r["model"], r["seed"]): r["epochs"] for r in runs}
  rows = analysis["time_to_accuracy"]
  assert {t["model"] for t in rows} == {"fc", "cnn1", "cnn2"} and any(t["seconds"] is not None for t in rows)
  for t in rows:
    epochs = by_run[(t["model"], t["seed"])]
    hit = next((i for i, e in enumerate(epochs) if e["val_accuracy"] >= t["target"]), None)
    if hit is None:
      assert t["epochs"] is None and t["seconds"] is None
    else:
      assert t["epochs"] == hit + 1
      assert abs(t["seconds"] - sum(e["seconds"] for e in epochs[:hit + 1])) < 1e-9


def test_quick_h4_runs_augmentation_arms_beside_none_and_quotes_the_paper(shared_data_dir, tmp_path):
  runs, _, report = _launch("h4", shared_data_dir, tmp_path)
  arms = {r["point"]["augmentation"] for r in runs}
  assert "none" in arms and len(arms - {"none"}) >= 2
  assert "43%" in report  # Fig. 9's minority accuracy at 0.2%
