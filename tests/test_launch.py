"""`python -m qd_jax.launch` end to end: records, summary, reproducibility, and clean refusals."""

import json
import os
import subprocess
import sys

import pytest

from qd_jax.errors import QdError
from qd_jax.experiments import configs, sweep

RUN_KEYS = {"hypothesis", "model", "param_count", "seed", "categories", "num_categories",
            "rows_per_category", "epochs", "test_accuracy", "test_loss", "per_class_accuracy",
            "train_seconds", "compile_seconds"}
EPOCH_KEYS = {"epoch", "train_accuracy", "train_loss", "val_accuracy", "val_loss", "samples_per_s"}
TEN = ("airplane", "cat", "rainbow", "dog", "smiley face", "clock", "bird", "flower", "house", "skull")


def launch(*flags, env=None):
  return subprocess.run([sys.executable, "-m", "qd_jax.launch", *flags], capture_output=True,
                        text=True, env={**os.environ, **(env or {})}, timeout=600)


def test_quick_h2_on_real_drawings(shared_data_dir, tmp_path):
  out = launch("--hypothesis=h2", "--quick", f"--data_dir={shared_data_dir}",
               f"--categories={','.join(TEN)}", f"--workdir={tmp_path}", "--config.epochs=1")
  assert out.returncode == 0, out.stderr
  runs = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
  assert sorted((r["model"], r["seed"]) for r in runs) == [
      (m, s) for m in ("cnn1", "cnn2", "fc") for s in (0, 1)]
  for r in runs:
    assert RUN_KEYS <= set(r)
    assert EPOCH_KEYS <= set(r["epochs"][0])
    assert r["categories"] == list(TEN) and r["num_categories"] == 10
    assert r["param_count"] == {"fc": 20067, "cnn1": 320890, "cnn2": 19322}[r["model"]]
    assert 0.1 < r["test_accuracy"] <= 1 and r["test_examples"] == 10 * 120
  env = json.loads((tmp_path / "environment.json").read_text())
  assert env["packages"]["jax"] and [d["category"] for d in env["data"]] == list(TEN)
  assert all(len(d["sha256"]) == 64 and d["rows"] >= 5000 for d in env["data"])
  summary = (tmp_path / "summary.md").read_text()
  assert "## H2" in summary and "cnn2 - fc" in summary
  assert "run 6/6 (h2)" in out.stdout and "ETA 00:00" in out.stdout  # per-epoch lines need --verbose


def test_full_h2_config_holds_out_at_least_1000_per_category(shared_data_dir):
  config = configs.get_config("h2", overrides={"data_dir": str(shared_data_dir), "categories": ",".join(TEN)})
  (point,) = sweep.layout(config, log=lambda _: None).points
  assert point.rows_per_category == 5000 and list(point.files) == list(TEN)
  assert all(s.test >= 1000 for s in point.sizes.values())


def _tiny_config(data_dir, **overrides):
  base = {"data_dir": str(data_dir), "categories": "airplane,cat,smiley face", "models": "fc",
          "num_seeds": 1, "epochs": 2, "rows_per_category": 200, "batch_size": 32, "eval_batch_size": 64}
  return configs.get_config("h1", overrides={**base, **overrides})


def test_same_config_same_numbers_and_finished_runs_are_skipped(tiny_data_dir, tmp_path):
  strip = lambda rs: [{k: v for k, v in r.items() if "second" not in k and k != "epochs"} for r in rs]
  a = sweep.train_and_evaluate(_tiny_config(tiny_data_dir), tmp_path / "a", log=lambda _: None)
  b = sweep.train_and_evaluate(_tiny_config(tiny_data_dir), tmp_path / "b", log=lambda _: None)
  assert strip(a) == strip(b)
  logs = []
  again = sweep.train_and_evaluate(_tiny_config(tiny_data_dir), tmp_path / "a", log=logs.append)
  assert again == a and any("skipped" in line for line in logs)


