"""qd_jax.data.download against a real loopback HTTP server with switchable misbehaviour."""

import http.server
import io
import json
import re
import socket
import threading
import time
import urllib.parse

import numpy as np
import pytest

from qd_jax.data import categories, download, npy
from qd_jax.data.category_file import CategoryFile
from qd_jax.errors import QdError

from conftest import free_port

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


def _rows(path):
  return CategoryFile.open(path.stem, path).pixels


def _left(d):
  return sorted(p.name for p in d.iterdir()) if d.exists() else []


def test_url_for_percent_encodes_spaces():
  assert download.url_for("smiley face") == download.BUCKET_URL + "smiley%20face.npy"
  assert download.url_for("The Eiffel Tower", "http://x/") == "http://x/The%20Eiffel%20Tower.npy"


def test_whole_download_is_byte_identical_with_sidecar(server, tmp_path, capsys):
  out = tmp_path / "data"
  path = download.fetch("smiley face", out, base_url=server.base_url, progress=True, timeout=5)
  want = (server.root / "smiley face.npy").read_bytes()
  assert path == out / "smiley face.npy" and path.read_bytes() == want
  side = json.loads((out / "smiley face.npy.json").read_text())
  assert side == {"url": server.base_url + "smiley%20face.npy", "rows": ROWS, "total_rows": ROWS,
                  "whole": True, "sha256": npy.sha256(path), "official_sha256": None}
  assert server.state["requests"] == [("/smiley%20face.npy", None)]
  assert _left(out) == ["smiley face.npy", "smiley face.npy.json"]
  assert "smiley face" in capsys.readouterr().err  # the tqdm bar went to stderr


def test_prefix_uses_range_and_is_a_valid_npy(server, tmp_path):
  out = tmp_path / "data"
  path = download.fetch("smiley face", out, 10, base_url=server.base_url, **FAST)
  full = np.load(server.root / "smiley face.npy", allow_pickle=False)
  assert npy.read_header(path).rows == 10
  np.testing.assert_array_equal(_rows(path), full[:10])
  reqs = server.state["requests"]
  assert len(reqs) == 2 and all(p == "/smiley%20face.npy" and r for p, r in reqs)
  assert reqs[0][1] == "bytes=0-4095"
  assert server.state["sent"] < (server.root / "smiley face.npy").stat().st_size / 10
  side = json.loads((out / "smiley face.npy.json").read_text())
  assert (side["rows"], side["total_rows"], side["whole"]) == (10, ROWS, False)
  assert side["sha256"] == npy.sha256(path)


def test_server_ignoring_range_still_gives_the_prefix(server, tmp_path):
  server.state["ignore_range"] = True
  path = download.fetch("cat", tmp_path / "d", 10, base_url=server.base_url, **FAST)
  np.testing.assert_array_equal(_rows(path), np.load(server.root / "cat.npy")[:10])
  assert npy.read_header(path).rows == 10


def test_rows_beyond_total_falls_back_to_whole(server, tmp_path):
  path = download.fetch("cat", tmp_path / "d", ROWS + 1, base_url=server.base_url, **FAST)
  assert path.read_bytes() == (server.root / "cat.npy").read_bytes()
  assert [r for _, r in server.state["requests"]] == ["bytes=0-4095", None]
  assert json.loads((tmp_path / "d" / "cat.npy.json").read_text())["whole"] is True


@pytest.mark.parametrize("rows", [None, 100])  # 100 rows: more than 3 resumed 5000-byte pieces
def test_truncated_body_fails_and_leaves_nothing(server, tmp_path, rows):
  server.state["truncate"] = 5000
  out = tmp_path / "d"
  with pytest.raises(QdError, match=r"'cat'.*closed after 5000 of .*after 3 tries"):
    download.fetch("cat", out, rows, base_url=server.base_url, retries=2, **FAST)
  assert _left(out) == []


def test_sha_mismatch_fails_and_leaves_nothing(server, tmp_path):
  size = (server.root / "cat.npy").stat().st_size
  bad = categories.OfficialFile("cat", size, "0" * 64)
  with pytest.raises(QdError, match="sha256"):
    download.fetch("cat", tmp_path / "d", base_url=server.base_url, expected=bad, **FAST)
  assert _left(tmp_path / "d") == []
  assert len(server.state["requests"]) == 1  # a checksum failure is not retried


