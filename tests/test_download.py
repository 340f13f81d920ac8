"""qd_jax.data.download.fetch against a loopback HTTP server: whole files, Range prefixes, retries and refusals."""

import json
import re
import socket

import numpy as np
import pytest

from qd_jax.data import categories, download, npy
from qd_jax.errors import QdError

from download_server import FAST, ROWS, left, rows_of, server  # noqa: F401 (the fixture)


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
  assert left(out) == ["smiley face.npy", "smiley face.npy.json"]
  assert "smiley face" in capsys.readouterr().err  # the tqdm bar went to stderr


def test_prefix_uses_range_and_is_a_valid_npy(server, tmp_path):
  out = tmp_path / "data"
  path = download.fetch("smiley face", out, 10, base_url=server.base_url, **FAST)
  full = np.load(server.root / "smiley face.npy", allow_pickle=False)
  assert npy.read_header(path).rows == 10
  np.testing.assert_array_equal(rows_of(path), full[:10])
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
  np.testing.assert_array_equal(rows_of(path), np.load(server.root / "cat.npy")[:10])
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
  assert left(out) == []


def test_sha_mismatch_fails_and_leaves_nothing(server, tmp_path):
  size = (server.root / "cat.npy").stat().st_size
  bad = categories.OfficialFile("cat", size, "0" * 64)
  with pytest.raises(QdError, match="sha256"):
    download.fetch("cat", tmp_path / "d", base_url=server.base_url, expected=bad, **FAST)
  assert left(tmp_path / "d") == []
  assert len(server.state["requests"]) == 1  # a checksum failure is not retried


def test_expected_size_mismatch_stops_a_prefix_early(server, tmp_path):
  bad = categories.OfficialFile("cat", 123, "0" * 64)
  with pytest.raises(QdError, match="official one 123"):
    download.fetch("cat", tmp_path / "d", 10, base_url=server.base_url, expected=bad, **FAST)
  assert left(tmp_path / "d") == [] and len(server.state["requests"]) == 1


@pytest.mark.parametrize("rows", [None, 10])
def test_file_shorter_than_its_header_is_rejected(server, tmp_path, rows):
  with pytest.raises(QdError, match="header promises"):
    download.fetch("short", tmp_path / "d", rows, base_url=server.base_url, **FAST)
  assert left(tmp_path / "d") == [] and len(server.state["requests"]) == 1


@pytest.mark.parametrize("rows", [None, 10])
def test_html_page_is_rejected(server, tmp_path, rows):
  with pytest.raises(QdError, match=r"html.*not a \.npy file"):
    download.fetch("html", tmp_path / "d", rows, base_url=server.base_url, **FAST)
  assert left(tmp_path / "d") == []


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
  assert len(server.state["requests"]) == 2 and left(tmp_path / "d") == []


def test_404_is_not_retried(server, tmp_path):
  with pytest.raises(QdError, match=r"'dog'.*dog\.npy.*HTTP 404"):
    download.fetch("dog", tmp_path / "d", base_url=server.base_url, **FAST)
  assert len(server.state["requests"]) == 1 and left(tmp_path / "d") == []


@pytest.mark.parametrize("base", ["http://example.com/", "http://127.0.0.1.example.com/",
                                  "ftp://127.0.0.1/", "file:///tmp/"])
def test_plain_http_to_other_hosts_is_refused_offline(base, tmp_path, monkeypatch):
  def no_network(*a, **k):
    raise AssertionError("tried to use the network")
  monkeypatch.setattr(socket, "create_connection", no_network)
  monkeypatch.setattr(socket, "getaddrinfo", no_network)
  with pytest.raises(QdError, match=re.escape(base)):
    download.fetch("cat", tmp_path / "d", base_url=base, **FAST)
  assert left(tmp_path / "d") == []


def test_redirect_to_plain_http_elsewhere_is_refused(server, tmp_path, monkeypatch):
  real = socket.create_connection
  def loopback_only(addr, *a, **k):
    assert addr[0] == "127.0.0.1", f"tried to reach {addr}"
    return real(addr, *a, **k)
  monkeypatch.setattr(socket, "create_connection", loopback_only)
  with pytest.raises(QdError, match="refusing to download from http://example.com/cat.npy"):
    download.fetch("moved", tmp_path / "d", base_url=server.base_url, **FAST)
  assert left(tmp_path / "d") == []
