"""DIR/human.jsonl, the human baseline's answers: one JSON object per line, appended whole.

qd_jax.human writes it; analysis/human.py reads it. A crash can tear the last line, so readers skip
lines that do not parse, and the next append starts on a fresh line.
"""

import json
import os
import pathlib

FILE = "human.jsonl"


def read(path: pathlib.Path) -> list[dict]:
  """The answers on disk; a torn last line (a crash mid-write) is skipped, not fatal."""
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


def append(path: pathlib.Path, record: dict) -> None:
  """One whole line per answer: a single O_APPEND write, then fsync."""
  line = (json.dumps(record, ensure_ascii=False) + "\n").encode()
  fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
  try:
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
      line = b"\n" + line  # keep a torn line from an earlier crash apart from this one
    while line:
      line = line[os.write(fd, line):]
    os.fsync(fd)
  finally:
    os.close(fd)
