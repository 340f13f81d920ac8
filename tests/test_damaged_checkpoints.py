"""A damaged checkpoint falls back to the next older one, or a fresh start, with one line saying
so, and the run ends with the numbers of a run never stopped (bitwise, on the CPU)."""

import shutil
import signal
import subprocess

import orbax.checkpoint as ocp
import pytest

from qd_jax.data import splits
from qd_jax.training import checkpoint, cohort, loop, programs

from conftest import TINY, checkpoint_steps, open_files, records, start_and_kill, tiny_split, train_settings
from test_resume import _cmd, _without_timings


def _arrays(step):
  """The biggest of a checkpoint's array files (the kernels)."""
  return max((step / "state").rglob("d/*"), key=lambda p: p.stat().st_size)


def _flip(path, at=0.5):
  data = bytearray(path.read_bytes())
  data[int(len(data) * at)] ^= 0xFF
  path.write_bytes(bytes(data))


DAMAGE = {  # what a torn write or a bad sector can leave
    "garbled metadata": lambda step: (step / "meta" / "metadata").write_bytes(b"\xff\xfe\x00 not json"),
    "truncated arrays": lambda step: _arrays(step).write_bytes(_arrays(step).read_bytes()[:100]),
    "one flipped byte in the arrays": lambda step: _flip(_arrays(step)),
    "no state folder": lambda step: shutil.rmtree(step / "state"),
}


@pytest.fixture
def preempt_after(monkeypatch):
  def arm(epoch: int):
    def log(line):
      if f"epoch {epoch}/" in line:
        monkeypatch.setattr(checkpoint, "_preempted", True)
    return log
  yield arm
  monkeypatch.setattr(checkpoint, "_preempted", False)


def _ckpts(path):
  return checkpoint.RunCheckpoints(path, every=1, keep=2)


def _train(split, ckpts=None, log=lambda _: None):
  return loop.train_run("cnn2", split, train_settings(epochs=4), seed=0, checkpoints=ckpts, log=log)


def _stopped_after_3(split, path, preempt_after, monkeypatch):
  with pytest.raises(checkpoint.Preempted):
    _train(split, _ckpts(path), log=preempt_after(3))
  monkeypatch.setattr(checkpoint, "_preempted", False)
  assert _ckpts(path).epochs() == [2, 3]


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_newest_checkpoint_resumes_from_the_older_one(tiny_data_dir, tmp_path, preempt_after,
                                                                 monkeypatch, damage):
  split = tiny_split(tiny_data_dir)
  whole = _train(split)
  _stopped_after_3(split, tmp_path / "ck", preempt_after, monkeypatch)
  DAMAGE[damage](tmp_path / "ck" / "3")
  logs = []
  resumed = _train(split, _ckpts(tmp_path / "ck"), log=logs.append)
  said = [line for line in logs if " is damaged (" in line]
  assert len(said) == 1 and said[0].startswith(f"checkpoint {tmp_path / 'ck' / '3'} is damaged (")
  assert said[0].endswith("; resuming from epoch 2 instead")
  assert any("resumed after epoch 2" in line for line in logs)
  assert _without_timings(resumed) == _without_timings(whole)


def test_orbax_alone_restores_a_flipped_byte_without_a_word(tiny_data_dir, tmp_path, preempt_after, monkeypatch):
  """Why checkpoints carry their state's sha256: orbax keeps no checksum of its own."""
  _stopped_after_3(tiny_split(tiny_data_dir), tmp_path / "ck", preempt_after, monkeypatch)
  DAMAGE["one flipped byte in the arrays"](tmp_path / "ck" / "3")
  ckpts = _ckpts(tmp_path / "ck")
  state = programs.get("cnn2", 3, 3e-3, "auto").init_state(0)
  ckpts._manager.restore(3, args=ocp.args.Composite(state=ocp.args.StandardRestore(ckpts._tree(state)),
                                                    meta=ocp.args.JsonRestore()))  # no error
  with pytest.raises(checkpoint.Damaged, match="do not match the sha256"):
    ckpts.restore(state, 3)
  assert ckpts.epochs() == [2, 3]  # a failed restore deletes nothing


def test_with_every_checkpoint_damaged_the_run_starts_afresh(tiny_data_dir, tmp_path, preempt_after, monkeypatch):
  split = tiny_split(tiny_data_dir)
  whole = _train(split)
  _stopped_after_3(split, tmp_path / "ck", preempt_after, monkeypatch)
  DAMAGE["garbled metadata"](tmp_path / "ck" / "3")
  DAMAGE["truncated arrays"](tmp_path / "ck" / "2")
  logs = []
  resumed = _train(split, _ckpts(tmp_path / "ck"), log=logs.append)
  said = [line for line in logs if " is damaged (" in line]
  assert [line.split(" is damaged")[0] for line in said] == [f"checkpoint {tmp_path / 'ck' / n}" for n in "32"]
  assert said[0].endswith("resuming from epoch 2 instead")
  assert said[1].endswith("no older one is good, so starting afresh")
  assert sum("epoch " in line and "/4" in line for line in logs) == 4  # all four epochs ran again
  assert _without_timings(resumed) == _without_timings(whole)


def test_one_damaged_member_sends_its_whole_cohort_back(make_category_files, tmp_path, preempt_after, monkeypatch):
  files = open_files(make_category_files("d", {c: 300 for c in TINY}))
  sizes = {c: splits.sizes_for(300, 0.1, 0.2) for c in files}

  def members(with_ckpts):
    return [cohort.Member(splits.make_split(files, sizes, s), s, f"seed{s}",
                          _ckpts(tmp_path / f"ck{s}") if with_ckpts else None) for s in (0, 1)]

  run = lambda ms, log=lambda _: None: loop.train_cohort("fc", ms, train_settings(epochs=4), log)  # noqa: E731
  whole = run(members(False))
  with pytest.raises(checkpoint.Preempted):
    run(members(True), preempt_after(3))
  monkeypatch.setattr(checkpoint, "_preempted", False)
  DAMAGE["garbled metadata"](tmp_path / "ck1" / "3")
  logs = []
  resumed = run(members(True), logs.append)
  assert sum("is damaged" in line for line in logs) == 1
  assert sum("resumed after epoch 2" in line for line in logs) == 2  # both, though seed0's epoch 3 was good
  assert [r.models_at_once for r in resumed] == [2, 2]
  assert [_without_timings(r) for r in resumed] == [_without_timings(r) for r in whole]


def test_a_launch_with_a_damaged_newest_checkpoint_resumes_to_the_same_numbers(bigger_data_dir, tmp_path):
  whole_dir, workdir = tmp_path / "whole", tmp_path / "w"
  subprocess.run(_cmd(bigger_data_dir, whole_dir), check=True, capture_output=True)
  cmd = _cmd(bigger_data_dir, workdir)
  code, _ = start_and_kill(cmd, lambda: any(p.name == "3" for p in checkpoint_steps(workdir)), sig=signal.SIGTERM)
  assert code == 143
  newest = max(checkpoint_steps(workdir), key=lambda p: int(p.name))
  DAMAGE["garbled metadata"](newest)  # what the issue saw: a UnicodeDecodeError inside orbax
  out = subprocess.run(cmd, capture_output=True, text=True)
  assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
  said = [line for line in out.stdout.splitlines() if "is damaged" in line]
  assert len(said) == 1 and str(newest) in said[0]
  assert said[0].endswith(f"resuming from epoch {int(newest.name) - 1} instead")
  assert records(workdir) == records(whole_dir)
