"""JSON-lines files that grow by appends: runs.jsonl, test_predictions.jsonl, human.jsonl.

A kill mid-write can leave a torn last line (no newline yet). Readers skip it unless it is a
whole JSON object. An append first ends a torn line: it drops it (records a rerun writes again),
or, when it is a whole object or with keep_torn, leaves it on a line of its own (a person's
answers, which nothing can recreate).

A whole line that is not a JSON object (a bad sector, an edit gone wrong) is *damaged*, which a
torn tail is not: `scan` reports it with its line number, and `set_aside` moves it to
`<file>.damaged`, byte for byte, so that nothing is lost and its run is trained again.
"""

import dataclasses
import json
import os
import pathlib

from qd_jax.records import storage


@dataclasses.dataclass(frozen=True)
class Scan:
  records: list[dict]  # the whole JSON objects, in order
  damaged: list[int]  # 1-based numbers of the whole lines that are not JSON objects


def _parse(line: bytes) -> dict | None:
  try:
    rec = json.loads(line.decode("utf-8"))  # strict: a flipped bit in a string is damage too
  except ValueError:  # UnicodeDecodeError and JSONDecodeError are both ValueErrors
    return None
  return rec if isinstance(rec, dict) else None


def _split(path: pathlib.Path) -> tuple[list[bytes], bytes]:
  """The file's whole lines, and what follows the last newline (a torn line, or b"")."""
  with storage.guard(path, "read"):
    data = path.read_bytes() if path.is_file() else b""
  *lines, tail = data.split(b"\n")
  return lines, tail


def scan(path: pathlib.Path) -> Scan:
  records, damaged = [], []
  lines, tail = _split(pathlib.Path(path))
  for number, line in enumerate(lines, 1):
    if not line.strip():
      continue  # what keep_torn leaves after a torn line it kept
    rec = _parse(line)
    if rec is None:
      damaged.append(number)
    else:
      records.append(rec)
  if (rec := _parse(tail)) is not None:
    records.append(rec)  # a whole object that lacks only its newline (the next append adds it)
  return Scan(records, damaged)


def read(path: pathlib.Path) -> list[dict]:
  """The file's whole JSON objects, in order; [] when there is no file."""
  return scan(path).records


CHECKED_BYTES = 4096  # about a runs.jsonl line


class Follower:
  """`read(path)` of a file that grows by appends, parsing only what came since the last call:
  summary.md re-reads runs.jsonl after cohorts, and parsing all of it each time grew with the
  sweep. A file that is not the one read before plus appends (set_aside's rewrite, a file
  removed and made again) is read again whole: the bytes before where the last read ended are
  no longer the ones it read."""

  def __init__(self, path: pathlib.Path):
    self.path = pathlib.Path(path)
    self._records, self._end, self._last = [], 0, b""  # parsed so far, up to byte _end; the bytes before it

  def read(self) -> list[dict]:
    with storage.guard(self.path, "read"):
      try:
        f = open(self.path, "rb")
      except FileNotFoundError:
        self._records, self._end, self._last = [], 0, b""
        return []
      with f:
        f.seek(self._end - len(self._last))
        if f.read(len(self._last)) != self._last:
          self._records, self._end, self._last = [], 0, b""
          f.seek(0)
        data = f.read()
    *lines, tail = data.split(b"\n")
    self._records += [rec for line in lines if line.strip() and (rec := _parse(line)) is not None]
    whole = len(data) - len(tail)  # a torn tail is parsed again next time, whole or not
    self._end, self._last = self._end + whole, (self._last + data[:whole])[-CHECKED_BYTES:]
    last = _parse(tail)
    return self._records + ([last] if last is not None else [])


def set_aside(path: pathlib.Path) -> list[int]:
  """Moves the damaged lines of `path` to `<path>.damaged` (appended, as they were) and returns
  their numbers. Only a workdir's lock holder may call it: the file is rewritten."""
  path = pathlib.Path(path)
  damaged = scan(path).damaged
  if not damaged:
    return []
  lines, tail = _split(path)
  bad = set(damaged)
  aside = path.with_name(path.name + ".damaged")
  with storage.guard(aside):
    with open(aside, "ab") as f:  # first kept there: a kill before the rewrite loses nothing
      f.write(b"".join(lines[n - 1] + b"\n" for n in damaged))
      f.flush()
      os.fsync(f.fileno())
  storage.write_atomic(path, b"".join(line + b"\n" for n, line in enumerate(lines, 1) if n not in bad) + tail)
  return damaged


def append(path: pathlib.Path, record: dict, *, keep_torn: bool = False, sort_keys: bool = False) -> None:
  """One whole line per record: a single O_APPEND write, then fsync. A write that fails (a full
  disk) is cut back off, so the file holds what it held before."""
  line = (json.dumps(record, ensure_ascii=False, sort_keys=sort_keys) + "\n").encode()
  with storage.guard(path):
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
      size = os.fstat(fd).st_size
      if size and os.pread(fd, 1, size - 1) != b"\n":
        start = _after_last_newline(fd, size)
        if keep_torn or _parse(os.pread(fd, size - start, start)) is not None:
          line = b"\n" + line
        else:
          size = start
          os.ftruncate(fd, size)
      try:
        while line:
          line = line[os.write(fd, line):]
        os.fsync(fd)
      except OSError:
        os.ftruncate(fd, size)  # shrinking needs no space
        raise
    finally:
      os.close(fd)


def _after_last_newline(fd: int, size: int) -> int:
  # reads back from the end only: the files grow to megabytes, and every append checks
  end = size
  while end > 0:
    start = max(0, end - 65536)
    at = os.pread(fd, end - start, start).rfind(b"\n")
    if at >= 0:
      return start + at + 1
    end = start
  return 0
