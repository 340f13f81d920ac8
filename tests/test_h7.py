"""H7 end to end on small synthetic stroke files: both models, kept parameters, early-guess
curves, the report's section; the stroke model's masking; h7 outside `all`."""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from analysis import report
from qd_jax.data import strokes
from qd_jax.errors import QdError
from qd_jax.experiments import configs, sweep
from qd_jax.nn import models, predict, registry
from qd_jax.records import params as saved_params

from qd_jax.data import splits, stroke_split
from qd_jax.data.stroke_file import StrokeFile
from qd_jax.training import checkpoint, loop

from conftest import train_settings
from stroke_fixtures import make_stroke_files
from test_resume import _without_timings, preempt_after  # noqa: F401 (the fixture)

CATS = "airplane,cat,smiley face"


def h7_config(folder, **extra):
  overrides = {"strokes_dir": str(folder), "categories": CATS, "rows_per_category": 40, "epochs": 2,
               "num_seeds": 1, "batch_size": 16, "eval_batch_size": 50, "max_points": 16,
               "guess_fractions": "0.5,1.0,0.25", "download": False, "compilation_cache_dir": "", **extra}
  return configs.get_config("h7", overrides=overrides)


@pytest.fixture(scope="module")
def h7_workdir(tmp_path_factory):
  tmp = tmp_path_factory.mktemp("h7")
  folder = make_stroke_files(tmp / "strokes", {c: 40 for c in CATS.split(",")})
  sweep.train_and_evaluate(h7_config(folder), tmp / "w", log=lambda s: None)
  return tmp / "w"


def test_h7_trains_both_models_on_the_same_drawings(h7_workdir):
  runs = [json.loads(line) for line in (h7_workdir / "runs.jsonl").read_text().splitlines()]
  assert [r["model"] for r in runs] == ["rnn", "cnn2"]
  kinds = [{s["input_kind"] for s in r["split"]} for r in runs]
  assert kinds == [{"strokes"}, {"bitmap"}]
  preds = [json.loads(line) for line in (h7_workdir / "test_predictions.jsonl").read_text().splitlines()]
  assert preds[0]["rows"] == preds[1]["rows"]  # the same test drawings
  assert all(sum(s["test"] for s in r["split"]) == 24 and r["test_examples"] == 24 for r in runs)


def test_each_run_is_scored_on_cut_drawings_and_keeps_its_parameters(h7_workdir):
  for r in (json.loads(line) for line in (h7_workdir / "runs.jsonl").read_text().splitlines()):
    by_strokes, by_time = r["early_guess"]["strokes"], r["early_guess"]["time"]
    assert by_strokes["fractions"] == [0.25, 0.5, 1.0] and by_strokes["n"] == 24
    assert len(by_strokes["stays_correct_from"]) == 24
    assert all(0 <= k <= 24 for k in by_strokes["correct"] + by_strokes["top3_correct"])
    assert by_strokes["top3_correct"][-1] == 24  # three classes: the top 3 always holds the truth
    # raw drawings never trained or validated on: every 2nd drawing of 40 in test (8 a class), + 3 raw-only
    assert 3 * 3 <= by_time["n"] <= 3 * (3 + 8)
    right_at_end = sum(f is not None for f in by_strokes["stays_correct_from"])
    assert right_at_end == by_strokes["correct"][-1]
    params, meta = saved_params.load(h7_workdir / r["params_file"])
    assert meta["model"] == r["model"] and meta["categories"] == CATS.split(",")
    assert models.param_count(params) == r["param_count"]


