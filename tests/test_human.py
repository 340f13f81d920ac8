"""The human-baseline server without a browser: drawings, answers, refusals, resume, loopback."""

import builtins
import contextlib
import datetime
import http.client
import io
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import zlib

import numpy as np
import pytest

from conftest import decode_rows, open_files
from qd_jax import human
from qd_jax.data import splits

CATS = "airplane,cat,smiley face"


@contextlib.contextmanager
def serving(workdir, data_dir, n=9, seed=0, categories=CATS):
  """A live server on a free loopback port, stopped on exit."""
  server = human.build(workdir, data_dir, categories, n, seed, port=0, log=lambda s: None)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  try:
    yield server
  finally:
    server.shutdown()
    server.server_close()
    thread.join()


def request(server, method, path, body=None, headers=None):
  """(status, body bytes); http.client sends the path exactly as given, '..' and all."""
  conn = http.client.HTTPConnection(*server.server_address, timeout=10)
  try:
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    return r.status, r.read()
  finally:
    conn.close()


def post(server, obj=None, raw=None):
  body = raw if raw is not None else json.dumps(obj).encode()
  return request(server, "POST", "/answer", body, {"Content-Type": "application/json"})


def state(server, name=""):
  status, body = request(server, "GET", f"/state?name={name}")
  assert status == 200
  return json.loads(body)


