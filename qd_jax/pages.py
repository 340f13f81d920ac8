"""What the two local web pages share (qd_jax.human, qd_jax.draw): a server bound to 127.0.0.1
only, a handler that checks the Host header and answers in JSON, and one-line flag errors."""

import argparse
import http.server
import importlib.resources
import json
import sys

from qd_jax.errors import QdError


class JsonHandler(http.server.BaseHTTPRequestHandler):
  """Routes by exact path (the subclass's do_GET/do_POST); nothing in a request names a file."""

  def log_message(self, format, *args):
    pass  # the terminal stays readable

  def _send(self, code: int, ctype: str, body: bytes) -> None:
    self.send_response(code)
    self.send_header("Content-Type", ctype)
    self.send_header("Content-Length", str(len(body)))
    self.send_header("Cache-Control", "no-store")
    self.send_header("X-Content-Type-Options", "nosniff")
    self.end_headers()
    self.wfile.write(body)

  def _json(self, code: int, obj: dict) -> None:
    self._send(code, "application/json", json.dumps(obj).encode())

  def _json_body(self, path: str, max_body: int, drain_body: int = 0) -> bytes | None:
    """The body of a POST to `path`: JSON of at most `max_body` bytes with its Content-Length.
    Otherwise the error is answered here and None returned. A body of up to `drain_body` bytes
    is read and dropped first, so its sender sees the answer rather than a reset connection."""
    if self.path != path:
      return self._json(404, {"error": "not found"})
    # A plain HTML form on another site cannot send application/json without asking first.
    if self.headers.get_content_type() != "application/json":
      return self._json(415, {"error": "send application/json"})
    try:
      length = int(self.headers.get("Content-Length", ""))
    except ValueError:
      length = -1
    if 0 <= length <= max_body:
      return self.rfile.read(length)
    self.close_connection = True
    left = length if max_body < length <= drain_body else 0
    while left > 0 and (block := self.rfile.read(min(1 << 16, left))):
      left -= len(block)
    return self._json(413 if length > max_body else 411,
                      {"error": f"the body must be at most {max_body:,} bytes, with its Content-Length"})

  def _host_ok(self) -> bool:
    # Another site rebinding its DNS name to 127.0.0.1 would still send its own Host.
    port = self.server.server_address[1]
    if self.headers.get("Host") in (f"127.0.0.1:{port}", f"localhost:{port}"):
      return True
    self._json(403, {"error": "use the address the server printed"})
    return False


class LoopbackServer(http.server.ThreadingHTTPServer):
  """Serves `handler` and the package file `page` (at /) on 127.0.0.1:port, never 0.0.0.0."""
  daemon_threads = True

  def __init__(self, handler: type, page: str, port: int):
    self.page = (importlib.resources.files("qd_jax") / page).read_bytes()
    try:
      super().__init__(("127.0.0.1", port), handler)
    except OSError as e:
      raise QdError(f"cannot listen on 127.0.0.1:{port}: {e.strerror}",
                    "pass another --port, or --port=0 for any free one") from None

  @property
  def url(self) -> str:
    return f"http://127.0.0.1:{self.server_address[1]}/"


class Parser(argparse.ArgumentParser):
  """argparse, with its errors as qd_jax's one line and exit status 2. (The pages use argparse:
  absl's global flags would clash with qd_jax.launch's when both are imported in one process.)"""

  def error(self, message):
    print(f"qd_jax: error: {message}; see --help", file=sys.stderr)
    sys.exit(2)
