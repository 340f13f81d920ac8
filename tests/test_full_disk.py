"""I/O errors are errors: a full disk, a read-only file system or a failed write gives one line
naming the path and the fix, exit status 2, no traceback, and what was recorded stays readable.

The real full disk is a small tmpfs, mounted in a user and mount namespace of its own
(`unshare --user --map-root-user --mount`), which needs no root where user namespaces are
allowed: its writes fail with ENOSPC inside tensorstore's C++ writers too, where no Python patch
reaches. Without namespaces that test is skipped; the writes qd_jax makes from Python are also
tested below by injecting ENOSPC at the OS call, which runs everywhere.
"""

import errno
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys

import pytest

from qd_jax.errors import QdError
from qd_jax.records import jsonl, storage, workdir as wd

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from conftest import records, start_and_kill  # noqa: E402
from test_resume import _cmd  # noqa: E402


def _one_line(code: int, err: str, needle: str) -> str:
  assert code == 2, err
  assert "Traceback" not in err
  lines = err.strip().splitlines()
  assert len(lines) == 1, err
  assert needle in lines[0], lines[0]
  return lines[0]


# --- a real full disk: a tmpfs in a namespace -------------------------------------------------

def _scenario(data_dir: str, out: str) -> None:
  """Runs inside the namespace: kill after one run, fill the disk, resume (fails), read-only
  (fails), the analysis on the full disk (fails), free it, resume (finishes)."""
  out = pathlib.Path(out)
  mnt = out / "mnt"
  mnt.mkdir()
  subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mnt)], check=True)
  workdir = mnt / "w"
  cmd = _cmd(data_dir, workdir)
  run = lambda *c: subprocess.run(list(c) or cmd, capture_output=True, text=True)  # noqa: E731
  result = {"killed": start_and_kill(cmd, lambda: len(wd.read_runs(workdir)) == 1)[0]}
  recorded = (workdir / "runs.jsonl").read_bytes()
  st = os.statvfs(mnt)
  left = st.f_bavail * st.f_frsize - 100 * 1024  # 100 KiB stay free: config.json fits, no checkpoint does
  with open(mnt / "filler", "wb") as f:
    while left > 0:
      left -= f.write(b"\0" * min(left, 1 << 20))
  full = run()
  result["full"] = [full.returncode, full.stderr]
  result["kept"] = (workdir / "runs.jsonl").read_bytes() == recorded
  result["readable"] = [r["run_id"] for r in wd.read_runs(workdir)]
  fd = os.open(mnt / "filler", os.O_WRONLY | os.O_APPEND)  # now full to the last page
  try:
    while os.write(fd, b"\0" * 4096):
      pass
  except OSError:
    pass
  os.close(fd)
  analysis = run(sys.executable, "-m", "analysis", f"--workdir={workdir}")
  result["analysis"] = [analysis.returncode, analysis.stderr]
  (mnt / "filler").unlink()
  subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
  ro = run()
  result["read_only"] = [ro.returncode, ro.stderr]
  subprocess.run(["mount", "-o", "remount,rw", str(mnt)], check=True)
  done = run()
  result["resumed"] = [done.returncode, done.stderr]
  shutil.copytree(workdir, out / "w", ignore=shutil.ignore_patterns("checkpoints"))
  (out / "result.json").write_text(json.dumps(result))


def _namespaces() -> bool:
  try:
    return subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                           "mkdir -p /tmp/.qd_ns && mount -t tmpfs -o size=1m tmpfs /tmp/.qd_ns"],
                          capture_output=True, timeout=30).returncode == 0
  except (OSError, subprocess.TimeoutExpired):
    return False


@pytest.mark.skipif(not _namespaces(), reason="user and mount namespaces (unshare --user --mount) are "
                    "not allowed here, so no tmpfs can be mounted to fill")
def test_a_full_disk_while_checkpointing_is_one_line_and_loses_nothing(bigger_data_dir, tmp_path):
  subprocess.run(_cmd(bigger_data_dir, tmp_path / "whole"), check=True, capture_output=True)
  out = tmp_path / "ns"
  out.mkdir()
  # Run as a script, its path would put tests/ first on sys.path: the repository goes first too,
  # so it imports this checkout's qd_jax whether or not (and wherever) the package is installed.
  env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")]))}
  subprocess.run(["unshare", "--user", "--map-root-user", "--mount", sys.executable, __file__,
                  str(bigger_data_dir), str(out)], check=True, timeout=900, env=env)
  result = json.loads((out / "result.json").read_text())
  assert result["killed"] == -signal.SIGKILL
  line = _one_line(*result["full"], "No space left on device")
  assert "cannot save the checkpoint" in line and "/w/checkpoints/h2_cnn2_seed1/" in line
  assert "free space on that disk, then rerun the same command" in line
  assert result["kept"] and result["readable"] == ["h2/cnn2/seed0"]  # what was recorded stays readable
  line = _one_line(*result["analysis"], "No space left on device")
  assert line.startswith("analysis: error: cannot write ") and "python -m analysis" in line
  line = _one_line(*result["read_only"], "Read-only file system")
  assert "/w" in line and "make it writable" in line
  assert result["resumed"][0] == 0, result["resumed"][1]
  assert records(out / "w") == records(tmp_path / "whole")


