"""The bad-input matrix, end to end: one line naming the file or flag, exit 2, no results left."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from conftest import BAD_NPY, category_rows

MARKER = "/tmp/qd_jax_pickle_ran"


class _Payload:
  def __reduce__(self):
    return (pathlib.Path(MARKER).touch, ())


def _pickled(path):
  np.save(path, np.array([_Payload()], dtype=object), allow_pickle=True)


# What the launcher must refuse, end to end: a sample of test_npy's cases, and a pickle.
BAD_FILES = {**{k: BAD_NPY[k] for k in ("truncated", "empty", "html", "float32", "width 783")},
             "pickle": (_pickled, "pickle")}


def _launch(data_dir, workdir, *flags):
  cmd = [sys.executable, "-m", "qd_jax.launch", "--hypothesis=h1", f"--data_dir={data_dir}",
         "--categories=airplane,cat", f"--workdir={workdir}", "--config.rows_per_category=200",
         "--config.epochs=1", "--seeds=1", "--config.batch_size=32", "--config.eval_batch_size=64", *flags]
  return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def _one_line(out) -> str:
  assert out.returncode == 2, out.stderr
  assert "Traceback" not in out.stderr
  lines = out.stderr.strip().splitlines()
  assert len(lines) == 1, out.stderr
  return lines[0]


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_data_file(tmp_path, case):
  make, needle = BAD_FILES[case]
  np.save(tmp_path / "airplane.npy", category_rows("airplane", 200, 0))
  make(tmp_path / "cat.npy")
  pathlib.Path(MARKER).unlink(missing_ok=True)
  line = _one_line(_launch(tmp_path, tmp_path / "w"))
  assert "cat.npy" in line and needle in line and "download it again" in line
  assert not (tmp_path / "w").exists()
  assert not os.path.exists(MARKER)


def test_verbose_adds_the_traceback(tmp_path):
  np.save(tmp_path / "airplane.npy", category_rows("airplane", 200, 0))
  BAD_NPY["empty"][0](tmp_path / "cat.npy")
  out = _launch(tmp_path, tmp_path / "w", "--verbose")
  assert out.returncode == 2 and "Traceback" in out.stderr and "is empty" in out.stderr


def test_three_d_files_are_accepted(tmp_path):
  """(N, 28, 28) is what many users save after reshaping; it is the same bytes, so it is read."""
  np.save(tmp_path / "airplane.npy", category_rows("airplane", 200, 0))
  np.save(tmp_path / "cat.npy", category_rows("cat", 200, 1).reshape(200, 28, 28))
  out = _launch(tmp_path, tmp_path / "w")
  assert out.returncode == 0, out.stderr
  assert (tmp_path / "w" / "runs.jsonl").read_text().count("\n") == 1


@pytest.mark.parametrize("flag, needle", [
    ("--config.epochs=0", "--config.epochs=0 must be positive"),
    ("--config.batch_size=-32", "--config.batch_size=-32 must be positive"),
    ("--config.test_fraction=0", "test_fraction"),
    ("--config.keep_checkpoints=1", "--config.keep_checkpoints=1 keeps too few"),
])
def test_zero_or_negative_sizes(tiny_data_dir, tmp_path, flag, needle):
  assert needle in _one_line(_launch(tiny_data_dir, tmp_path / "w", flag))
  assert not (tmp_path / "w").exists()


def test_nan_or_runaway_loss_stops_with_one_line_and_no_results(tiny_data_dir, tmp_path):
  line = _one_line(_launch(tiny_data_dir, tmp_path / "w", "--config.learning_rate=1e6"))
  assert "diverged" in line and "--config.learning_rate" in line
  assert not (tmp_path / "w" / "runs.jsonl").exists()
