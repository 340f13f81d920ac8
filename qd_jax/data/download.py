"""Fetching official `numpy_bitmap/<category>.npy` files, whole or as their first N rows.

A prefix is two Range requests (header, then the rows) saved under a fresh header. Files are
checked in a temp file before the rename; a sidecar `<name>.npy.json` marks files we fetched.
A cut transfer resumes with a Range request where the server allows it.
"""

import io
import json
import os
import pathlib
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Sequence

import tqdm

from qd_jax.data import categories as cats
from qd_jax.data import npy, transfer
from qd_jax.errors import QdError

BUCKET_URL = "https://storage.googleapis.com/quickdraw_dataset/full/numpy_bitmap/"
PROBE_BYTES = 4096  # far more than any npy header the bucket serves (128 bytes)
_ROW = cats.ROW_BYTES
_FIX_DIR = "pass a writable --data_dir"


class DownloadError(QdError):
  """A failed fetch; `reason` is the short why that ensure_local folds into one line."""

  def __init__(self, category: str, url: str, reason: str, fix: str):
    self.reason = reason
    super().__init__(f"cannot download {category!r} from {url}: {reason}", fix)


def url_for(category: str, base_url: str = BUCKET_URL) -> str:
  return base_url + urllib.parse.quote(category) + ".npy"


def _check_total(total: int | None, expected: cats.OfficialFile | None) -> None:
  if None not in (expected, total) and total != expected.size_bytes:
    raise transfer.Fatal(f"the file is {total} bytes, the official one {expected.size_bytes}",
                 "point the download URL at the official numpy_bitmap files")


def _probe(s: transfer.Session, expected: cats.OfficialFile | None) -> tuple[npy.NpyHeader, bytes]:
  """The file's header (and the raw bytes it came in), from one small Range request."""
  with s.open(0, PROBE_BYTES) as resp:
    total = transfer.content_range(resp, 0) if resp.status == 206 else transfer.content_length(resp)
    head = transfer.read(resp, PROBE_BYTES)
  header = _parse(io.BytesIO(head), "the response")
  promised = header.header_bytes + header.rows * _ROW
  if total is not None and total != promised:
    raise transfer.Fatal(f"the file is {total} bytes but its header promises {promised}",
                 "the server's copy is damaged; use the official bucket")
  _check_total(total, expected)
  return header, head


def _fetch_once(s: transfer.Session, category: str, data_dir: pathlib.Path, rows: int | None,
                expected: cats.OfficialFile | None, progress: bool) -> None:
  """One attempt: fills s.tmp (resuming a cut one where allowed), checks it, renames it in."""
  header, head = _probe(s, expected) if rows is not None else (None, b"")
  whole = header is None or rows >= header.rows
  if s.tmp is None:
    with tempfile.NamedTemporaryFile(dir=data_dir, prefix=f".{category}.npy.", suffix=".part",
                                     delete=False) as t:
      s.tmp = pathlib.Path(t.name)
  tmp = s.tmp
  done = tmp.stat().st_size if s.ranges else 0  # what a cut attempt left; else start over
  with open(tmp, "r+b") as f:
    if whole:
      with (s.open(done, s.total) if done else s.open()) as resp:
        ranged = resp.status == 206
        s.total = transfer.content_range(resp, done) if ranged else transfer.content_length(resp)
        _check_total(s.total, expected)
        f.truncate(f.seek(done if ranged else 0))  # 200: the whole file again
        with _bar(category, s.total, progress, f.tell()) as bar:
          transfer.read(resp, None, lambda b: bar.update(f.write(b)))
    else:
      hb, n = header.header_bytes, rows * _ROW
      npy.write_header(f, rows)  # at 0, the same bytes on every attempt
      have = max(done - f.tell(), 0)  # row bytes already in tmp
      with s.open(hb + have, hb + n) as resp:
        if resp.status == 206:
          transfer.content_range(resp, hb + have)
        else:  # 200: the server ignored Range (or If-Range saw a change); skip its header
          have = 0
          if transfer.read(resp, hb) != head[:hb]:
            f.truncate(0)  # keep nothing of the old file
            raise transfer.Transient("the file changed between requests")
        f.truncate(f.seek(have, os.SEEK_CUR))
        with _bar(category, n, progress, have) as bar:
          transfer.read(resp, n - have, lambda b: bar.update(f.write(b)))
  with open(tmp, "rb") as f:  # the checks the final file must pass, before it is visible
    got = _parse(f, "the downloaded file")
  size, promised = tmp.stat().st_size, got.header_bytes + got.rows * _ROW
  if size != promised:
    raise transfer.Fatal(f"got {size} bytes but the header promises {promised}", "try again later")
  sha = npy.sha256(tmp)
  if whole and expected is not None and (size, sha) != (expected.size_bytes, expected.sha256):
    raise transfer.Fatal(f"size/sha256 {size}/{sha[:12]}... differ from the official "
                 f"{expected.size_bytes}/{expected.sha256[:12]}...", "try again later")
  side = {"url": s.url, "rows": got.rows, "total_rows": got.rows if whole else header.rows,
          "whole": whole, "sha256": sha, "official_sha256": expected.sha256 if expected else None}
  side_tmp = tmp.with_suffix(".json.part")
  side_tmp.write_text(json.dumps(side, indent=1) + "\n")
  # Both renames come after every check; a crash between them leaves a stale sidecar, whose
  # row count no longer matches, so _why_fetch then treats the file as the user's.
  os.replace(tmp, data_dir / f"{category}.npy")
  os.replace(side_tmp, data_dir / f"{category}.npy.json")


