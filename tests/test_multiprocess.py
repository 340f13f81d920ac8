"""Two processes on 127.0.0.1 (CPU, gloo collectives) give the one-process results."""

import subprocess
import sys

import pytest

from qd_jax.records import workdir as wd

from conftest import free_port


def _cmd(data_dir, workdir, *extra):
  return [sys.executable, "-m", "qd_jax.launch", "--hypothesis=h1", f"--data_dir={data_dir}",
          "--categories=airplane,cat,smiley face", "--config.models=fc,cnn2", "--seeds=1",
          "--config.epochs=2", "--config.rows_per_category=200", "--config.batch_size=32",
          "--config.eval_batch_size=64", f"--workdir={workdir}", *extra]


def test_two_processes_match_one(tiny_data_dir, tmp_path):
  subprocess.run(_cmd(tiny_data_dir, tmp_path / "one"), check=True, capture_output=True, timeout=300)
  port = free_port()
  procs = [subprocess.Popen(_cmd(tiny_data_dir, tmp_path / "two", f"--coordinator_address=127.0.0.1:{port}",
                                 "--num_processes=2", f"--process_id={i}"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
  outs = [p.communicate(timeout=300) for p in procs]
  assert [p.returncode for p in procs] == [0, 0], outs
  assert "results:" in outs[0][0] and "results:" not in outs[1][0]  # process 0 alone reports
  one, two = wd.read_runs(tmp_path / "one"), wd.read_runs(tmp_path / "two")
  # process 0 alone writes event files: one per run
  assert [len(list(d.iterdir())) for d in (tmp_path / "two" / "tensorboard").iterdir()] == [1, 1]
  assert [r["devices"] for r in two] == [2, 2] and [r["devices"] for r in one] == [1, 1]
  for a, b in zip(one, two):
    assert a["run_id"] == b["run_id"]
    assert abs(a["test_accuracy"] - b["test_accuracy"]) <= 0.005
    assert a["test_loss"] == pytest.approx(b["test_loss"], rel=1e-4)
    for ea, eb in zip(a["epochs"], b["epochs"]):
      assert ea["train_loss"] == pytest.approx(eb["train_loss"], rel=1e-4)


def test_distributed_flags_go_together(tiny_data_dir, tmp_path):
  out = subprocess.run(_cmd(tiny_data_dir, tmp_path / "w", "--num_processes=2"), capture_output=True, text=True)
  assert out.returncode == 2 and "go together" in out.stderr
  assert len(out.stderr.strip().splitlines()) == 1
