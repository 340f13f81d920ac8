"""qd_jax.data.npy: header checks, read-only memmaps, and refusing every malformed file."""

import io
import pathlib
import pickle

import numpy as np
import pytest

from qd_jax.data import npy
from qd_jax.data.category_file import CategoryFile
from qd_jax.errors import QdError


def open_rows(path):
  """What training reads: the checked file's (N, 784) memmap."""
  return CategoryFile.open(path.stem, path).pixels

from conftest import BAD_NPY, LOCAL_TEN, category_rows, decode_rows


class _Touch:
  """Unpickling this creates `marker`: proof that something was unpickled."""

  def __init__(self, marker):
    self.marker = str(marker)

  def __reduce__(self):
    return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def _refused(path: pathlib.Path, fn) -> str:
  with pytest.raises(QdError) as e:
    fn(path)
  msg = str(e.value)
  assert str(path) in msg, msg
  assert "\n" not in msg and "\r" not in msg, msg
  return msg


@pytest.fixture
def valid(make_category_files):
  return make_category_files("valid", {"smiley face": 50})["smiley face"]


def test_valid_file_opens_as_read_only_memmap(valid):
  rows = open_rows(valid)
  assert isinstance(rows, np.memmap)
  assert rows.shape == (50, 784) and rows.dtype == np.uint8
  assert not rows.flags.writeable
  with pytest.raises(ValueError):
    rows[0, 0] = 1
  np.testing.assert_array_equal(rows, category_rows("smiley face", 50))
  ids, names = decode_rows(rows[[3, 17, 49]])
  assert ids.tolist() == [3, 17, 49] and names == ["smiley face"] * 3


def test_read_header_reports_rows_and_offset(valid):
  h = npy.read_header(valid)
  assert h.rows == 50 and h.shape == (50, 784)
  assert h.header_bytes + 50 * 784 == valid.stat().st_size
  assert valid.read_bytes()[h.header_bytes:h.header_bytes + 4] == bytes([0, 0, 0, 0])


def test_zero_rows_is_a_valid_file(tmp_path):
  path = tmp_path / "cat.npy"
  np.save(path, np.zeros((0, 784), np.uint8))
  assert npy.read_header(path).rows == 0
  assert open_rows(path).shape == (0, 784)


def test_28x28_layout_is_viewed_as_rows(tmp_path):
  want = category_rows("cat", 12)
  path = tmp_path / "cat.npy"
  np.save(path, want.reshape(12, 28, 28))
  h = npy.read_header(path)
  assert h.rows == 12 and h.shape == (12, 28, 28)
  rows = open_rows(path)
  assert rows.shape == (12, 784) and not rows.flags.writeable
  np.testing.assert_array_equal(rows, want)


def test_write_header_makes_a_file_numpy_and_qd_jax_read(tmp_path):
  want = category_rows("cat", 7)
  path = tmp_path / "cat.npy"
  with open(path, "wb") as f:
    npy.write_header(f, 7)
    f.write(want.tobytes())
  np.testing.assert_array_equal(np.load(path, allow_pickle=False), want)
  np.testing.assert_array_equal(open_rows(path), want)


def test_sha256_matches_hashlib(valid):
  import hashlib
  assert npy.sha256(valid) == hashlib.sha256(valid.read_bytes()).hexdigest()


@pytest.mark.parametrize("case", sorted(BAD_NPY))
@pytest.mark.parametrize("fn", [npy.read_header, open_rows], ids=["read_header", "open_rows"])
def test_bad_file_is_one_line_naming_the_file(tmp_path, case, fn):
  write, says = BAD_NPY[case]
  d = tmp_path / "data dir"
  d.mkdir()
  path = d / "smiley face.npy"
  write(path)
  msg = _refused(path, fn)
  assert says in msg


def test_fortran_case_really_is_fortran(tmp_path):
  """Guards the fixture: np.save must have written fortran_order True."""
  path = tmp_path / "x.npy"
  BAD_NPY["fortran"][0](path)
  with open(path, "rb") as f:
    np.lib.format.read_magic(f)
    _, fortran, _ = np.lib.format.read_array_header_1_0(f)
  assert fortran


def test_parse_header_on_a_stream_names_the_given_name():
  buf = io.BytesIO(b"GIF89a not a numpy file at all")
  with pytest.raises(QdError) as e:
    npy.parse_header(buf, "stream-name.npy")
  assert "stream-name.npy" in str(e.value) and "\n" not in str(e.value)


def test_pickle_is_never_unpickled(tmp_path):
  # Control: the payload really has a side effect when something does unpickle it.
  control = tmp_path / "control-marker"
  pickle.loads(pickle.dumps(_Touch(control)))
  assert control.exists()

  marker = tmp_path / "marker"
  path = tmp_path / "cat.npy"
  arr = np.empty(3, dtype=object)
  arr[:] = [_Touch(marker), _Touch(marker), _Touch(marker)]
  np.save(path, arr, allow_pickle=True)
  assert not marker.exists()

  for fn in (npy.read_header, open_rows):
    msg = _refused(path, fn)
    assert "pickle" in msg
    assert not marker.exists(), f"{fn.__name__} unpickled the file"

  control_file = tmp_path / "control.npy"
  arr[:] = [_Touch(control), _Touch(control), _Touch(control)]
  control.unlink()
  np.save(control_file, arr, allow_pickle=True)
  np.load(control_file, allow_pickle=True)
  assert control.exists()  # numpy with allow_pickle would have run it


def test_real_local_files_open(shared_data_dir):
  for name in LOCAL_TEN:
    path = shared_data_dir / f"{name}.npy"
    assert path.is_file(), path
    h = npy.read_header(path)
    assert h.rows > 0
    rows = open_rows(path)
    assert rows.shape == (h.rows, 784) and rows.dtype == np.uint8
    assert not rows.flags.writeable
    last = np.asarray(rows[-2:])
    with open(path, "rb") as f:
      f.seek(h.header_bytes + (h.rows - 2) * 784)
      assert f.read() == last.tobytes()


def test_sha256_is_computed_once_per_file_version(tmp_path, monkeypatch):
  import hashlib
  import os
  path = tmp_path / "a.npy"
  path.write_bytes(b"one")
  calls = []
  real = hashlib.sha256
  monkeypatch.setattr(hashlib, "sha256", lambda *a: calls.append(1) or real(*a))
  first = npy.sha256(path)
  assert npy.sha256(path) == first == real(b"one").hexdigest() and len(calls) == 1
  path.write_bytes(b"two!")  # a new size (and mtime): hashed again
  os.utime(path, ns=(1, 1))
  assert npy.sha256(path) == real(b"two!").hexdigest() and len(calls) == 2
  path.replace(tmp_path / "b.npy")  # a download renames its temp file into place: the same version
  assert npy.sha256(tmp_path / "b.npy") == real(b"two!").hexdigest() and len(calls) == 2
