"""JSON-lines files that grow by appends: runs.jsonl, test_predictions.jsonl, human.jsonl.

A kill mid-write can leave a torn last line. Readers skip every line that is not a whole JSON
object. An append first ends a torn line: it drops it (records a rerun writes again), or, with
keep_torn, leaves it on a line of its own (a person's answers, which nothing can recreate).
"""

import json
import os
import pathlib


def read(path: pathlib.Path) -> list[dict]:
  """The file's whole JSON objects, in order; [] when there is no file."""
  path = pathlib.Path(path)
  if not path.is_file():
    return []
  out = []
  for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
    try:
      rec = json.loads(line)
    except ValueError:
      continue
    if isinstance(rec, dict):
      out.append(rec)
  return out


def append(path: pathlib.Path, record: dict, *, keep_torn: bool = False, sort_keys: bool = False) -> None:
  """One whole line per record: a single O_APPEND write, then fsync."""
  line = (json.dumps(record, ensure_ascii=False, sort_keys=sort_keys) + "\n").encode()
  fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
  try:
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
      if keep_torn:
        line = b"\n" + line
      else:
        os.ftruncate(fd, _after_last_newline(fd, size))
    while line:
      line = line[os.write(fd, line):]
    os.fsync(fd)
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
