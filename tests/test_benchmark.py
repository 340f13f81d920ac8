"""benchmarks/throughput.py on a tiny config: it runs, and its JSON rows have the promised schema.
Nothing here depends on how fast anything is."""

import json

import pytest

from conftest import load_benchmark

KEYS = {"model", "batch_size", "impl", "samples_per_s", "median_samples_per_s", "window_samples_per_s", "compile_s",
        "detail"}


@pytest.fixture(scope="module")
def bench():
  return load_benchmark("throughput")


def tiny(bench, path, impls, *extra):
  return bench.main(["--json", str(path), "--models", "fc", "--batches", "8", "--steps", "2",
                     "--impls", impls, "--rounds", "1", "--min-time", "0", "--pause", "0",
                     *(extra or ["--no-pipeline"])])


def check_rows(rows, impls):
  impls = ["qd_jax_models8" if i == "qd_jax_models" else i for i in impls]
  assert [(r["model"], r["batch_size"]) for r in rows] == [("fc", 8)] * len(impls)
  assert sorted(r["impl"] for r in rows) == sorted(impls)
  for r in rows:
    assert set(r) == KEYS
    if r["detail"] == "not installed":
      assert r["samples_per_s"] is None and r["compile_s"] is None
    else:
      assert isinstance(r["samples_per_s"], float) and r["samples_per_s"] > 0
      assert max(r["window_samples_per_s"]) == r["samples_per_s"]  # one rate per round, the best reported
      assert r["compile_s"] >= 0


def test_qd_jax_and_installed_peers(bench, tmp_path, capsys):
  impls = ["qd_jax", "qd_jax_models"] + [p for p in bench.PEERS if bench.available(p) is None]
  rows = tiny(bench, tmp_path / "rows.json", ",".join(impls))
  check_rows(rows, impls)
  assert json.loads((tmp_path / "rows.json").read_text()) == rows
  out = capsys.readouterr().out
  assert "qd_jax/peer" in out and "models8/qd_jax" in out and "compile seconds" in out
  assert "paired by round" in out
  stacked = next(r for r in rows if r["impl"] == "qd_jax_models8")
  assert stacked["detail"].startswith("8 models stacked")


def test_missing_peer_is_skipped_with_one_line(bench, tmp_path, capsys, monkeypatch):
  real = bench.available
  monkeypatch.setattr(bench, "available",
                      lambda impl: "torch: not installed (test)" if impl == "torch" else real(impl))
  rows = tiny(bench, tmp_path / "rows.json", "qd_jax,torch")
  check_rows(rows, ["qd_jax", "torch"])
  assert next(r for r in rows if r["impl"] == "torch")["detail"] == "not installed"
  out = capsys.readouterr().out
  assert "torch: not installed (test)" in out
  assert "not installed" in out.split("qd_jax/peer", 1)[1]  # the table's torch cell


def test_layers_flag_picks_the_formulation(bench, tmp_path):
  for layers in ("xla", "fast"):
    rows = tiny(bench, tmp_path / f"{layers}.json", "qd_jax,qd_jax_models", "--no-pipeline", "--layers", layers)
    assert all(f"layers {layers}," in r["detail"] for r in rows), rows
  with pytest.raises(SystemExit):
    tiny(bench, tmp_path / "bad.json", "qd_jax", "--no-pipeline", "--layers", "cudnn")


def test_rejects_unknown_names(bench, tmp_path):
  with pytest.raises(SystemExit):
    bench.main(["--json", str(tmp_path / "x.json"), "--models", "vgg"])


def test_pipeline_check_sets_tfdata_beside_the_step(bench, tmp_path, capsys):
  rows = tiny(bench, tmp_path / "rows.json", "qd_jax", "--pipeline-rows", "40")
  check = json.loads((tmp_path / "rows_pipeline.json").read_text())
  assert [(c["model"], c["batch_size"]) for c in check] == [("fc", 8)]
  c = check[0]
  assert c["delivered_per_s"] > 0 and c["consumed_per_s"] == rows[0]["samples_per_s"]
  assert c["ratio"] == pytest.approx(c["delivered_per_s"] / c["consumed_per_s"])
  out = capsys.readouterr().out
  assert "tf.data path" in out and "GFLOP/s" in out


