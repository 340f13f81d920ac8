"""A workdir stays true: one writer at a time, data checked on resume, damaged record lines set
aside and reported. (Damaged checkpoints: test_resume.py; full disks: test_full_disk.py.)"""

import json
import os
import signal
import socket
import subprocess
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qd_jax.data import npy
from qd_jax.errors import QdError
from qd_jax.experiments import configs, sweep
from qd_jax.records import jsonl, lock, workdir as wd

from conftest import TINY, category_rows, records, start_and_kill

import pytest


def _cmd(data_dir, workdir, *extra, models="fc", seeds=2, epochs=1, rows=200):
  return [sys.executable, "-m", "qd_jax.launch", "--hypothesis=h2", f"--data_dir={data_dir}",
          f"--categories={','.join(TINY)}", f"--workdir={workdir}", f"--config.models={models}",
          f"--seeds={seeds}", f"--config.epochs={epochs}", f"--config.rows_per_category={rows}",
          "--config.batch_size=32", "--config.eval_batch_size=64", "--config.checkpoint_min_seconds=0", *extra]


def _one_line(out) -> str:
  assert out.returncode == 2, (out.stdout, out.stderr)
  assert "Traceback" not in out.stderr
  lines = out.stderr.strip().splitlines()
  assert len(lines) == 1, out.stderr
  assert lines[0].startswith("qd_jax: error: ")
  return lines[0]


def _run_ids(workdir) -> list[str]:
  return [json.loads(line)["run_id"] for line in (workdir / "runs.jsonl").read_text().splitlines()]


# --- one writer per workdir ------------------------------------------------------------------

def test_a_held_workdir_refuses_a_launch_naming_the_holder(tiny_data_dir, tmp_path):
  workdir = tmp_path / "w"
  with lock.hold(workdir):
    out = subprocess.run(_cmd(tiny_data_dir, workdir), capture_output=True, text=True, timeout=300)
  line = _one_line(out)
  assert "in use by another launch" in line and f"pid {os.getpid()}" in line
  assert f"host {socket.gethostname()}" in line and "started 20" in line and "--workdir" in line
  assert sorted(p.name for p in workdir.iterdir()) == [lock.LOCK_NAME]  # it wrote nothing


def test_two_launches_at_once_record_each_run_once(bigger_data_dir, tmp_path):
  workdir = tmp_path / "w"
  cmd = _cmd(bigger_data_dir, workdir, models="cnn2", epochs=12, rows=1500)
  procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
  outs = [p.communicate(timeout=600) for p in procs]
  codes = sorted(p.returncode for p in procs)
  assert codes == [0, 2], outs
  winner, loser = (0, 1) if procs[0].returncode == 0 else (1, 0)
  line, = outs[loser][1].strip().splitlines()
  assert "in use by another launch" in line and f"pid {procs[winner].pid} " in line
  assert "Traceback" not in outs[winner][1]
  assert sorted(_run_ids(workdir)) == ["h2/cnn2/seed0", "h2/cnn2/seed1"]


def test_kill_9_leaves_no_stale_lock(tiny_data_dir, tmp_path):
  workdir = tmp_path / "w"
  code, _ = start_and_kill(_cmd(tiny_data_dir, workdir, models="cnn2", epochs=30),
                           lambda: (workdir / "config.json").exists())
  assert code == -signal.SIGKILL
  assert json.loads((workdir / lock.LOCK_NAME).read_text())["pid"]  # the dead holder's note stays ...
  with lock.hold(workdir):  # ... but its lock died with it
    pass