def decode_png(data: bytes) -> np.ndarray:
  """The 28x28 pixels of the PNGs png_bytes writes (one IDAT, filter 0)."""
  assert data[:8] == b"\x89PNG\r\n\x1a\n"
  chunks, pos = {}, 8
  while pos < len(data):
    (size,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
    chunks[kind] = data[pos + 8:pos + 8 + size]
    pos += 12 + size
  assert struct.unpack(">II", chunks[b"IHDR"][:8]) == (28, 28)
  raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(28, 29)
  assert (raw[:, 0] == 0).all()
  return raw[:, 1:]


def test_drawings_are_the_models_test_rows(tiny_data_dir, tmp_path):
  files = open_files({c: tiny_data_dir / f"{c}.npy" for c in CATS.split(",")})
  sizes = splits.sizes_for(200, 0.1, 0.2)
  test = {c.category: set(c.test.tolist()) for c in splits.make_split(files, {c: sizes for c in files}, 3).categories}
  with serving(tmp_path / "w", tiny_data_dir, n=10, seed=3) as server:
    ids = [d.id for d in server.session.drawings]
    assert len(set(ids)) == 10
    counts = {c: 0 for c in files}
    for i, d in enumerate(server.session.drawings):
      category, row = d.id.rsplit(":", 1)
      assert category == d.category and int(row) in test[category]
      counts[category] += 1
      status, png = request(server, "GET", f"/drawing/{i}.png")
      assert status == 200
      # Inverted back, the served pixels are the very row the id names.
      rows, names = decode_rows(255 - decode_png(png))
      assert (names[0], int(rows[0])) == (category, int(row))
    assert max(counts.values()) - min(counts.values()) <= 1
    status, page = request(server, "GET", "/")
    assert status == 200 and b"image-rendering: pixelated" in page
  with serving(tmp_path / "w2", tiny_data_dir, n=10, seed=3) as again:
    assert [d.id for d in again.session.drawings] == ids  # seeded
  with serving(tmp_path / "w3", tiny_data_dir, n=10, seed=4) as other:
    assert [d.id for d in other.session.drawings] != ids


def test_answers_are_appended_as_whole_lines(tiny_data_dir, tmp_path):
  with serving(tmp_path, tiny_data_dir, n=4, seed=1) as server:
    drawings = server.session.drawings
    assert server.server_address[0] == "127.0.0.1"
    assert state(server) == {"categories": CATS.split(","), "remaining": [0, 1, 2, 3],
                             "n": 4, "done": 0, "correct": 0}
    status, body = post(server, {"index": 2, "answer": drawings[2].category, "ms": 1234, "name": " Ada "})
    assert status == 200 and json.loads(body) == {"n": 4, "done": 1, "correct": 1}
    wrong = next(c for c in CATS.split(",") if c != drawings[0].category)
    status, body = post(server, {"index": 0, "answer": wrong, "ms": 0, "name": "Ada"})
    assert json.loads(body) == {"n": 4, "done": 2, "correct": 1}
    assert state(server, "Ada")["remaining"] == [1, 3]
    assert state(server)["remaining"] == [0, 1, 2, 3]  # anonymous is someone else
  lines = (tmp_path / "human.jsonl").read_text().splitlines()
  recs = [json.loads(line) for line in lines]
  assert [r["id"] for r in recs] == [drawings[2].id, drawings[0].id]
  assert [(r["true"], r["answer"], r["ms"], r["name"], r["seed"]) for r in recs] == [
      (drawings[2].category, drawings[2].category, 1234, "Ada", 1),
      (drawings[0].category, wrong, 0, "Ada", 1)]
  assert all(set(r) == {"id", "true", "answer", "ms", "name", "seed", "time"} for r in recs)
  assert all(datetime.datetime.fromisoformat(r["time"]).tzinfo for r in recs)


BAD = {
    "not json": b"{index: 0",
    "not utf-8": b"\xff\xfe",
    "not an object": b"[0, \"cat\", 5, null]",
    "missing key": b'{"index": 0, "answer": "cat", "ms": 5}',
    "extra key": b'{"index": 0, "answer": "cat", "ms": 5, "name": null, "true": "cat"}',
    "negative index": b'{"index": -1, "answer": "cat", "ms": 5, "name": null}',
    "index too big": b'{"index": 4, "answer": "cat", "ms": 5, "name": null}',
    "index as string": b'{"index": "0", "answer": "cat", "ms": 5, "name": null}',
    "index as bool": b'{"index": true, "answer": "cat", "ms": 5, "name": null}',
    "unknown category": b'{"index": 0, "answer": "dog", "ms": 5, "name": null}',
    "category not a string": b'{"index": 0, "answer": ["cat"], "ms": 5, "name": null}',
    "negative ms": b'{"index": 0, "answer": "cat", "ms": -1, "name": null}',
    "float ms": b'{"index": 0, "answer": "cat", "ms": 1.5, "name": null}',
    "ms as string": b'{"index": 0, "answer": "cat", "ms": "5", "name": null}',
    "name not a string": b'{"index": 0, "answer": "cat", "ms": 5, "name": 7}',
    "name too long": json.dumps({"index": 0, "answer": "cat", "ms": 5, "name": "x" * 101}).encode(),
    "duplicate": b'{"index": 1, "answer": "cat", "ms": 5, "name": "  "}',  # blank = anonymous
    "duplicate, other answer": b'{"index": 1, "answer": "airplane", "ms": 9, "name": null}',
}


def test_bad_answers_get_400_and_leave_the_file_alone(tiny_data_dir, tmp_path):
  with serving(tmp_path, tiny_data_dir, n=4) as server:
    assert post(server, {"index": 1, "answer": "cat", "ms": 5, "name": None})[0] == 200
    before = (tmp_path / "human.jsonl").read_bytes()
    for why, body in BAD.items():
      status, reply = post(server, raw=body)
      assert status == 400, why
      assert json.loads(reply)["error"], why
    ok = b'{"index": 0, "answer": "cat", "ms": 5, "name": null}'
    assert request(server, "POST", "/answer", ok, {"Content-Type": "text/plain"})[0] == 415
    assert request(server, "POST", "/answer", b"x" * 5000, {"Content-Type": "application/json"})[0] == 413
    assert request(server, "POST", "/state", ok, {"Content-Type": "application/json"})[0] == 404
    assert request(server, "GET", "/state?name=" + "x" * 101)[0] == 400
    assert (tmp_path / "human.jsonl").read_bytes() == before
    assert state(server)["done"] == 1


def test_no_request_opens_a_file(tiny_data_dir, tmp_path, monkeypatch):
  with serving(tmp_path, tiny_data_dir, n=4) as server:
    opened = []

    def spy(real):
      return lambda *a, **k: opened.append(a[0]) or real(*a, **k)

    for mod, name in ((builtins, "open"), (io, "open"), (os, "open")):
      monkeypatch.setattr(mod, name, spy(getattr(mod, name)))
    for path in ("/drawing/../../etc/passwd", "/drawing/-1.png", "/drawing/999.png", "/drawing/4.png",
                 "/drawing/01.png", "/drawing/%31.png", "/drawing/1.png/../../../etc/passwd",
                 "/%2e%2e/", "/%2e%2e/%2e%2e/etc/passwd", "/../human.jsonl", "//etc/passwd",
                 "/human.jsonl", "/qd_jax/human.py", "/human_page.html", "/drawing/", "/drawing/a.png"):
      status, _ = request(server, "GET", path)
      assert status in (400, 404), path
    assert request(server, "GET", "/drawing/3.png")[0] == 200  # the last one there is
    monkeypatch.undo()
    assert opened == []


def test_other_hosts_are_refused(tiny_data_dir, tmp_path):
  with serving(tmp_path, tiny_data_dir, n=4) as server:
    assert request(server, "GET", "/", headers={"Host": "evil.example:80"})[0] == 403
    body = b'{"index": 0, "answer": "cat", "ms": 5, "name": null}'
    assert request(server, "POST", "/answer", body, {"Host": "evil.example",
                                                     "Content-Type": "application/json"})[0] == 403
    port = server.server_address[1]
    assert request(server, "GET", "/", headers={"Host": f"localhost:{port}"})[0] == 200
  assert (tmp_path / "human.jsonl").read_bytes() == b""


def test_resume_skips_what_this_person_answered(tiny_data_dir, tmp_path):
  with serving(tmp_path, tiny_data_dir, n=6) as server:
    ids = [d.id for d in server.session.drawings]
    for i in (4, 0, 2):
      assert post(server, {"index": i, "answer": "cat", "ms": 10, "name": "Ann"})[0] == 200
  with open(tmp_path / "human.jsonl", "a") as f:
    f.write('{"id": "cat:1", "tr')  # a crash mid-write leaves a torn line
  with serving(tmp_path, tiny_data_dir, n=6) as server:
    assert [d.id for d in server.session.drawings] == ids
    s = state(server, "Ann")
    assert s["remaining"] == [1, 3, 5] and s["done"] == 3
    assert state(server, "Bob")["remaining"] == list(range(6))
    assert post(server, {"index": 0, "answer": "cat", "ms": 10, "name": "Ann"})[0] == 400
    assert post(server, {"index": 1, "answer": "cat", "ms": 10, "name": "Ann"})[0] == 200
  lines = (tmp_path / "human.jsonl").read_text().splitlines()
  assert len(lines) == 5 and lines[3].endswith('"tr')
  assert json.loads(lines[4])["id"] == ids[1]
  with serving(tmp_path, tiny_data_dir, n=6, seed=1) as server:  # another seed starts afresh
    assert state(server, "Ann")["done"] == 0


def fail_line(capsys, *argv):
  with pytest.raises(SystemExit) as e:
    human.main(list(argv))
  err = capsys.readouterr().err
  assert e.value.code == 2 and err.startswith("qd_jax: error: ") and err.count("\n") == 1, err
  return err


def test_bad_flags_and_data_fail_on_one_line(tiny_data_dir, tmp_path, capsys):
  data = [f"--data_dir={tiny_data_dir}", f"--categories={CATS}", "--port=0"]
  assert "--workdir" in fail_line(capsys, *data)
  assert "invalid int" in fail_line(capsys, "--workdir=w", "--n=many")
  assert "--n=0 must be positive" in fail_line(capsys, f"--workdir={tmp_path}", *data, "--n=0")
  assert "120 test drawings" in fail_line(capsys, f"--workdir={tmp_path}", *data, "--n=121")
  assert "unknown category" in fail_line(capsys, f"--workdir={tmp_path}", *data, "--categories=cat,nocat")
  (tmp_path / "file").write_text("")
  assert "cannot write" in fail_line(capsys, f"--workdir={tmp_path / 'file'}", *data)
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    s.listen()
    port = s.getsockname()[1]
    assert f"127.0.0.1:{port}" in fail_line(capsys, f"--workdir={tmp_path}", *data, f"--port={port}")


def test_module_prints_its_loopback_address(tiny_data_dir, tmp_path):
  err = open(tmp_path / "stderr", "w")
  proc = subprocess.Popen([sys.executable, "-m", "qd_jax.human", f"--data_dir={tiny_data_dir}",
                           f"--categories={CATS}", f"--workdir={tmp_path}", "--port=0", "--n=3"],
                          stdout=subprocess.PIPE, stderr=err, text=True)
  try:
    lines = []
    while len(lines) < 10 and not (lines and lines[-1].startswith(("human baseline", "qd_jax"))):
      lines.append(proc.stdout.readline() or "qd_jax: exited")  # data lines, then the address
    line = lines[-1]
    assert line.startswith("human baseline: open http://127.0.0.1:"), (lines, (tmp_path / "stderr").read_text())
    port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/")
    assert conn.getresponse().status == 200
    conn.close()
  finally:
    proc.terminate()
    proc.wait(timeout=10)
    err.close()
