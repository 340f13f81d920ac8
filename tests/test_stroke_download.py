"""qd_jax.data.stroke_download against a loopback HTTP server: Range prefixes cut at whole lines."""

import http.server
import json
import re
import threading
import urllib.parse

import pytest

from qd_jax.data import ndjson, stroke_download
from qd_jax.errors import QdError

from stroke_fixtures import make_stroke_files

FAST = dict(timeout=5.0, backoff_s=0.001, log=lambda s: None)


class _Handler(http.server.BaseHTTPRequestHandler):
  def do_GET(self):
    st = self.server.state
    st["requests"].append(self.headers.get("Range"))
    if st["fail_503"] > 0:
      st["fail_503"] -= 1
      return self.send_error(503)
    file = st["root"] / urllib.parse.unquote(self.path.lstrip("/"))
    if not file.is_file():
      return self.send_error(404)
    data, status = file.read_bytes(), 200
    m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
    headers = {}
    if m and not st["ignore_range"]:
      a, b = int(m[1]), min(int(m[2] or len(data) - 1), len(data) - 1)
      headers["Content-Range"] = f"bytes {a}-{b}/{len(data)}"
      data, status = data[a:b + 1], 206
    self.send_response(status)
    self.send_header("Content-Length", str(len(data)))
    for k, v in headers.items():
      self.send_header(k, v)
    self.end_headers()
    try:
      self.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):
      pass  # the client read the lines it needed and hung up

  def log_message(self, *args):
    pass


@pytest.fixture
def server(tmp_path):
  root = make_stroke_files(tmp_path / "served", {"cat": 40, "smiley face": 40})
  (root / "simplified" / "bad.ndjson").write_text('{"drawing": [[[0], [1]]]}\n{oops\n')
  srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
  srv.daemon_threads = True
  srv.state = dict(root=root, requests=[], ignore_range=False, fail_503=0)
  thread = threading.Thread(target=srv.serve_forever, args=(0.01,), daemon=True)
  thread.start()
  srv.base_url = f"http://127.0.0.1:{srv.server_address[1]}/"
  yield srv
  srv.shutdown()
  srv.server_close()
  thread.join()


def test_url_names_the_official_bucket_layout():
  assert stroke_download.url_for("smiley face", "raw") == (
      "https://storage.googleapis.com/quickdraw_dataset/full/raw/smiley%20face.ndjson")


def test_the_first_n_drawings_come_by_range_cut_at_a_whole_line(server, tmp_path, monkeypatch):
  monkeypatch.setitem(stroke_download.FIRST_BLOCK, "simplified", 40)  # force several blocks
  path = stroke_download.fetch("cat", tmp_path / "d", "simplified", 7, base_url=server.base_url, **FAST)
  served = (server.state["root"] / "simplified" / "cat.ndjson").read_bytes()
  assert path.read_bytes() == b"".join(served.splitlines(keepends=True)[:7])
  assert len(ndjson.read(path, "simplified")) == 7
  assert all(r and r.startswith("bytes=") for r in server.state["requests"]) and len(server.state["requests"]) > 1
  side = json.loads(path.with_name("cat.ndjson.json").read_text())
  assert side["drawings"] == 7 and side["asked"] == 7 and not side["whole"]


def test_a_server_ignoring_range_is_read_only_as_far_as_needed(server, tmp_path):
  server.state["ignore_range"] = True
  path = stroke_download.fetch("smiley face", tmp_path / "d", "raw", 5, base_url=server.base_url, **FAST)
  assert len(ndjson.read(path, "raw")) == 5


def test_asking_for_more_than_the_file_holds_gives_it_whole(server, tmp_path):
  path = stroke_download.fetch("cat", tmp_path / "d", "simplified", 1000, base_url=server.base_url, **FAST)
  assert len(ndjson.read(path, "simplified")) == 40
  assert json.loads(path.with_name("cat.ndjson.json").read_text())["whole"]


def test_503_is_retried(server, tmp_path):
  server.state["fail_503"] = 2
  path = stroke_download.fetch("cat", tmp_path / "d", "simplified", 3, base_url=server.base_url, **FAST)
  assert len(ndjson.read(path, "simplified")) == 3


def test_a_damaged_download_is_refused_and_leaves_nothing(server, tmp_path):
  with pytest.raises(QdError, match=r"damaged: .*bad\.ndjson\.part:2: not valid JSON"):
    stroke_download.fetch("bad", tmp_path / "d", "simplified", 5, base_url=server.base_url, **FAST)
  assert list((tmp_path / "d" / "simplified").iterdir()) == []


def test_404_is_one_error(server, tmp_path):
  with pytest.raises(QdError, match=r"cannot download 'dog' .* HTTP 404"):
    stroke_download.fetch("dog", tmp_path / "d", "simplified", 5, base_url=server.base_url, **FAST)


def test_ensure_local_fetches_both_forms_and_then_reads_offline(server, tmp_path):
  d = tmp_path / "d"
  stroke_download.ensure_local(["cat"], d, 6, base_url=server.base_url, log=lambda s: None)
  assert len(ndjson.read(d / "simplified" / "cat.ndjson", "simplified")) == 6
  assert len(ndjson.read(d / "raw" / "cat.ndjson", "raw")) == 6
  stroke_download.ensure_local(["cat"], d, 6, base_url="http://127.0.0.1:9/", log=lambda s: None)  # no fetch
  with pytest.raises(QdError, match=r"lacks 'smiley face' \(downloads disabled\); it has: cat"):
    stroke_download.ensure_local(["cat", "smiley face"], d, 6, download=False)


def test_strokes_dir_defaults_to_the_environment(monkeypatch, tmp_path):
  monkeypatch.setenv("QD_STROKES_DIR", str(tmp_path))
  assert stroke_download.strokes_dir("") == tmp_path
  assert stroke_download.strokes_dir("x") == stroke_download.pathlib.Path("x")
  monkeypatch.delenv("QD_STROKES_DIR")
  assert stroke_download.strokes_dir("").parts[-2:] == ("qd_jax", "quickdraw_strokes")