def test_expected_size_mismatch_stops_a_prefix_early(server, tmp_path):
  bad = categories.OfficialFile("cat", 123, "0" * 64)
  with pytest.raises(QdError, match="official one 123"):
    download.fetch("cat", tmp_path / "d", 10, base_url=server.base_url, expected=bad, **FAST)
  assert _left(tmp_path / "d") == [] and len(server.state["requests"]) == 1


@pytest.mark.parametrize("rows", [None, 10])
def test_file_shorter_than_its_header_is_rejected(server, tmp_path, rows):
  with pytest.raises(QdError, match="header promises"):
    download.fetch("short", tmp_path / "d", rows, base_url=server.base_url, **FAST)
  assert _left(tmp_path / "d") == [] and len(server.state["requests"]) == 1


@pytest.mark.parametrize("rows", [None, 10])
def test_html_page_is_rejected(server, tmp_path, rows):
  with pytest.raises(QdError, match=r"html.*not a \.npy file"):
    download.fetch("html", tmp_path / "d", rows, base_url=server.base_url, **FAST)
  assert _left(tmp_path / "d") == []


def test_503_twice_then_ok_is_retried(server, tmp_path):
  server.state["fail_503"] = 2
  path = download.fetch("cat", tmp_path / "d", base_url=server.base_url, **FAST)
  assert path.read_bytes() == (server.root / "cat.npy").read_bytes()
  assert len(server.state["requests"]) == 3


def test_timeout_is_retried(server, tmp_path):
  server.state["stall"] = 1
  path = download.fetch("cat", tmp_path / "d", 10, base_url=server.base_url,
                        **{**FAST, "timeout": 0.2})
  assert npy.read_header(path).rows == 10 and len(server.state["requests"]) == 3


def test_503_forever_gives_up(server, tmp_path):
  server.state["fail_503"] = 99
  with pytest.raises(QdError, match="HTTP 503.*after 2 tries"):
    download.fetch("cat", tmp_path / "d", 10, base_url=server.base_url, retries=1, **FAST)
  assert len(server.state["requests"]) == 2 and _left(tmp_path / "d") == []


def test_404_is_not_retried(server, tmp_path):
  with pytest.raises(QdError, match=r"'dog'.*dog\.npy.*HTTP 404"):
    download.fetch("dog", tmp_path / "d", base_url=server.base_url, **FAST)
  assert len(server.state["requests"]) == 1 and _left(tmp_path / "d") == []


@pytest.mark.parametrize("base", ["http://example.com/", "http://127.0.0.1.example.com/",
                                  "ftp://127.0.0.1/", "file:///tmp/"])
def test_plain_http_to_other_hosts_is_refused_offline(base, tmp_path, monkeypatch):
  def no_network(*a, **k):
    raise AssertionError("tried to use the network")
  monkeypatch.setattr(socket, "create_connection", no_network)
  monkeypatch.setattr(socket, "getaddrinfo", no_network)
  with pytest.raises(QdError, match=re.escape(base)):
    download.fetch("cat", tmp_path / "d", base_url=base, **FAST)
  assert _left(tmp_path / "d") == []


def test_redirect_to_plain_http_elsewhere_is_refused(server, tmp_path, monkeypatch):
  real = socket.create_connection
  def loopback_only(addr, *a, **k):
    assert addr[0] == "127.0.0.1", f"tried to reach {addr}"
    return real(addr, *a, **k)
  monkeypatch.setattr(socket, "create_connection", loopback_only)
  with pytest.raises(QdError, match="refusing to download from http://example.com/cat.npy"):
    download.fetch("moved", tmp_path / "d", base_url=server.base_url, **FAST)
  assert _left(tmp_path / "d") == []


def _closed_port_url():
  return f"http://127.0.0.1:{free_port()}/"


def test_ensure_local_offline_is_one_line_naming_everything(tmp_path, monkeypatch):
  d = tmp_path / "d"
  d.mkdir()
  np.save(d / "apple.npy", np.zeros((3, 784), np.uint8))
  sleeps, connects, real_connect = [], [], socket.create_connection
  monkeypatch.setattr(download.time, "sleep", sleeps.append)
  monkeypatch.setattr(socket, "create_connection", lambda *a, **k: connects.append(a) or real_connect(*a, **k))
  with pytest.raises(QdError) as err:
    download.ensure_local(["apple", "smiley face", "cat"], d, 10, base_url=_closed_port_url(),
                          progress=False)
  # refused on first contact is offline: no backoff, at most one attempt per missing category
  assert sleeps == [] and 1 <= len(connects) <= 2
  msg = str(err.value)
  assert "\n" not in msg and "'smiley face', 'cat' (offline:" in msg
  assert "has: apple;" in msg and "categories from those" in msg and "'apple'" not in msg
  assert _left(d) == ["apple.npy"]