def test_the_report_gets_early_guess_rows_a_section_and_a_figure(h7_workdir):
  a = report.build(h7_workdir)
  rows = a["early_guess"]
  assert {(r["model"], r["cut"]) for r in rows} == {(m, c) for m in ("rnn", "cnn2") for c in ("strokes", "time")}
  for r in rows:
    assert set(r) >= {"model", "fraction", "accuracy", "ci_low", "ci_high", "n"}
    assert r["ci_low"] <= r["accuracy"] <= r["ci_high"]
  assert {m["model"] for m in a["early_guess_median"]} == {"rnn", "cnn2"}
  text = (h7_workdir / "REPORT.md").read_text()
  assert "## H7: how early can it guess?" in text and "fig_h7_early_guess.png" in text
  assert (h7_workdir / "fig_h7_early_guess.png").read_bytes()[:4] == b"\x89PNG"


def test_a_rerun_skips_finished_runs(h7_workdir, tmp_path):
  folder = h7_workdir.parent / "strokes"
  before = (h7_workdir / "runs.jsonl").read_text()
  logs = []
  sweep.train_and_evaluate(h7_config(folder), h7_workdir, log=logs.append)
  assert (h7_workdir / "runs.jsonl").read_text() == before
  assert sum("skipped" in line for line in logs) == 2


def test_the_stroke_model_ignores_padding():
  module = registry.get("rnn").create(3)
  s = [np.array([[0, 0], [100, 30], [200, 90]]), np.array([[50, 200], [60, 255]])]
  short, _ = strokes.stroke3(s, 8)
  long, _ = strokes.stroke3(s, 40)
  params = models.init_params(module, jax.random.key(0), registry.STROKES.example_shape)
  a = module.apply({"params": params}, jnp.asarray(short[None]))
  b = module.apply({"params": params}, jnp.asarray(long[None]))
  noisy = long.copy()
  noisy[5:, :3] = 7.0  # garbage in the padding rows (valid 0) changes nothing
  c = module.apply({"params": params}, jnp.asarray(noisy[None]))
  np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(b, c, rtol=1e-5, atol=1e-6)
  p = predict.probabilities("rnn", 3, params, np.stack([short, short]), batch=4)
  assert p.shape == (2, 3) and np.allclose(p.sum(1), 1)


def test_a_bitmap_design_refuses_the_stroke_model():
  config = configs.get_config("h2", overrides={"models": "rnn,cnn2"})
  with pytest.raises(QdError, match=r"model 'rnn' takes strokes input, which design balanced does not deliver"):
    sweep.layout(config, log=lambda s: None)


def test_h7_is_outside_all_and_refuses_tfdata(tmp_path):
  assert "h7" in configs.hypotheses()
  assert "h7" not in [c.hypothesis for c in configs.get_configs("all")]
  with pytest.raises(QdError, match="do not stream through tf.data"):
    sweep.layout(h7_config(tmp_path, input_pipeline="tfdata"), log=lambda s: None)


def test_the_stroke_model_resumes_bitwise_from_its_checkpoint(tmp_path, preempt_after, monkeypatch):
  folder = make_stroke_files(tmp_path / "s", {c: 40 for c in CATS.split(",")})
  files = {c: StrokeFile.open(c, folder) for c in CATS.split(",")}
  split = stroke_split.make_split(files, {c: splits.sizes_for(40, 0.1, 0.2) for c in files}, 0, "strokes", 16)
  settings = dataclasses.replace(train_settings(epochs=3, learning_rate=3e-3), batch_size=16, eval_batch_size=50)
  run = lambda ckpts=None, log=lambda _: None: loop.train_run("rnn", split, settings, seed=0, checkpoints=ckpts,
                                                             log=log)  # noqa: E731
  whole = run()
  with pytest.raises(checkpoint.Preempted, match="saved after epoch 1"):
    run(checkpoint.RunCheckpoints(tmp_path / "ck", every=1, keep=2), preempt_after(1))
  monkeypatch.setattr(checkpoint, "_preempted", False)
  logs = []
  resumed = run(checkpoint.RunCheckpoints(tmp_path / "ck", every=1, keep=2), logs.append)
  assert any("resumed after epoch 1" in line for line in logs)
  assert _without_timings(resumed) == _without_timings(whole)