def test_forward_flops_follow_the_layer_shapes(bench):
  assert bench.forward_flops("fc") == 2 * (784 * 25 + 25 * 12 + 12 * 10)
  # CNN1's dense layer (5000 -> 64) dominates; CNN2 pools it down to 288 inputs
  assert bench.forward_flops("cnn1") > 6 * bench.forward_flops("cnn2") > 6 * bench.forward_flops("fc")


def _peer(bench, impl, model):
  import numpy as np
  x, y = np.zeros((16, 784), np.uint8), np.zeros(16, np.int32)
  if impl == "keras":
    return bench.peers.keras_runner(model, 8, 2, x, y, jit_compile=False)
  return bench.peers.torch_runner(model, 8, 2, x, y)


def _qd_jax_params(model):
  import jax
  from qd_jax.nn import models, registry
  shapes = jax.eval_shape(lambda k: models.init_params(registry.get(model).create(10), k), jax.random.key(0))
  return models.param_count(shapes)


@pytest.mark.parametrize("model", ["fc", "cnn1", "cnn2"])
def test_keras_peer_has_the_qd_jax_networks(bench, model):
  assert _peer(bench, "keras", model).params == _qd_jax_params(model)


@pytest.mark.parametrize("model", ["fc", "cnn1", "cnn2"])
def test_torch_peer_has_the_qd_jax_networks(bench, model):
  reason = bench.available("torch")
  if reason:  # a visible skip: CI installs [dev], not the [bench] extra that brings torch
    pytest.skip(f"{reason}; pip install -e '.[bench]' to check the PyTorch peer")
  assert _peer(bench, "torch", model).params == _qd_jax_params(model)


def test_default_row_is_what_a_sweep_here_runs(bench, tmp_path, capsys):
  rows = tiny(bench, tmp_path / "rows.json", "qd_jax,qd_jax_default")
  check_rows(rows, ["qd_jax", "qd_jax_default"])
  default = next(r for r in rows if r["impl"] == "qd_jax_default")
  from qd_jax.training import autotune
  m = autotune.choose("fc", 8).models_at_once  # the test suite runs with the registry's defaults
  assert (f"{m} models stacked" in default["detail"]) == (m > 1)
  assert "default/qd_jax" in capsys.readouterr().out


def test_a_default_cohort_of_one_is_the_qd_jax_row_not_a_second_timing(bench, tmp_path, monkeypatch):
  """Timing the one program twice compared it only with its own noise (0.93x seen)."""
  from qd_jax.training import autotune
  one = autotune.Setting("fast", 0, 1, "measured")
  monkeypatch.setattr(bench, "qd_jax_setting", lambda model, batch, layers="auto": one)
  built = []
  runner = bench.qd_jax_runner
  monkeypatch.setattr(bench, "qd_jax_runner", lambda *a, **k: built.append(a) or runner(*a, **k))
  rows = {r["impl"]: r for r in tiny(bench, tmp_path / "rows.json", "qd_jax,qd_jax_default")}
  assert len(built) == 1  # one program, timed once
  assert rows["qd_jax_default"]["samples_per_s"] == rows["qd_jax"]["samples_per_s"]
  assert "cohort of one" in rows["qd_jax_default"]["detail"]


def test_paired_ratios_pair_windows_of_one_round(bench):
  """Best over best would read 4.0 / 1.0 = 4x here; no round saw more than 2x."""
  assert bench.paired([4.0, 1.0, 3.0], [2.0, 1.0, 3.0]) == (1.0, 1.0, 2.0)


def test_table_prints_the_paired_spread(bench):
  rows = [{"model": "fc", "batch_size": 8, "impl": "qd_jax", "samples_per_s": 4.0, "window_samples_per_s": [4.0, 1.0, 3.0],
           "compile_s": 0.0},
          {"model": "fc", "batch_size": 8, "impl": "torch", "samples_per_s": 3.0, "window_samples_per_s": [2.0, 1.0, 3.0],
           "compile_s": 0.0}]
  table = bench.format_table(rows, ["fc"], [8], ["qd_jax", "torch"])
  assert "1.33x" in table and "1.00x (1.00-2.00)" in table
