"""HTTP for downloads: one fetch's session (https only, no downgrade on redirect, Range and
If-Range), exact-length reads, and the split of failures into worth-retrying or not."""

import http.client
import re
import urllib.error
import urllib.parse
import urllib.request

from qd_jax.errors import QdError

CHUNK = 1 << 16
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Transient(Exception):
  """Worth another try: 5xx, timeouts, a connection dropped mid-transfer."""


class Fatal(Exception):
  """Not worth retrying: 4xx, offline, a file that fails its checks."""
  def __init__(self, reason: str, fix: str):
    super().__init__(reason)
    self.reason, self.fix = reason, fix


def check_url(url: str) -> None:
  parts = urllib.parse.urlsplit(url)
  if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK):
    return
  raise QdError(f"refusing to download from {url}",
                "use an https:// URL (plain http is allowed only for localhost)")


class NoDowngrade(urllib.request.HTTPRedirectHandler):
  # A redirect must pass the same scheme check as the URL we were given.
  def redirect_request(self, req, fp, code, msg, headers, newurl):
    check_url(newurl)
    return super().redirect_request(req, fp, code, msg, headers, newurl)


def why(err: BaseException) -> str:
  text = getattr(err, "strerror", None) or str(err) or type(err).__name__
  return " ".join(str(text).split())  # always one line


class Session:
  """One fetch's connection settings and what its retries reuse: the temp file and whether the
  server resumes; `contacted` separates offline from a flaky server."""

  def __init__(self, url: str, timeout: float):
    handlers = [NoDowngrade()]
    if urllib.parse.urlsplit(url).hostname in LOOPBACK:
      handlers.append(urllib.request.ProxyHandler({}))  # a proxy can't reach our loopback
    self.opener = urllib.request.build_opener(*handlers)
    self.url, self.timeout, self.contacted = url, timeout, False
    self.ranges, self.validator, self.total, self.tmp = False, None, None, None

  def open(self, start: int | None = None, stop: int | None = None):
    """GET, optionally with `Range: bytes=start-(stop-1)` (stop None: to the end)."""
    req = urllib.request.Request(self.url, headers={"User-Agent": "qd_jax"})
    if start is not None:
      req.add_header("Range", f"bytes={start}-{'' if stop is None else stop - 1}")
      if start and self.validator:  # if the file changed since, the server sends all of it
        req.add_header("If-Range", self.validator)
    try:
      resp = self.opener.open(req, timeout=self.timeout)
    except urllib.error.HTTPError as e:
      e.close()
      self.contacted = True
      if e.code >= 500:
        raise Transient(f"HTTP {e.code} {e.reason}") from e
      raise Fatal(f"HTTP {e.code} {e.reason}",
                   "check the category name and the download URL") from e
    except urllib.error.URLError as e:
      r = e.reason
      # Refused before we ever reached the server means offline; after, a flaky server.
      if isinstance(r, (TimeoutError, ConnectionResetError)) or (
          self.contacted and isinstance(r, ConnectionRefusedError)):
        raise Transient(why(r)) from e
      raise Fatal(f"offline: {why(r)}", "check the network connection") from e
    except (http.client.HTTPException, OSError) as e:  # dropped between request and status line
      raise Transient(why(e)) from e
    self.contacted = True
    # A retry may resume only from a server that honoured Range or advertised it.
    self.ranges = resp.status == 206 or "bytes" in resp.headers.get("Accept-Ranges", "")
    self.validator = resp.headers.get("ETag") or resp.headers.get("Last-Modified")
    return resp


def content_length(resp) -> int | None:
  value = resp.headers.get("Content-Length")
  return int(value) if value and value.isdigit() else None


def read(resp, n: int | None, sink=None) -> bytes:
  """Reads n bytes (None: all), fewer only if Content-Length says so; short -> Transient."""
  length = content_length(resp)
  want = length if n is None or (length is not None and length < n) else n
  got, out = 0, []
  try:
    while want is None or got < want:
      block = resp.read(CHUNK if want is None else min(CHUNK, want - got))
      if not block:
        break
      got += len(block)
      (sink or out.append)(block)
  except (http.client.HTTPException, OSError) as e:
    raise Transient(f"connection lost after {got} bytes: {why(e)}") from e
  if want is not None and got < want:
    raise Transient(f"connection closed after {got} of {want} bytes")
  return b"".join(out)


def content_range(resp, first: int) -> int | None:
  """The total size (or None) of a 206 response, which must start at byte `first`."""
  m = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", resp.headers.get("Content-Range", "").strip())
  if not m or int(m[1]) != first:
    raise Fatal("a 206 answer without the asked-for Content-Range", "use another server")
  return None if m[2] == "*" else int(m[2])
