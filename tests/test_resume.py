"""Preemption safety: checkpoints, SIGTERM, SIGKILL at several moments, torn lines."""

import json
import signal
import subprocess
import sys

import jax
import numpy as np
import pytest

import dataclasses

from qd_jax.errors import QdError
from qd_jax.records import jsonl, workdir as wd
from qd_jax.training import checkpoint, loop, programs

from conftest import TINY, checkpoint_steps, records, start_and_kill, tiny_split, train_settings


def _train(split, ckpts=None, epochs=4, learning_rate=3e-3, log=lambda _: None):
  return loop.train_run("cnn2", split, train_settings(epochs=epochs, learning_rate=learning_rate), seed=0,
                        checkpoints=ckpts, log=log)


def _without_timings(r: loop.RunResult) -> dict:
  out = dataclasses.asdict(r)
  for key in ("train_seconds", "compile_seconds"):
    out.pop(key)
  out["params"] = [np.asarray(a).tobytes() for a in jax.tree_util.tree_leaves(r.params)]  # bitwise
  out["history"] = [{k: v for k, v in e.items() if k not in ("seconds", "samples_per_s")} for e in r.history]
  out["test"] = {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in r.test.items()}
  return out


@pytest.fixture
def preempt_after(monkeypatch):
  """Makes the run see a SIGTERM once it logs the given epoch."""
  def arm(epoch: int):
    def log(line):
      if f"epoch {epoch}/" in line:
        monkeypatch.setattr(checkpoint, "_preempted", True)
    return log
  yield arm
  monkeypatch.setattr(checkpoint, "_preempted", False)


def test_resume_after_sigterm_is_bitwise_equal(tiny_data_dir, tmp_path, preempt_after, monkeypatch):
  split = tiny_split(tiny_data_dir)
  whole = _train(split)
  ckpts = checkpoint.RunCheckpoints(tmp_path / "ck", every=1, keep=2)
  with pytest.raises(checkpoint.Preempted, match="saved after epoch 2"):
    _train(split, ckpts, log=preempt_after(2))
  monkeypatch.setattr(checkpoint, "_preempted", False)
  logs = []
  resumed = _train(split, checkpoint.RunCheckpoints(tmp_path / "ck", every=1, keep=2), log=logs.append)
  assert any("resumed after epoch 2" in line for line in logs)
  assert sum("epoch " in line and "/4" in line for line in logs) == 2  # only epochs 3 and 4 ran
  assert _without_timings(resumed) == _without_timings(whole)


def test_divergence_keeps_the_last_good_checkpoint(tiny_data_dir, tmp_path, preempt_after, monkeypatch):
  split = tiny_split(tiny_data_dir)
  with pytest.raises(checkpoint.Preempted):
    _train(split, checkpoint.RunCheckpoints(tmp_path / "ck", every=1, keep=3), epochs=2, log=preempt_after(2))
  monkeypatch.setattr(checkpoint, "_preempted", False)
  with pytest.raises(QdError, match="diverged"):
    _train(split, checkpoint.RunCheckpoints(tmp_path / "ck", every=1, keep=3), learning_rate=1e6)
  ckpts = checkpoint.RunCheckpoints(tmp_path / "ck", every=1, keep=3)
  _, meta = ckpts.restore(programs.get("cnn2", 3, 3e-3, "auto").init_state(0))
  assert len(meta["history"]) == 2 and all(e["train_loss"] < 10 for e in meta["history"])


def test_checkpoints_wait_min_seconds_but_a_sigterm_saves_at_once(tiny_data_dir, tmp_path, preempt_after):
  slow = checkpoint.RunCheckpoints(tmp_path / "slow", every=1, keep=5, min_seconds=3600)
  _train(tiny_split(tiny_data_dir), slow, epochs=3)
  assert slow.epochs() == []  # three epochs in well under an hour: none was due
  often = checkpoint.RunCheckpoints(tmp_path / "often", every=1, keep=5)
  _train(tiny_split(tiny_data_dir), often, epochs=3)
  assert often.epochs() == [1, 2, 3]
  slow = checkpoint.RunCheckpoints(tmp_path / "slow2", every=1, keep=5, min_seconds=3600)
  with pytest.raises(checkpoint.Preempted):
    _train(tiny_split(tiny_data_dir), slow, epochs=4, log=preempt_after(2))
  assert slow.epochs() == [2]


def test_torn_last_line_is_dropped_before_the_next_append(tmp_path):
  path = tmp_path / "runs.jsonl"
  jsonl.append(path, {"run_id": "a"})
  with open(path, "a") as f:
    f.write('{"run_id": "b", "test_acc')  # what a kill mid-write could leave
  assert [r["run_id"] for r in wd.read_runs(tmp_path)] == ["a"]
  jsonl.append(path, {"run_id": "c"})
  assert [json.loads(line)["run_id"] for line in path.read_text().splitlines()] == ["a", "c"]
  with open(path, "a") as f:
    f.write('{"run_id": "d", "pred": "' + "x" * 200_000)  # torn far past one read-back block
  jsonl.append(path, {"run_id": "e"})
  assert [json.loads(line)["run_id"] for line in path.read_text().splitlines()] == ["a", "c", "e"]


# --- whole launches, killed for real ---------------------------------------------------------

def _cmd(data_dir, workdir):
  return [sys.executable, "-m", "qd_jax.launch", "--hypothesis=h2", f"--data_dir={data_dir}",
          f"--categories={','.join(TINY)}", f"--workdir={workdir}", "--config.models=cnn2",
          "--seeds=2", "--config.epochs=12", "--config.rows_per_category=1500",
          "--config.batch_size=32", "--config.eval_batch_size=64", "--config.checkpoint_min_seconds=0"]


@pytest.fixture(scope="module")
def uninterrupted(bigger_data_dir, tmp_path_factory):
  workdir = tmp_path_factory.mktemp("whole")
  subprocess.run(_cmd(bigger_data_dir, workdir), check=True, capture_output=True)
  return records(workdir)


def test_sigkill_at_several_moments_then_rerun_gives_the_same_results(bigger_data_dir, tmp_path, uninterrupted):
  workdir = tmp_path / "w"
  cmd = _cmd(bigger_data_dir, workdir)
  moments = [
      lambda: (workdir / "config.json").exists() and not checkpoint_steps(workdir),  # before a checkpoint
      lambda: any(p.name == "2" for p in checkpoint_steps(workdir)),  # mid-run, inside epoch 3
      lambda: len(wd.read_runs(workdir)) == 1,  # between sweep points
  ]
  for when in moments:
    code, _ = start_and_kill(cmd, when)
    assert code == -signal.SIGKILL
  subprocess.run(cmd, check=True, capture_output=True)
  assert records(workdir) == uninterrupted
  assert not checkpoint_steps(workdir)  # finished runs keep no checkpoints


def test_sigterm_saves_exits_143_and_resumes(bigger_data_dir, tmp_path, uninterrupted):
  workdir = tmp_path / "w"
  cmd = _cmd(bigger_data_dir, workdir)
  code, err = start_and_kill(cmd, lambda: bool(checkpoint_steps(workdir)), sig=signal.SIGTERM)
  assert code == 143
  line, = err.strip().splitlines()
  assert "preempted (SIGTERM)" in line and "rerun the same command" in line
  assert checkpoint_steps(workdir)
  out = subprocess.run(cmd, check=True, capture_output=True, text=True)
  assert "resumed after epoch" in out.stdout
  assert records(workdir) == uninterrupted
