"""Reading official-layout `<category>.npy` files safely: header checks, then a read-only memmap.

Nothing here unpickles: the header is parsed by hand-picked numpy.lib.format readers and the
data is only ever opened with allow_pickle=False.
"""

import dataclasses
import hashlib
import io
import os
import pathlib

import numpy as np

from qd_jax.data.categories import ROW_BYTES
from qd_jax.errors import QdError

FIX_REFETCH = "delete it and download it again, or point --data_dir at official numpy_bitmap files"


@dataclasses.dataclass(frozen=True)
class NpyHeader:
  rows: int
  header_bytes: int  # offset of the first data byte
  shape: tuple[int, ...]


def parse_header(f: io.BufferedIOBase, name: str) -> NpyHeader:
  """Validates a Quick Draw bitmap header: uint8, C order, (N, 784) or (N, 28, 28)."""
  try:
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
      shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    else:
      shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
  except (ValueError, OSError, EOFError, SyntaxError) as e:
    f.seek(0)
    head = f.read(16)
    what = "is empty" if not head else f"is not a .npy file (it starts with {head[:12]!r})"
    raise QdError(f"{name} {what}", FIX_REFETCH) from e
  if dtype.hasobject:
    raise QdError(f"{name} holds Python objects (a pickle), which qd_jax never loads", FIX_REFETCH)
  if dtype != np.uint8:
    raise QdError(f"{name} has dtype {dtype}, expected uint8 bitmaps", FIX_REFETCH)
  if fortran:
    raise QdError(f"{name} is stored in Fortran order, expected C order", FIX_REFETCH)
  if not (len(shape) == 2 and shape[1] == ROW_BYTES) and shape[1:] != (28, 28):
    raise QdError(f"{name} has shape {shape}, expected (N, 784) or (N, 28, 28)", FIX_REFETCH)
  return NpyHeader(rows=int(shape[0]), header_bytes=f.tell(), shape=tuple(shape))


def read_header(path: pathlib.Path) -> NpyHeader:
  with open(path, "rb") as f:
    header = parse_header(f, str(path))
  expected = header.header_bytes + header.rows * ROW_BYTES
  actual = os.path.getsize(path)
  if actual != expected:
    raise QdError(f"{path} is {'truncated' if actual < expected else 'too long'}: "
                  f"{actual} bytes, its header promises {expected}", FIX_REFETCH)
  return header


def memmap_rows(path: pathlib.Path, header: NpyHeader) -> np.ndarray:
  """A read-only (N, 784) uint8 memmap of a file whose header read_header has checked."""
  if header.rows == 0:  # mmap refuses a zero-length map
    return np.zeros((0, ROW_BYTES), np.uint8)
  return np.memmap(path, np.uint8, "r", offset=header.header_bytes, shape=(header.rows, ROW_BYTES))


def write_header(f: io.BufferedIOBase, rows: int) -> None:
  np.lib.format.write_array_header_1_0(
      f, {"descr": "|u1", "fortran_order": False, "shape": (rows, ROW_BYTES)})


_HASHES: dict[tuple, str] = {}


def sha256(path: pathlib.Path) -> str:
  """The file's sha256, computed once per file version (device, inode, size, mtime): a launch
  checks a file and then records it, and a download hashes its temp file, which the rename into
  place keeps as the same inode. A 100 MB official file takes about 0.3 s to hash."""
  st = os.stat(path)
  key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
  if key not in _HASHES:
    _HASHES[key] = _hash(path)
  return _HASHES[key]


def _hash(path: pathlib.Path) -> str:
  h = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      h.update(block)
  return h.hexdigest()