def test_ensure_local_with_downloads_disabled(tmp_path):
  with pytest.raises(QdError, match=r"'cat' \(downloads disabled\).*has: nothing.*download=True"):
    download.ensure_local(["cat"], tmp_path / "d", None, download=False)


def test_ensure_local_extends_prefixes_and_leaves_user_files(server, tmp_path):
  d = tmp_path / "d"
  d.mkdir()
  user = np.arange(5 * 784, dtype=np.uint8).reshape(5, 784)
  np.save(d / "cat.npy", user)  # no sidecar: the user's own file
  got = download.ensure_local(["smiley face", "cat"], d, 10, base_url=server.base_url,
                              progress=False)
  assert got == {"smiley face": d / "smiley face.npy", "cat": d / "cat.npy"}
  assert npy.read_header(got["smiley face"]).rows == 10
  got = download.ensure_local(["smiley face", "cat"], d, 10, base_url=server.base_url,
                              progress=False)
  assert len(server.state["requests"]) == 2  # 10 rows already there: nothing fetched
  download.ensure_local(["smiley face", "cat"], d, 30, base_url=server.base_url, progress=False)
  full = np.load(server.root / "smiley face.npy")
  np.testing.assert_array_equal(_rows(got["smiley face"]), full[:30])
  assert json.loads((d / "smiley face.npy.json").read_text())["rows"] == 30
  np.testing.assert_array_equal(_rows(d / "cat.npy"), user)
  assert all("cat" not in p for p, _ in server.state["requests"])
  download.ensure_local(["smiley face"], d, None, base_url=server.base_url, progress=False)
  assert got["smiley face"].read_bytes() == (server.root / "smiley face.npy").read_bytes()
  assert _left(d) == ["cat.npy", "smiley face.npy", "smiley face.npy.json"]


def test_ensure_local_keeps_a_short_prefix_when_offline(server, tmp_path, capsys):
  d = tmp_path / "d"
  download.fetch("cat", d, 10, base_url=server.base_url, **FAST)
  got = download.ensure_local(["cat"], d, 30, base_url=_closed_port_url(), progress=False)
  assert npy.read_header(got["cat"]).rows == 10  # the caller caps the rows to what exists
  assert "keeping the shorter" in capsys.readouterr().err
  assert _left(d) == ["cat.npy", "cat.npy.json"]


def _npy_bytes(rows):
  buf = io.BytesIO()
  np.save(buf, rows)
  return buf.getvalue()


@pytest.mark.parametrize("rows", [None, 10])
def test_cut_transfer_resumes_with_range(server, tmp_path, rows):
  full = np.load(server.root / "cat.npy")
  hb = npy.read_header(server.root / "cat.npy").header_bytes
  server.state["accept_ranges"] = True  # the whole download's 200 advertises it; a prefix gets 206s
  server.state["cuts"] = {0 if rows is None else 1: 3000}  # a prefix probes the header first
  path = download.fetch("cat", tmp_path / "d", rows, base_url=server.base_url, **FAST)
  ranges = [r for _, r in server.state["requests"]]
  if rows is None:
    assert ranges == [None, f"bytes=3000-{len(_npy_bytes(full)) - 1}"]
  else:  # 3000 row bytes were written after our own header; the next row byte is hb + 3000
    assert len(ranges) == 4 and ranges[1] == f"bytes={hb}-{hb + 10 * 784 - 1}"
    assert ranges[3] == f"bytes={hb + 3000}-{hb + 10 * 784 - 1}"
  assert path.read_bytes() == _npy_bytes(full if rows is None else full[:rows])
  assert json.loads((tmp_path / "d" / "cat.npy.json").read_text())["sha256"] == npy.sha256(path)
  assert _left(tmp_path / "d") == ["cat.npy", "cat.npy.json"]


