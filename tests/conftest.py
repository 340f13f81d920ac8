"""Shared fixtures: small self-identifying category files and the real Quick Draw folder.

Every row written by `make_category_files(dir, counts)` says who it is:
  bytes 0..3  little-endian uint32 row index i within its file,
  byte 4      c = the category's position in `counts` (0, 1, 2, ...: the label it gets when the
              same order is passed to splits.make_split),
  bytes 5..6  little-endian uint16 index of the category in the 345 official names,
  the rest    a class pattern: bright 7x7 blocks on a 3x3 grid, one block in cell c for c < 9
              and distinct sets of blocks beyond (so a classifier can learn the classes), plus
              small seeded noise (0..29) everywhere else.
`decode_rows(x)` turns such rows back into (row ids, category names); `row_labels(x)` gives c.
"""

import importlib.util
import os
import pathlib
import signal
import socket
import subprocess
import textwrap
import time

import numpy as np
import pytest

from qd_jax.data import categories, splits
from qd_jax.data.category_file import CategoryFile
from qd_jax.records import workdir as wd

# Training settings come from the registry's defaults, not from timings of whatever machine runs
# the tests (training/autotune.py); tests/test_autotune.py turns it back on where it tests it.
os.environ["QD_JAX_AUTOTUNE"] = "0"

# The ten categories present in the local shared Quick Draw folder.
LOCAL_TEN = ("airplane", "cat", "rainbow", "dog", "smiley face", "clock", "bird", "flower",
             "house", "skull")
ROW_BYTES = 784
ID_BYTES = 7  # row index, position c, official index


def category_index(name: str) -> int:
  names = categories.official_names()
  if name not in names:
    raise ValueError(f"make_category_files needs official names, got {name!r}")
  return names.index(name)


def _cells(c: int) -> tuple[int, ...]:
  """Grid cells lit for position c: one cell for c < 9, then distinct sets of 2+ cells."""
  if c < 9:
    return (c,)
  multi = [m for m in range(1 << 9) if bin(m).count("1") >= 2]
  m = multi[c - 9]
  return tuple(b for b in range(9) if m >> b & 1)


def class_pattern(c: int) -> np.ndarray:
  """(784,) uint8: bright 7x7 blocks on a 3x3 grid, distinct for each c; rows 0..3 stay dark."""
  img = np.zeros((28, 28), np.uint8)
  for cell in _cells(c):
    r, k = divmod(cell, 3)
    img[4 + 8 * r:11 + 8 * r, 3 + 8 * k:10 + 8 * k] = 255
  return img.reshape(ROW_BYTES)


def category_rows(name: str, n: int, c: int = 0) -> np.ndarray:
  """The (n, 784) uint8 rows `make_category_files` writes for `name` at position c."""
  official = category_index(name)
  rng = np.random.default_rng([1234, official, c])
  x = rng.integers(0, 30, (n, ROW_BYTES), dtype=np.uint8)
  x = np.maximum(x, class_pattern(c)[None, :])
  x[:, :4] = np.arange(n, dtype="<u4").view(np.uint8).reshape(n, 4)
  x[:, 4] = c
  x[:, 5:7] = np.frombuffer(np.uint16(official).astype("<u2").tobytes(), np.uint8)
  return x


def decode_rows(x: np.ndarray) -> tuple[np.ndarray, list[str]]:
  """(row index within its file, category name) of each self-identifying row."""
  x = np.ascontiguousarray(np.asarray(x, np.uint8).reshape(-1, ROW_BYTES))
  ids = x[:, :4].copy().view("<u4").reshape(-1).astype(np.int64)
  official = x[:, 5:7].copy().view("<u2").reshape(-1)
  names = categories.official_names()
  return ids, [names[k] for k in official]


def row_labels(x: np.ndarray) -> np.ndarray:
  """The position c (byte 4) of each self-identifying row, as int32."""
  return np.asarray(x, np.uint8).reshape(-1, ROW_BYTES)[:, 4].astype(np.int32)


