"""qd_jax.data.download.ensure_local against a loopback HTTP server: offline use, resumed and
restarted transfers, damaged files refetched or refused, and files the user put there."""

import io
import json
import socket

import numpy as np
import pytest

from qd_jax.data import download, npy
from qd_jax.errors import QdError

from conftest import free_port
from download_server import FAST, ROWS, left, rows_of, server  # noqa: F401 (the fixture)


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
  assert left(d) == ["apple.npy"]


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
  np.testing.assert_array_equal(rows_of(got["smiley face"]), full[:30])
  assert json.loads((d / "smiley face.npy.json").read_text())["rows"] == 30
  np.testing.assert_array_equal(rows_of(d / "cat.npy"), user)
  assert all("cat" not in p for p, _ in server.state["requests"])
  download.ensure_local(["smiley face"], d, None, base_url=server.base_url, progress=False)
  assert got["smiley face"].read_bytes() == (server.root / "smiley face.npy").read_bytes()
  assert left(d) == ["cat.npy", "smiley face.npy", "smiley face.npy.json"]


def test_ensure_local_keeps_a_short_prefix_when_offline(server, tmp_path, capsys):
  d = tmp_path / "d"
  download.fetch("cat", d, 10, base_url=server.base_url, **FAST)
  got = download.ensure_local(["cat"], d, 30, base_url=_closed_port_url(), progress=False)
  assert npy.read_header(got["cat"]).rows == 10  # the caller caps the rows to what exists
  assert "keeping the shorter" in capsys.readouterr().err
  assert left(d) == ["cat.npy", "cat.npy.json"]


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
  assert left(tmp_path / "d") == ["cat.npy", "cat.npy.json"]


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
