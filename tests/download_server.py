"""A real loopback HTTP server for qd_jax.data.download's tests, with switchable misbehaviour:
503s, stalls, cut bodies, ignored or honoured Range requests, ETags and a downgrading redirect."""

import http.server
import re
import threading
import time
import urllib.parse

import numpy as np
import pytest

from qd_jax.data.category_file import CategoryFile

ROWS = 500  # 392 KB: big enough that a 10-row prefix is clearly cheaper than the whole file
FAST = dict(progress=False, timeout=5.0, backoff_s=0.001)


class _Handler(http.server.BaseHTTPRequestHandler):
  def do_GET(self):
    st = self.server.state
    st["requests"].append((self.path, self.headers.get("Range")))
    cut = st["cuts"].get(len(st["requests"]) - 1, st["truncate"])  # this response's body
    if st["stall"] > 0:
      st["stall"] -= 1
      time.sleep(0.5)  # longer than the client's timeout
      return
    if st["fail_503"] > 0:
      st["fail_503"] -= 1
      self.send_error(503)
      return
    if self.path == "/moved.npy":  # a redirect that would downgrade to plain http elsewhere
      self.send_response(302)
      self.send_header("Location", "http://example.com/cat.npy")
      self.end_headers()
      return
    file = st["root"] / urllib.parse.unquote(self.path.lstrip("/"))
    if not file.is_file():
      self.send_error(404)
      return
    data, status, extra = file.read_bytes(), 200, {}
    m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
    if_range = self.headers.get("If-Range")
    if m and not st["ignore_range"] and if_range in (None, st["etag"]):  # changed: send it all
      a, b = int(m[1]), min(int(m[2] or len(data) - 1), len(data) - 1)
      if a >= len(data):
        self.send_error(416)
        return
      data, status = data[a:b + 1], 206
      extra["Content-Range"] = f"bytes {a}-{b}/{file.stat().st_size}"
    self.send_response(status)
    self.send_header("Content-Type", "application/octet-stream")
    self.send_header("Content-Length", str(len(data)))  # always the honest, full length
    if st["accept_ranges"]:
      self.send_header("Accept-Ranges", "bytes")
    if st["etag"]:
      self.send_header("ETag", st["etag"])
    for k, v in extra.items():
      self.send_header(k, v)
    self.end_headers()
    if cut is not None:
      data = data[:cut]  # then the connection closes early
    try:
      self.wfile.write(data)
      st["sent"] += len(data)
    except (BrokenPipeError, ConnectionResetError):
      pass  # the client read what it needed and hung up
    if cut is not None and st["after_cut"]:
      st.pop("after_cut")()

  def log_message(self, *args):
    pass


@pytest.fixture
def server(tmp_path):
  root = tmp_path / "served"
  root.mkdir()
  rng = np.random.default_rng(0)
  for name in ("smiley face", "cat"):
    np.save(root / f"{name}.npy", rng.integers(0, 256, (ROWS, 784), dtype=np.uint8))
  (root / "short.npy").write_bytes((root / "cat.npy").read_bytes()[:-1000])  # damaged upstream
  (root / "html.npy").write_bytes(b"<!DOCTYPE html><html><body>Not here</body></html>\n" * 100)
  srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
  srv.daemon_threads = True
  srv.state = dict(root=root, requests=[], ignore_range=False, truncate=None, fail_503=0,
                   stall=0, sent=0, cuts={}, accept_ranges=False, etag=None,
                   after_cut=None)
  thread = threading.Thread(target=srv.serve_forever, args=(0.01,), daemon=True)
  thread.start()
  srv.base_url = f"http://127.0.0.1:{srv.server_address[1]}/"
  srv.root = root
  yield srv
  srv.shutdown()
  srv.server_close()
  thread.join()


def rows_of(path):
  return CategoryFile.open(path.stem, path).pixels


def left(d):
  return sorted(p.name for p in d.iterdir()) if d.exists() else []
