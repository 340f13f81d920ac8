"""The draw page's server without a browser: guesses in canvas coordinates, refusals, loopback."""

import http.client
import json
import subprocess
import sys

import pytest

from qd_jax import draw
from qd_jax.errors import QdError

from draw_fixtures import CATS, kept_workdir, serving

SQUARE = [[[100, 300, 300, 100, 100], [100, 100, 300, 300, 100]]]


def _post(server, body, ctype="application/json", method="POST", path="/guess", headers=None):
  conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
  data = body if isinstance(body, bytes) else json.dumps(body).encode()
  conn.request(method, path, body=data, headers={"Content-Type": ctype, **(headers or {})})
  resp = conn.getresponse()
  out = resp.status, json.loads(resp.read() or b"{}")
  conn.close()
  return out


@pytest.fixture(scope="module")
def server(tmp_path_factory):
  with serving(kept_workdir(tmp_path_factory.mktemp("draw") / "w")) as s:
    yield s


def test_guesses_are_the_top_three_most_likely_first(server):
  code, body = _post(server, {"drawing": SQUARE})
  assert code == 200 and [set(g) for g in body["guesses"]] == [{"category", "p"}] * 3
  ps = [g["p"] for g in body["guesses"]]
  assert ps == sorted(ps, reverse=True) and sorted(g["category"] for g in body["guesses"]) == sorted(CATS)
  assert abs(sum(ps) - 1) < 1e-3


def test_canvas_scale_and_timing_do_not_change_the_guess(server):
  big = [[[10 * v for v in s[0]], [10 * v + 7 for v in s[1]]] for s in SQUARE]
  timed = [s + [[0, 10, 20, 30, 40]] for s in SQUARE]
  answers = [_post(server, {"drawing": d})[1] for d in (SQUARE, big, timed)]
  assert answers[0] == answers[1] == answers[2]


@pytest.mark.parametrize("body, code, reason", [
    (b"{nope", 400, "the body is not JSON"),
    ({"drawing": []}, 400, "the drawing has no strokes"),
    ({"strokes": SQUARE}, 400, 'send {"drawing"'),
    ({"drawing": [[[1, "2"], [3, 4]]]}, 400, "stroke 0 holds a value that is not a finite number"),
    ({"drawing": [[[1, True], [3, 4]]]}, 400, "not a finite number"),
    ({"drawing": [SQUARE[0], [[1, 2], [3]]]}, 400, "stroke 1's coordinate lists are empty or of different lengths"),
    ({"drawing": [[[1, 2]]]}, 400, "stroke 0 is not"),
])
def test_bad_drawings_get_a_400_with_one_line_and_serving_goes_on(server, body, code, reason):
  got, answer = _post(server, body)
  assert got == code and reason in answer["error"] and "\n" not in answer["error"]
  assert _post(server, {"drawing": SQUARE})[0] == 200


def test_non_finite_json_numbers_are_refused(server):
  got, answer = _post(server, b'{"drawing": [[[1, NaN], [2, 3]]]}')
  assert got == 400 and "finite" in answer["error"]


def test_methods_types_sizes_and_hosts(server):
  assert _post(server, b"", method="GET")[0] == 405
  assert _post(server, b"", method="PUT")[0] == 405
  assert _post(server, b"", method="DELETE")[0] == 405
  assert _post(server, {"drawing": SQUARE}, ctype="text/plain")[0] == 415
  assert _post(server, {"drawing": SQUARE}, path="/other")[0] == 404
  code, answer = _post(server, b"x" * (draw.MAX_BODY + 1))
  assert code == 413 and "1,048,576" in answer["error"]
  assert _post(server, {"drawing": SQUARE}, headers={"Host": "evil.example:80"})[0] == 403
  assert _post(server, {"drawing": SQUARE})[0] == 200


def test_info_and_page(server):
  conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
  conn.request("GET", "/info")
  info = json.loads(conn.getresponse().read())
  conn.request("GET", "/")
  page = conn.getresponse().read().decode()
  assert info["categories"] == CATS and info["model"] == "cnn2" and "<canvas" in page


def test_the_most_accurate_kept_run_is_served(tmp_path):
  w = kept_workdir(tmp_path / "w", "cnn2", 0.4)
  kept_workdir(w, "rnn", 0.6)
  assert draw.load(w).model == "rnn"


def test_a_workdir_without_kept_runs_is_one_line_exit_2(tmp_path):
  (tmp_path / "runs.jsonl").write_text(json.dumps({"run_id": "x", "model": "cnn2"}) + "\n")
  with pytest.raises(QdError, match="no run in .* kept its parameters"):
    draw.load(tmp_path)
  p = subprocess.run([sys.executable, "-m", "qd_jax.draw", f"--workdir={tmp_path}", "--port=0"],
                     capture_output=True, text=True, timeout=120)
  assert p.returncode == 2 and p.stderr.count("\n") == 1 and p.stderr.startswith("qd_jax: error: no run in")