def row_keys(x: np.ndarray) -> list[tuple[str, int]]:
  """[(category, row id)] of each row: a hashable identity for set comparisons."""
  ids, names = decode_rows(x)
  return list(zip(names, ids.tolist()))


@pytest.fixture
def make_category_files(tmp_path):
  """make(dir, {category: rows}) -> {category: <dir>/<category>.npy}, in the order given.

  A relative dir is taken under tmp_path; files are uint8 (N, 784) in official layout.
  """
  def make(dir, counts: dict[str, int]) -> dict[str, pathlib.Path]:
    d = pathlib.Path(dir)
    if not d.is_absolute():
      d = tmp_path / d
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    if len(counts) > 256:
      raise ValueError("byte 4 holds at most 256 categories")
    for c, (name, n) in enumerate(counts.items()):
      path = d / f"{name}.npy"
      np.save(path, category_rows(name, n, c), allow_pickle=False)
      out[name] = path
    return out

  return make


@pytest.fixture
def tiny_data_dir(tmp_path, make_category_files):
  """A folder with airplane, cat and smiley face, 200 self-identifying rows each."""
  d = tmp_path / "tiny"
  make_category_files(d, {"airplane": 200, "cat": 200, "smiley face": 200})
  return d


@pytest.fixture
def shared_data_dir():
  """The real Quick Draw folder named by QD_DATA_DIR."""
  value = os.environ.get("QD_DATA_DIR")
  if not value:
    pytest.skip("QD_DATA_DIR is not set; point it at the real Quick Draw folder "
                "(e.g. /work/shared/data/quickdraw) to run tests on real bitmaps")
  path = pathlib.Path(value)
  if not path.is_dir():
    pytest.fail(f"QD_DATA_DIR={value} is set but is not a folder")
  return path


@pytest.fixture
def local_ten():
  return LOCAL_TEN


# ---- helpers more than one test file uses ----

TINY = ("airplane", "cat", "smiley face")  # tiny_data_dir's categories
TIMING = {"seconds", "samples_per_s", "train_seconds", "compile_seconds"}


def open_files(paths: dict) -> dict[str, CategoryFile]:
  """{category: path} -> {category: CategoryFile}."""
  return {c: CategoryFile.open(c, p) for c, p in paths.items()}


def tiny_split(data_dir: pathlib.Path, seed: int = 0, rows: int = 200) -> splits.Split:
  """TINY's files in data_dir, `rows` per category split 70/10/20."""
  files = open_files({c: data_dir / f"{c}.npy" for c in TINY})
  return splits.make_split(files, {c: splits.sizes_for(rows, 0.1, 0.2) for c in files}, seed)


def train_settings(**kw):
  """training.loop.Settings for the tests' small runs: 2 epochs, batch 32, lr 3e-3."""
  from qd_jax.training import loop
  return loop.Settings(**{**dict(epochs=2, batch_size=32, eval_batch_size=64, learning_rate=3e-3,
                                 input_pipeline="device"), **kw})


def without_timings(record: dict) -> dict:
  """A run's record without its timings: what must be bitwise equal across resumes and cohorts."""
  out = {k: v for k, v in record.items() if k not in TIMING}
  out["epochs"] = [{k: v for k, v in e.items() if k not in TIMING} for e in record["epochs"]]
  return out


def records(workdir: pathlib.Path) -> list[dict]:
  """runs.jsonl without timings, by run_id."""
  return sorted((without_timings(r) for r in wd.read_runs(workdir)), key=lambda r: r["run_id"])