@pytest.mark.parametrize("rows", [None, 10])
def test_cut_transfer_restarts_without_range_support(server, tmp_path, rows):
  full = np.load(server.root / "cat.npy")
  hb = npy.read_header(server.root / "cat.npy").header_bytes
  server.state["ignore_range"] = True  # 200s only, and no Accept-Ranges
  server.state["cuts"] = {0 if rows is None else 1: 3000}
  path = download.fetch("cat", tmp_path / "d", rows, base_url=server.base_url, **FAST)
  ranges = [r for _, r in server.state["requests"]]
  data = f"bytes={hb}-{hb + 10 * 784 - 1}"  # from the first row again, not resumed
  assert ranges == ([None, None] if rows is None else ["bytes=0-4095", data] * 2)
  assert path.read_bytes() == _npy_bytes(full if rows is None else full[:rows])


def _damage(path, how):
  data = bytearray(path.read_bytes())
  if how == "flipped":
    data[-1] ^= 0xFF  # same size, same header: only the sha256 sees it
  elif how == "truncated":
    del data[-100:]
  else:
    data[:6] = b"NOTNPY"
  path.write_bytes(bytes(data))


@pytest.mark.parametrize("rows,how", [(None, "flipped"), (None, "truncated"), (None, "header"),
                                      (10, "truncated"), (10, "header")])
def test_ensure_local_refetches_a_damaged_file_of_ours(server, tmp_path, capsys, rows, how):
  d = tmp_path / "d"
  good = download.fetch("cat", d, rows, base_url=server.base_url, **FAST).read_bytes()
  _damage(d / "cat.npy", how)
  n = len(server.state["requests"])
  got = download.ensure_local(["cat"], d, rows, base_url=server.base_url, progress=False)
  assert got["cat"].read_bytes() == good and len(server.state["requests"]) > n
  assert f"note: {d / 'cat.npy'}" in capsys.readouterr().err
  got = download.ensure_local(["cat"], d, rows, base_url=server.base_url, progress=False)
  assert len(server.state["requests"]) == 2 * n  # now intact: not fetched again


@pytest.mark.parametrize("rows", [None, 10])
@pytest.mark.parametrize("download_on", [True, False])  # True: offline
def test_ensure_local_never_uses_a_damaged_file_it_cannot_refetch(server, tmp_path, rows,
                                                                   download_on):
  d = tmp_path / "d"
  download.fetch("cat", d, rows, base_url=server.base_url, **FAST)
  _damage(d / "cat.npy", "flipped" if rows is None else "truncated")
  with pytest.raises(QdError) as err:
    download.ensure_local(["cat"], d, rows, base_url=_closed_port_url(), download=download_on,
                          progress=False)
  msg = str(err.value)
  assert "\n" not in msg and msg.startswith(str(d / "cat.npy")) and "it is damaged" in msg
  assert ("offline:" if download_on else "downloads disabled") in msg
  assert ("fetching it again failed" in msg) == download_on  # nothing is fetched with downloads off
  assert ("--config.download=True" in msg) == (not download_on)


def test_ensure_local_leaves_a_damaged_user_file_to_the_reader(server, tmp_path):
  d = tmp_path / "d"
  d.mkdir()
  np.save(d / "cat.npy", np.zeros((5, 784), np.uint8))  # no sidecar: the user's own file
  _damage(d / "cat.npy", "truncated")
  got = download.ensure_local(["cat"], d, 10, base_url=server.base_url, progress=False)
  assert server.state["requests"] == []
  with pytest.raises(QdError, match="cat.npy is truncated"):
    npy.read_header(got["cat"])


def test_ensure_local_keeps_a_file_the_user_put_over_ours(server, tmp_path):
  d = tmp_path / "d"
  download.fetch("cat", d, base_url=server.base_url, **FAST)
  np.save(d / "cat.npy", np.ones((5, 784), np.uint8))  # the sidecar is stale: 5 rows, not 500
  got = download.ensure_local(["cat"], d, None, base_url=server.base_url, progress=False)
  assert len(server.state["requests"]) == 1 and npy.read_header(got["cat"]).rows == 5


def test_resume_starts_over_when_the_file_changed_meanwhile(server, tmp_path):
  new = np.full((ROWS, 784), 7, np.uint8)
  def replace():
    np.save(server.root / "cat.npy", new)
    server.state["etag"] = '"v2"'
  server.state.update(accept_ranges=True, etag='"v1"', cuts={0: 3000}, after_cut=replace)
  path = download.fetch("cat", tmp_path / "d", base_url=server.base_url, **FAST)
  assert [r for _, r in server.state["requests"]][1].startswith("bytes=3000-")
  assert path.read_bytes() == _npy_bytes(new)  # If-Range "v1" no longer matched: all of v2