def _parse(f, name: str) -> npy.NpyHeader:
  try:
    return npy.parse_header(f, name)
  except QdError as e:
    raise transfer.Fatal(e.problem, "check that the URL serves official numpy_bitmap .npy files") from e


def _bar(category: str, total: int | None, progress: bool, initial: int = 0):
  return tqdm.tqdm(total=total, initial=initial, desc=category, unit="B", unit_scale=True,
                   unit_divisor=1024, file=sys.stderr, disable=not progress, leave=False)


def _writable_dir(data_dir: pathlib.Path) -> pathlib.Path:
  data_dir = pathlib.Path(data_dir)
  try:
    data_dir.mkdir(parents=True, exist_ok=True)
  except OSError as e:
    raise QdError(f"cannot create {data_dir}: {transfer.why(e)}", _FIX_DIR) from e
  if not os.access(data_dir, os.W_OK):
    raise QdError(f"{data_dir} is not writable", _FIX_DIR)
  return data_dir


def fetch(category: str, data_dir: pathlib.Path, rows: int | None = None, *,
          base_url: str = BUCKET_URL, expected: cats.OfficialFile | None = None,
          progress: bool = True, timeout: float = 30.0, retries: int = 3,
          backoff_s: float = 1.0) -> pathlib.Path:
  """Downloads `<category>.npy` (or its first `rows` rows) into data_dir; returns its path."""
  url = url_for(category, base_url)
  transfer.check_url(url)
  if not category or any(c in category for c in "/\\\0") or category.startswith("."):
    raise QdError(f"category {category!r} is not a plain file name", "pass names such as 'hot dog'")
  if rows is not None and rows < 1:
    raise QdError(f"asked to download {rows} rows of {category!r}", "ask for at least 1 row")
  data_dir = _writable_dir(data_dir)
  where = f"or copy the official file to {data_dir / (category + '.npy')}"
  s = transfer.Session(url, timeout)
  try:
    for attempt in range(retries + 1):
      try:
        _fetch_once(s, category, data_dir, rows, expected, progress)
        return data_dir / f"{category}.npy"
      except transfer.Fatal as e:
        raise DownloadError(category, url, e.reason, f"{e.fix}, {where}") from e
      except transfer.Transient as e:
        last = e
        if attempt < retries:
          if progress:
            print(f"{category}: {e}; retrying", file=sys.stderr)
          time.sleep(backoff_s * 2**attempt)
      except OSError as e:  # the local disk: temp file, rename
        raise QdError(f"cannot write {category!r} into {data_dir}: {transfer.why(e)}",
                      f"free some space or {_FIX_DIR}") from e
  finally:  # the temp file lives across attempts, so a retry can resume it
    for part in (s.tmp, s.tmp.with_suffix(".json.part")) if s.tmp else ():
      part.unlink(missing_ok=True)
  raise DownloadError(category, url, f"{last} (after {retries + 1} tries)",
                      f"try again later, {where}")