def load_benchmark(name: str):
  """benchmarks/<name>.py as a module (the folder is scripts, not a package)."""
  path = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / f"{name}.py"
  spec = importlib.util.spec_from_file_location(name, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def free_port() -> int:
  """A loopback port that nothing listened on a moment ago."""
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _rows(path, transform=lambda x: x):
  np.save(path, transform(category_rows("cat", 20)))


def _cut(path, keep):
  _rows(path)
  path.write_bytes(path.read_bytes()[:keep])


# name: (writer, what the refusal says). Every one is a file that qd_jax must refuse in one line.
BAD_NPY = {
    "truncated": (lambda p: _cut(p, -100), "truncated"),
    "too long": (lambda p: (_rows(p), p.write_bytes(p.read_bytes() + b"\0" * 784)), "too long"),
    "cut in header": (lambda p: _cut(p, 40), "not a .npy"),
    "empty": (lambda p: p.write_bytes(b""), "empty"),
    "html": (lambda p: p.write_bytes(b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"
                                     b"<body><h1>Not Found</h1></body></html>\n"), "not a .npy"),
    "float32": (lambda p: _rows(p, lambda x: x.astype(np.float32)), "float32"),
    "int16": (lambda p: _rows(p, lambda x: x.astype(np.int16)), "int16"),
    "width 783": (lambda p: _rows(p, lambda x: x[:, :783].copy()), "783"),
    "1-D": (lambda p: _rows(p, lambda x: x.reshape(-1)), "shape"),
    "28x27": (lambda p: _rows(p, lambda x: x.reshape(20, 28, 28)[:, :, :27].copy()), "shape"),
    "fortran": (lambda p: _rows(p, np.asfortranarray), "Fortran"),
}


def checkpoint_steps(workdir: pathlib.Path) -> list[pathlib.Path]:
  """The saved epochs' folders under workdir/checkpoints."""
  root = workdir / "checkpoints"
  return [p for p in root.glob("*/*") if p.name.isdigit()] if root.exists() else []


def start_and_kill(cmd, when, sig=signal.SIGKILL, timeout=120):
  """Starts cmd, sends sig once when() holds, and returns (exit code, stderr); fails if cmd ends first."""
  proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  deadline = time.time() + timeout
  while not (reached := when()) and proc.poll() is None and time.time() < deadline:
    time.sleep(0.01)
  assert proc.poll() is None, f"finished before the kill point: {proc.stderr.read()}"
  assert reached, f"the kill point was not reached in {timeout} s"
  proc.send_signal(sig)
  _, err = proc.communicate(timeout=120)
  return proc.returncode, err


@pytest.fixture(scope="session")
def bigger_data_dir(tmp_path_factory):
  """TINY's three categories at 1,500 rows: enough epochs of work to kill a launch mid-run."""
  d = tmp_path_factory.mktemp("bigger")
  for c, name in enumerate(TINY):
    np.save(d / f"{name}.npy", category_rows(name, 1500, c))
  return d


# ---- the launch scripts' fakes ----

def fake_exe(path: pathlib.Path, body: str) -> pathlib.Path:
  """An executable bash script at path (a fake command for the launch scripts' tests)."""
  path.write_text("#!/usr/bin/env bash\n" + textwrap.dedent(body))
  path.chmod(0o755)
  return path


def run_script(cmd, bin_dir=None, env=None, timeout=60, **kw):
  """Runs a launch script with bin_dir first on PATH and QD_DRY_RUN unset unless env sets it."""
  full_env = dict(os.environ)
  full_env.pop("QD_DRY_RUN", None)
  if bin_dir is not None:
    full_env["PATH"] = f"{bin_dir}{os.pathsep}{full_env['PATH']}"
  full_env.update(env or {})
  return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=full_env,
                        timeout=timeout, **kw)


@pytest.fixture
def no_gcloud(tmp_path):
  """A bin folder whose gcloud leaves a mark and fails: a dry run must never call it."""
  bin_dir = tmp_path / "bin"
  bin_dir.mkdir()
  mark = tmp_path / "gcloud-was-called"
  fake_exe(bin_dir / "gcloud", f'touch "{mark}"; echo "fake gcloud: must not be called: $*" >&2; exit 97\n')
  return bin_dir, mark