def test_workdir_of_another_config_is_refused(tiny_data_dir, tmp_path):
  sweep.train_and_evaluate(_tiny_config(tiny_data_dir), tmp_path, log=lambda _: None)
  with pytest.raises(QdError, match="different config"):
    sweep.train_and_evaluate(_tiny_config(tiny_data_dir, epochs=3), tmp_path, log=lambda _: None)


def test_more_rows_than_exist_are_capped_and_recorded(tiny_data_dir, tmp_path):
  logs = []
  runs = sweep.train_and_evaluate(_tiny_config(tiny_data_dir, rows_per_category=10_000), tmp_path,
                                  log=logs.append)
  assert runs[0]["rows_per_category"] == 200 and runs[0]["rows_requested"] == 10_000
  assert any("reduced scale: 200 rows per category instead of 10,000" in line for line in logs)


@pytest.mark.parametrize("flags, needle", [
    (["--hypothesis=h9"], "unknown hypothesis 'h9'"),
    (["--hypothesis=h1", "--seeds=0"], "num_seeds"),
    ([], "--hypothesis is required"),
    (["--hypothesis=h1", "--config.epochs=abc"], "epochs"),
    (["--hypothesis=h1", "--config.no_such_field=1"], "no_such_field"),
    (["--hypothesis=h1", "--no_such_flag"], "no_such_flag"),
    (["--hypothesis=h1", "--categories=hotdog"], "did you mean 'hot dog'"),
    (["--hypothesis=h1", "--categories=../cat"], "path separator"),
    (["--hypothesis=h1", "--config.learning_rate=0"], "learning_rate"),
    (["--hypothesis=h1", "--config.rows_per_category=-5"], "rows_per_category"),
    (["--hypothesis=h1", "--config.models=fc,resnet"], "unknown model 'resnet'"),
    (["--hypothesis=h1", "--config.k_values=3,4"], "not a field of h1"),
    (["--hypothesis=h1", "--config.row_order=last"], "row_order"),
    (["--hypothesis=h1", "--config.init=he"], "init"),
    (["--hypothesis=h1", "--config.model_epochs=fc=x"], "model_epochs"),
])
def test_bad_input_is_one_line_exit_2(tiny_data_dir, tmp_path, flags, needle):
  workdir = tmp_path / "w"
  out = launch(*flags, f"--data_dir={tiny_data_dir}", f"--workdir={workdir}",
               *([] if any(f.startswith("--categories") for f in flags) else ["--categories=cat,airplane"]))
  assert out.returncode == 2, out.stderr
  lines = out.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("qd_jax: error: ") and needle in lines[0], out.stderr
  assert not workdir.exists()


def test_missing_category_offline_names_it_and_the_folder(tiny_data_dir, tmp_path):
  out = launch("--hypothesis=h1", f"--data_dir={tiny_data_dir}", "--categories=cat,hot dog,fork",
               "--config.bucket_url=http://127.0.0.1:9/", f"--workdir={tmp_path / 'w'}")
  assert out.returncode == 2
  line, = out.stderr.strip().splitlines()
  assert "hot dog" in line and "fork" in line and "airplane" in line and "smiley face" in line
  assert not (tmp_path / "w").exists()


def test_unwritable_workdir(tiny_data_dir, tmp_path):
  blocker = tmp_path / "file"
  blocker.write_text("")
  out = launch("--hypothesis=h1", f"--data_dir={tiny_data_dir}", "--categories=cat,airplane",
               f"--workdir={blocker / 'w'}")
  assert out.returncode == 2 and "cannot write to workdir" in out.stderr
  assert len(out.stderr.strip().splitlines()) == 1


def test_summary_is_rebuilt_at_most_every_so_often_and_always_at_the_end(tmp_path):
  now, calls = [100.0], []
  summary = sweep._AtMostEvery(calls.append, 10.0, clock=lambda: now[0])
  for t in (100.0, 101.0, 109.9, 110.0, 111.0):
    now[0] = t
    summary(tmp_path)
  summary(tmp_path, force=True)
  assert len(calls) == 3  # at 100, at 110, and the forced one at the end