def test_a_held_workdir_stops_every_process_of_a_multiprocess_launch(tiny_data_dir, tmp_path):
  from conftest import free_port
  port, workdir = free_port(), tmp_path / "w"
  with lock.hold(workdir):
    procs = [subprocess.Popen(_cmd(tiny_data_dir, workdir, f"--coordinator_address=127.0.0.1:{port}",
                                   "--num_processes=2", f"--process_id={i}", seeds=1),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
  assert [p.returncode for p in procs] == [2, 2], outs
  assert "in use by another launch" in outs[0][1] and "process 0 could not lock" in outs[1][1]
  assert not any("Traceback" in err for _, err in outs)
  assert sorted(p.name for p in workdir.iterdir()) == [lock.LOCK_NAME]


# --- data checked on resume ------------------------------------------------------------------

def test_changed_data_stops_the_resume_and_appends_nothing(tiny_data_dir, tmp_path):
  workdir = tmp_path / "w"
  subprocess.run(_cmd(tiny_data_dir, workdir), check=True, capture_output=True, timeout=300)
  lines = (workdir / "runs.jsonl").read_text().splitlines(keepends=True)
  (workdir / "runs.jsonl").write_text(lines[0])  # as if killed before the second run was recorded
  def files():  # the lock file names the last holder, so it changes with every launch
    return {p.name: p.read_bytes() for p in workdir.iterdir() if p.is_file() and p.name != lock.LOCK_NAME}
  before = files()
  cat = tiny_data_dir / "cat.npy"
  old = npy.sha256(cat)
  original = cat.read_bytes()
  x = category_rows("cat", 200, 1)
  x[0, 100] ^= 1  # one pixel of one drawing, as a regenerated file might differ
  np.save(cat, x)
  line = _one_line(subprocess.run(_cmd(tiny_data_dir, workdir), capture_output=True, text=True, timeout=300))
  assert str(cat.resolve()) in line and old in line and npy.sha256(cat) in line
  assert "restore that file" in line and "new --workdir" in line
  assert files() == before
  cat.write_bytes(original)  # the fix: the file as it was
  subprocess.run(_cmd(tiny_data_dir, workdir), check=True, capture_output=True, timeout=300)
  assert sorted(_run_ids(workdir)) == ["h2/fc/seed0", "h2/fc/seed1"]


def test_the_data_check_covers_any_kind_of_data_file(tmp_path):
  recorded = [{"category": "cat", "file": "/d/cat.npy", "sha256": "a" * 64},
              {"kind": "strokes", "file": "/d/cat.ndjson", "sha256": "b" * 64}]
  (tmp_path / "environment.json").write_text(json.dumps({"data": recorded}))
  wd.check_data(tmp_path, recorded)
  with pytest.raises(QdError, match="cat.ndjson changed"):
    wd.check_data(tmp_path, [recorded[0], {**recorded[1], "sha256": "c" * 64}])
  wd.check_data(tmp_path / "new", [{**recorded[1], "sha256": "c" * 64}])  # a new workdir has no record


def test_a_launch_hashes_each_data_file_once(tiny_data_dir, tmp_path, monkeypatch):
  hashed = []
  real = npy._hash
  monkeypatch.setattr(npy, "_hash", lambda path: hashed.append(path.name) or real(path))
  monkeypatch.setattr(npy, "_HASHES", {})
  config = configs.get_config("h1", overrides={"data_dir": str(tiny_data_dir), "categories": ",".join(TINY),
                                               "models": "fc", "num_seeds": 1, "epochs": 1,
                                               "rows_per_category": 200, "batch_size": 32, "eval_batch_size": 64})
  sweep.train_and_evaluate(config, tmp_path / "w", log=lambda _: None)
  sweep.train_and_evaluate(config, tmp_path / "w", log=lambda _: None)  # the resume checks, and hashes nothing
  assert sorted(hashed) == sorted(f"{c}.npy" for c in TINY)


# --- damaged lines of the records --------------------------------------------------------------

def _damage_line(path, number: int) -> bytes:
  """Overwrites bytes in the middle of line `number` (1-based), keeping its length and newline."""
  data = bytearray(path.read_bytes())
  starts = [0] + [i + 1 for i, b in enumerate(data) if b == ord("\n")]
  at = starts[number - 1] + 20
  data[at:at + 6] = b"\xff\x00}{,\""
  path.write_bytes(bytes(data))
  return bytes(data[starts[number - 1]:starts[number]])


def test_a_damaged_line_is_moved_aside_said_and_its_run_trained_again(tiny_data_dir, tmp_path):
  workdir = tmp_path / "w"
  cmd = _cmd(tiny_data_dir, workdir, "--config.models_at_once=1")  # so the rerun is bitwise the same
  subprocess.run(cmd, check=True, capture_output=True, timeout=300)
  want = records(workdir)
  bad_run = _damage_line(workdir / "runs.jsonl", 1)
  bad_pred = _damage_line(workdir / "test_predictions.jsonl", 2)
  out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
  assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
  said = [line for line in out.stdout.splitlines() if " is damaged " in line]
  assert said == [
      f"{workdir / 'runs.jsonl'} line 1 is damaged (not a JSON object): moved to {workdir / 'runs.jsonl'}.damaged, "
      "its run is trained again",
      f"{workdir / 'test_predictions.jsonl'} line 2 is damaged (not a JSON object): moved to "
      f"{workdir / 'test_predictions.jsonl'}.damaged, its run's predictions are left out"]
  assert (workdir / "runs.jsonl.damaged").read_bytes() == bad_run  # byte for byte
  assert (workdir / "test_predictions.jsonl.damaged").read_bytes() == bad_pred
  assert sorted(_run_ids(workdir)) == ["h2/fc/seed0", "h2/fc/seed1"]  # each once
  assert records(workdir) == want  # the run trained again gave the same numbers


def test_the_analysis_names_damaged_lines_and_leaves_them(tmp_path):
  from analysis_fixtures import fixture_runs, write_workdir
  write_workdir(tmp_path, fixture_runs())
  _damage_line(tmp_path / "runs.jsonl", 3)
  before = (tmp_path / "runs.jsonl").read_bytes()
  out = subprocess.run([sys.executable, "-m", "analysis", f"--workdir={tmp_path}"], capture_output=True,
                       text=True, timeout=300)
  assert out.returncode == 0, out.stderr
  warnings = [line for line in out.stderr.splitlines() if line.startswith("analysis: warning:")]
  assert warnings == [f"analysis: warning: {tmp_path / 'runs.jsonl'} line 3 is damaged (not a JSON object) and is "
                      "left out; the next launch on this workdir moves it to runs.jsonl.damaged and trains its run "
                      "again"]
  assert (tmp_path / "runs.jsonl").read_bytes() == before


def test_scan_tells_a_damaged_line_from_a_torn_tail(tmp_path):
  path = tmp_path / "runs.jsonl"
  path.write_bytes(b'{"run_id": "a"}\n{"run_id": "b", "x": 1, oops}\n[1, 2]\n{"run_id": "\xff"}\n\n'
                   b'{"run_id": "c"}\n{"run_id": "d", "tor')
  scan = jsonl.scan(path)
  assert [r["run_id"] for r in scan.records] == ["a", "c"] and scan.damaged == [2, 3, 4]
  assert jsonl.set_aside(path) == [2, 3, 4]
  assert path.read_bytes() == b'{"run_id": "a"}\n\n{"run_id": "c"}\n{"run_id": "d", "tor'  # the torn tail stays
  jsonl.append(path, {"run_id": "e"})  # ... until the next append drops it, as before
  assert [r["run_id"] for r in jsonl.read(path)] == ["a", "c", "e"] and jsonl.scan(path).damaged == []


def test_a_whole_last_record_without_its_newline_is_kept(tmp_path):
  path = tmp_path / "runs.jsonl"
  path.write_bytes(b'{"run_id": "a"}\n{"run_id": "b"}')  # a torn write that stopped just before "\n"
  assert [r["run_id"] for r in jsonl.read(path)] == ["a", "b"]
  jsonl.append(path, {"run_id": "c"})  # the run counted as done is not cut off
  assert path.read_bytes() == b'{"run_id": "a"}\n{"run_id": "b"}\n{"run_id": "c"}\n'


_WRITES = {  # what can happen to runs.jsonl between two reads of it
    "append": lambda path, i: jsonl.append(path, {"run_id": f"r{i}"}),
    "torn": lambda path, i: open(path, "ab").write(b'{"run_id": "t'),  # a kill mid-write
    "whole_without_newline": lambda path, i: open(path, "ab").write(json.dumps({"run_id": f"w{i}"}).encode()),
    "damaged": lambda path, i: open(path, "ab").write(b'{"run_id": oops}\n'),
    "set_aside": lambda path, i: jsonl.set_aside(path),
    "removed": lambda path, i: path.unlink(missing_ok=True),
}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(sorted(_WRITES)), st.booleans()), max_size=14))
def test_a_follower_reads_what_read_reads_whatever_the_file_went_through(tmp_path_factory, writes):
  """Each write is followed by a read or not (summary.md is rebuilt at most every 10 s)."""
  path = tmp_path_factory.mktemp("follow") / "runs.jsonl"
  follower = jsonl.Follower(path)
  assert follower.read() == []
  for i, (write, then_read) in enumerate(writes):
    _WRITES[write](path, i)
    if then_read:
      assert follower.read() == jsonl.read(path), writes[:i + 1]
  assert follower.read() == jsonl.read(path), writes


def test_a_follower_parses_only_the_lines_appended_since_its_last_read(tmp_path, monkeypatch):
  path = tmp_path / "runs.jsonl"
  for i in range(50):
    jsonl.append(path, {"run_id": f"r{i}"})
  follower = jsonl.Follower(path)
  assert len(follower.read()) == 50
  parsed = []
  real = jsonl._parse
  monkeypatch.setattr(jsonl, "_parse", lambda line: parsed.append(line) or real(line))
  jsonl.append(path, {"run_id": "new"})
  assert [r["run_id"] for r in follower.read()][-2:] == ["r49", "new"]
  assert parsed == [b'{"run_id": "new"}', b""]  # the new line, and the empty tail after it