def _why_fetch(path: pathlib.Path, rows_needed: int | None) -> str | None:
  """None if path can be used as it is; else "missing", "short" (a prefix of ours shorter than
  rows_needed), or, for a damaged file of ours, a one-line account of the damage."""
  if not path.exists():
    return "missing"
  side_path = path.with_name(path.name + ".json")
  if not side_path.exists():
    return None  # no sidecar: the user's own file; npy.read_header will judge it
  try:
    side = dict(json.loads(side_path.read_text()))
  except (OSError, ValueError, TypeError):
    side = {}  # ours but unreadable: a prefix of unknown length
  try:
    rows = npy.read_header(path).rows
  except QdError as e:
    return e.problem  # ours, with a bad header or the wrong byte count
  if "rows" in side and rows != side["rows"]:
    return None  # replaced by the user since; the sidecar is stale
  if side.get("whole"):  # flipped bits keep the size; only the checksum sees them
    bad = side.get("sha256") not in (None, npy.sha256(path))
    return f"{path} does not match the sha256 in {side_path.name}" if bad else None
  return "short" if rows_needed is None or rows < rows_needed else None


def _listing(data_dir: pathlib.Path, limit: int = 40) -> str:
  names = sorted(p.stem for p in data_dir.glob("*.npy")) if data_dir.is_dir() else []
  more = f" and {len(names) - limit} more" if len(names) > limit else ""
  return ", ".join(names[:limit]) + more if names else "nothing"


def ensure_local(categories: Sequence[str], data_dir: pathlib.Path, rows_needed: int | None, *,
                 base_url: str = BUCKET_URL, download: bool = True,
                 progress: bool = True) -> dict[str, pathlib.Path]:
  """{category: path} with every file present, fetching what is missing (or too short)."""
  data_dir = pathlib.Path(data_dir)
  wanted = list(dict.fromkeys(categories))
  paths = {c: data_dir / f"{c}.npy" for c in wanted}
  todo = {c: why for c in wanted if (why := _why_fetch(paths[c], rows_needed))}
  if todo and download:
    _writable_dir(data_dir)
  official = cats.official_files() if todo and download and base_url == BUCKET_URL else {}
  failures: dict[str, str] = {}
  for c, why in todo.items():
    reason, damaged = "downloads disabled", why not in ("missing", "short")
    if download:
      if damaged:
        print(f"note: {why}; fetching it again", file=sys.stderr)
      try:
        fetch(c, data_dir, rows_needed, base_url=base_url, expected=official.get(c),
              progress=progress)
        continue
      except DownloadError as e:
        reason = e.reason
      except QdError as e:
        reason = " ".join(e.problem.split())
    if damaged and not download:  # never train on it
      raise QdError(f"{why}: it is damaged (downloads disabled)",
                    "delete it and copy the official file there, or set --config.download=True")
    if damaged:
      raise QdError(f"{why}: it is damaged and fetching it again failed ({reason})",
                    "delete it and copy the official file there, or try again when online")
    if paths[c].exists():  # a short prefix of ours beats nothing; the caller caps the rows
      print(f"note: keeping the shorter {paths[c]} ({reason})", file=sys.stderr)
    else:
      failures[c] = reason
  if failures:
    by_reason: dict[str, list[str]] = {}
    for c, r in failures.items():
      by_reason.setdefault(r, []).append(repr(c))
    missing = "; ".join(f"{', '.join(cs)} ({r})" for r, cs in by_reason.items())
    enable = ", or set --config.download=True" if not download else ""
    raise QdError(f"cannot get {missing} into {data_dir}, which has: {_listing(data_dir)}",
                  "pass --categories from those, or copy the official <category>.npy "
                  f"files there{enable}")
  return paths
