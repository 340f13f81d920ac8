"""The stroke folder (`--strokes_dir`) and fetching official `full/{simplified,raw}/<category>.ndjson`.

A file of the first N drawings is fetched by HTTP Range, a block at a time (each twice the
last), and cut at the N-th whole line; a server that ignores Range is read only that far.
Every line is checked (data/ndjson.py) in a temp file before the rename; a sidecar
`<name>.ndjson.json` marks the files we fetched.
"""

import http.client
import json
import os
import pathlib
import sys
import time
import urllib.parse

from qd_jax.data import ndjson, transfer
from qd_jax.errors import QdError

BUCKET_URL = "https://storage.googleapis.com/quickdraw_dataset/full/"
FIRST_BLOCK = {"simplified": 2048, "raw": 16384}  # bytes per drawing asked for at first, about the mean


def default_dir() -> pathlib.Path:
  return pathlib.Path(os.environ.get("QD_STROKES_DIR") or pathlib.Path.home() / ".cache/qd_jax/quickdraw_strokes")


def strokes_dir(flag: str) -> pathlib.Path:
  """--strokes_dir, or $QD_STROKES_DIR, or ~/.cache/qd_jax/quickdraw_strokes."""
  return pathlib.Path(flag) if flag else default_dir()


def url_for(category: str, kind: str, base_url: str = BUCKET_URL) -> str:
  return f"{base_url}{kind}/{urllib.parse.quote(category)}.ndjson"


def _lines(resp, n: int | None, have: bytes) -> tuple[bytes, bool]:
  """Reads on until `have` holds n lines or the body ends; (bytes, whether it ended)."""
  out = [have]
  count = have.count(b"\n")
  try:
    while n is None or count < n:
      block = resp.read(transfer.CHUNK)
      if not block:
        return b"".join(out), True
      out.append(block)
      count += block.count(b"\n")
  except (http.client.HTTPException, OSError) as e:
    raise transfer.Transient(f"connection lost: {transfer.why(e)}") from e
  return b"".join(out), False


def _first_lines(data: bytes, n: int | None, ended: bool) -> bytes:
  if ended and data and not data.endswith(b"\n"):
    data += b"\n"  # the file's last line needs no newline of its own
  if n is None:
    return ndjson.whole_lines(data)[0]
  end = -1
  for _ in range(n):
    end = data.find(b"\n", end + 1)
    if end < 0:
      return ndjson.whole_lines(data)[0]
  return data[:end + 1]


def _fetch_once(s: transfer.Session, kind: str, n: int | None) -> bytes:
  """The first n drawings' lines (None: the whole file)."""
  if n is None:
    with s.open() as resp:
      data, ended = _lines(resp, None, b"")
    return _first_lines(data, None, ended)
  got, start, size = b"", 0, n * FIRST_BLOCK[kind]
  while True:
    with s.open(start, start + size) as resp:
      if resp.status != 206:  # the whole file is coming: read only as far as needed
        data, ended = _lines(resp, n, b"")
        return _first_lines(data, n, ended)
      total = transfer.content_range(resp, start)
      block = transfer.read(resp, size)
    got += block
    ended = not block or (total is not None and start + len(block) >= total)
    if got.count(b"\n") >= n or ended:
      return _first_lines(got, n, ended)
    start, size = start + len(block), size * 2


def fetch(category: str, folder: pathlib.Path, kind: str, drawings: int | None = None, *,
          base_url: str = BUCKET_URL, timeout: float = 30.0, retries: int = 3, backoff_s: float = 1.0,
          log=lambda s: print(s, file=sys.stderr)) -> pathlib.Path:
  """Downloads `<kind>/<category>.ndjson` (or its first `drawings`) into folder; returns its path."""
  url = url_for(category, kind, base_url)
  transfer.check_url(url)
  if not category or any(c in category for c in "/\\\0") or category.startswith("."):
    raise QdError(f"category {category!r} is not a plain file name", "pass names such as 'hot dog'")
  target = pathlib.Path(folder) / kind / f"{category}.ndjson"
  try:
    target.parent.mkdir(parents=True, exist_ok=True)
  except OSError as e:
    raise QdError(f"cannot create {target.parent}: {transfer.why(e)}", "pass a writable --strokes_dir") from e
  s = transfer.Session(url, timeout)
  for attempt in range(retries + 1):
    try:
      data = _fetch_once(s, kind, drawings)
      break
    except transfer.Fatal as e:
      raise QdError(f"cannot download {category!r} from {url}: {e.reason}",
                    f"{e.fix}, or copy the official file to {target}") from e
    except transfer.Transient as e:
      if attempt == retries:
        raise QdError(f"cannot download {category!r} from {url}: {e} (after {retries + 1} tries)",
                      f"try again later, or copy the official file to {target}") from e
      log(f"{category}: {e}; retrying")
      time.sleep(backoff_s * 2**attempt)
  return _install(data, target, url, drawings)


def _install(data: bytes, target: pathlib.Path, url: str, asked: int | None) -> pathlib.Path:
  tmp = target.with_name(f".{target.name}.part")
  try:
    tmp.write_bytes(data)
    got = len(ndjson.read(tmp, target.parent.name))  # every line checked before it is visible
    side = {"url": url, "drawings": got, "asked": asked, "whole": asked is None or got < asked}
    tmp.with_suffix(".json.part").write_text(json.dumps(side, indent=1) + "\n")
    os.replace(tmp, target)
    os.replace(tmp.with_suffix(".json.part"), target.with_name(target.name + ".json"))
  except QdError as e:
    raise QdError(f"the download from {url} is damaged: {e.problem}", "try again later") from None
  except OSError as e:
    raise QdError(f"cannot write {target}: {transfer.why(e)}", "free some space or pass a writable --strokes_dir") from e
  finally:
    tmp.unlink(missing_ok=True)
    tmp.with_suffix(".json.part").unlink(missing_ok=True)
  return target


def _short(path: pathlib.Path, needed: int) -> bool:
  """A prefix we fetched that holds fewer than `needed` drawings (the user's files are kept)."""
  side = path.with_name(path.name + ".json")
  try:
    meta = json.loads(side.read_text()) if side.is_file() else {}
  except (OSError, ValueError):
    return True
  return not meta.get("whole", True) and meta.get("drawings", 0) < needed


def ensure_local(names, folder: pathlib.Path, drawings: int, *, base_url: str = BUCKET_URL,
                 download: bool = True, log=lambda s: print(s, file=sys.stderr)) -> None:
  """Every category's simplified file present (and its raw one, when we fetch), or one error."""
  folder, missing = pathlib.Path(folder), []
  for c in names:
    path = folder / "simplified" / f"{c}.ndjson"
    if path.is_file() and not _short(path, drawings):
      continue
    if not download:
      missing.append(c)
      continue
    for kind in ("simplified", "raw"):
      log(f"downloading the first {drawings:,} {kind} drawings of {c!r} into {folder / kind}")
      fetch(c, folder, kind, drawings, base_url=base_url, log=log)
  if missing:
    have = sorted(p.stem for p in (folder / "simplified").glob("*.ndjson"))
    listing = ", ".join(have[:30]) + (f" and {len(have) - 30} more" if len(have) > 30 else "") or "nothing"
    raise QdError(f"{folder / 'simplified'} lacks {', '.join(map(repr, missing))} (downloads disabled); it has: "
                  f"{listing}", "pass --categories from those, or set --config.download=True")