# --- ENOSPC injected at the OS call: every machine ----------------------------------------------

def test_an_append_on_a_full_disk_is_a_qd_error_and_is_cut_back(tmp_path, monkeypatch):
  path = tmp_path / "runs.jsonl"
  jsonl.append(path, {"run_id": "a"})
  before = path.read_bytes()
  with monkeypatch.context() as m:
    m.setattr(jsonl.os, "write", _first_then_enospc(5))  # part of the line reaches the disk, then it is full
    with pytest.raises(QdError) as e:
      jsonl.append(path, {"run_id": "b", "pad": "x" * 100})
  assert str(e.value) == (f"cannot write {path}: No space left on device; free space on that disk, then rerun "
                          "the same command: what is recorded is kept and unfinished runs resume")
  assert path.read_bytes() == before  # the half line is gone
  jsonl.append(path, {"run_id": "c"})
  assert [r["run_id"] for r in jsonl.read(path)] == ["a", "c"]


def _first_then_enospc(nbytes: int):
  """os.write that writes `nbytes` once, then fails as a full disk does."""
  real, calls = os.write, []

  def write(fd, data):
    calls.append(1)
    if len(calls) == 1:
      return real(fd, bytes(data[:nbytes]))
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
  return write


def test_an_atomic_write_on_a_full_disk_keeps_the_old_file(tmp_path, monkeypatch):
  path = tmp_path / "summary.md"
  wd.write_atomic(path, "old")

  def full(fd):  # what fsync returns when the disk fills before the data reach it
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

  with monkeypatch.context() as m:
    m.setattr(storage.os, "fsync", full)
    with pytest.raises(QdError, match=f"cannot write {path}: No space left on device; free space"):
      wd.write_atomic(path, "new")
  assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["summary.md"]


def test_a_figure_on_a_full_disk_is_a_qd_error_naming_it(tmp_path, monkeypatch):
  from matplotlib.figure import Figure
  from analysis import report
  from analysis_fixtures import fixture_runs, write_workdir
  write_workdir(tmp_path, fixture_runs())

  def full(self, fname, **kw):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(fname))

  monkeypatch.setattr(Figure, "savefig", full)
  with pytest.raises(QdError, match=r"cannot write .*\.png: No space left on device; .*python -m analysis"):
    report.build(tmp_path)


def test_the_errno_is_found_in_oserrors_and_in_tensorstore_messages():
  ts = ValueError('RESOURCE_EXHAUSTED: Error writing local file "/w/checkpoints/r/3.orbax-checkpoint-tmp/x": '
                  "Failed to write 5875 bytes to file 18: No space left on device [os_error_code='28']")
  assert storage.errno_of(ts) == errno.ENOSPC
  wrapped = RuntimeError("a writer thread failed")
  wrapped.__cause__ = OSError(errno.EROFS, "Read-only file system")
  assert storage.errno_of(wrapped) == errno.EROFS
  assert storage.errno_of(OSError(errno.ENOENT, "No such file")) is None  # not the environment's fault
  assert str(storage.error(errno.EACCES, "/w/runs.jsonl")) == (
      "cannot write /w/runs.jsonl: Permission denied; give this user access there, "
      "then rerun the same command: what is recorded is kept and unfinished runs resume")


if __name__ == "__main__":
  _scenario(*sys.argv[1:])


ABANDON = """
import gc, sys
from qd_jax.records import storage
async def write():
  pass
def abandon():  # a coroutine in a cycle: only the garbage collector frees it, as orbax's are
  cycle = [write()]
  cycle.append(cycle)
with storage.quiet() as q:
  abandon()
  q.failed = sys.argv[1] == "failed"
abandon()  # after the block: collected at exit
"""


def test_coroutines_abandoned_by_a_failed_save_print_nothing_and_others_still_warn():
  # A full disk mid-save leaves orbax's coroutines unawaited; the interpreter's warning for each
  # would break the one-line error. After a block that did not fail, warnings are as they were.
  def run(how):
    return subprocess.run([sys.executable, "-c", ABANDON, how], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(pathlib.Path(__file__).parents[1])})
  failed, fine = run("failed"), run("fine")
  assert failed.returncode == 0 and failed.stderr == ""
  assert fine.returncode == 0 and fine.stderr.count("was never awaited") == 1  # the one after the block
