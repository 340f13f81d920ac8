"""python -m qd_jax.draw --workdir=DIR [--port=8766]

Quick, Draw! run locally: a page on 127.0.0.1 where a person draws on a canvas (mouse or touch)
and, after every stroke, sees the top three guesses of the workdir's best run that kept its
parameters (the most accurate of them; `--hypothesis=h7` keeps them). `POST /guess` takes
{"drawing": [[[x...], [y...]], ...]} (or strokes of [x, y, t]) in the canvas's own coordinates
at any scale; the server does Google's preprocessing (data/strokes.simplify) and answers
{"guesses": [{"category": ..., "p": ...}, ...]}, most likely first. Bad input gets a 4xx with a
one-line reason, and the server keeps serving.
"""

import dataclasses
import json
import math
import pathlib
import sys

import numpy as np

from qd_jax import pages
from qd_jax.data import strokes
from qd_jax.errors import QdError
from qd_jax.records import params as saved_params, workdir as wd

MAX_BODY = 1 << 20  # 1 MB: a long drawing in raw canvas coordinates is ~100 KB
DRAIN_BODY = 8 << 20  # a larger body is refused unread, and its sender may see the connection reset
TOP = 3


class BadDrawing(Exception):
  """A request refused with 400; nothing else changes."""


def _is_number(v) -> bool:
  return type(v) in (int, float) and math.isfinite(v)


def parse(body: bytes) -> list[np.ndarray]:
  """The drawing's strokes as float arrays (n, 2) or (n, 3); BadDrawing says what is wrong."""
  try:
    obj = json.loads(body)
  except (ValueError, UnicodeDecodeError):
    raise BadDrawing("the body is not JSON") from None
  if not isinstance(obj, dict) or not isinstance(obj.get("drawing"), list):
    raise BadDrawing('send {"drawing": [[[x...], [y...]], ...]}')
  if not obj["drawing"]:
    raise BadDrawing("the drawing has no strokes")
  out = []
  for i, s in enumerate(obj["drawing"]):
    if not isinstance(s, list) or len(s) not in (2, 3) or not all(isinstance(c, list) for c in s):
      raise BadDrawing(f"stroke {i} is not [[x...], [y...]] or [[x...], [y...], [t...]]")
    if not s[0] or len({len(c) for c in s}) != 1:
      raise BadDrawing(f"stroke {i}'s coordinate lists are empty or of different lengths")
    if not all(_is_number(v) for c in s for v in c):
      raise BadDrawing(f"stroke {i} holds a value that is not a finite number")
    out.append(np.asarray(s, np.float64).T)
  return out


@dataclasses.dataclass
class Guesser:
  """One saved run: its parameters, classes and input kind."""
  run_id: str
  model: str
  categories: list[str]
  input_kind: str
  max_points: int
  params: dict
  test_accuracy: float

  def guess(self, drawing: list[np.ndarray]) -> list[dict]:
    from qd_jax.nn import predict  # JAX: only once a drawing arrives or the page starts
    x, _ = strokes.encode([strokes.simplify(drawing)], self.input_kind, self.max_points)
    p = predict.probabilities(self.model, len(self.categories), self.params, x, batch=1)[0]
    top = np.argsort(-p, kind="stable")[:TOP]
    return [{"category": self.categories[i], "p": round(float(p[i]), 4)} for i in top]


def load(workdir: pathlib.Path) -> Guesser:
  """The most accurate run in workdir/runs.jsonl that kept its parameters."""
  workdir = pathlib.Path(workdir)
  kept = [r for r in wd.read_runs(workdir) if isinstance(r.get("params_file"), str)]
  if not kept:
    raise QdError(f"no run in {workdir / 'runs.jsonl'} kept its parameters",
                  "train the early-guess hypothesis into it first (README: guess while drawing)")
  best = max(kept, key=lambda r: r.get("test_accuracy") or 0.0)
  path = (workdir / best["params_file"]).resolve()
  if workdir.resolve() not in path.parents:
    raise QdError(f"{best['params_file']!r} in runs.jsonl points outside {workdir}", "rerun into a fresh --workdir")
  params, meta = saved_params.load(path)
  from qd_jax.nn import registry
  registry.get(meta.get("model", ""))  # an unknown model is refused here, not at the first guess
  return Guesser(best["run_id"], meta["model"], list(meta["categories"]), meta["input_kind"],
                 int(meta["max_points"]), params, float(best.get("test_accuracy") or 0.0))


class Handler(pages.JsonHandler):
  """GET / and /info; POST /guess; every other method or path a JSON 4xx."""
  server_version = "qd_jax-draw"

  def do_GET(self) -> None:
    if not self._host_ok():
      return
    g: Guesser = self.server.guesser
    if self.path == "/":
      return self._send(200, "text/html; charset=utf-8", self.server.page)
    if self.path == "/info":
      return self._json(200, {"categories": g.categories, "model": g.model, "run": g.run_id,
                              "test_accuracy": g.test_accuracy})
    if self.path == "/guess":
      return self._refuse_method()
    self._json(404, {"error": "not found"})

  def _refuse_method(self) -> None:
    self.send_response(405)
    body = json.dumps({"error": "use POST /guess with a JSON body"}).encode()
    self.send_header("Allow", "POST")
    self.send_header("Content-Type", "application/json")
    self.send_header("Content-Length", str(len(body)))
    self.end_headers()
    self.wfile.write(body)

  do_PUT = do_DELETE = do_PATCH = lambda self: self._host_ok() and self._refuse_method()

  def do_POST(self) -> None:
    if not self._host_ok() or (body := self._json_body("/guess", MAX_BODY, DRAIN_BODY)) is None:
      return
    try:
      drawing = parse(body)
    except BadDrawing as e:
      return self._json(400, {"error": str(e)})
    self._json(200, {"guesses": self.server.guesser.guess(drawing)})


class DrawServer(pages.LoopbackServer):
  def __init__(self, guesser: Guesser, port: int):
    self.guesser = guesser
    super().__init__(Handler, "draw_page.html", port)


def build(workdir, port: int = 0) -> DrawServer:
  guesser = load(workdir)
  guesser.guess([np.array([[0.0, 0.0], [1.0, 1.0]])])  # compiled before the first person draws
  return DrawServer(guesser, port)


def main(argv: list[str] | None = None) -> None:
  p = pages.Parser(prog="python -m qd_jax.draw", description=__doc__.split("\n\n")[1])
  p.add_argument("--workdir", required=True, help="a workdir whose runs kept their parameters")
  p.add_argument("--port", type=int, default=8766, help="0 picks any free port")
  args = p.parse_args(argv)
  try:
    server = build(args.workdir, args.port)
  except QdError as e:
    print(f"qd_jax: error: {e}", file=sys.stderr)
    sys.exit(2)
  g = server.guesser
  print(f"draw: open {server.url} ({g.model} from {g.run_id}, test accuracy {g.test_accuracy:.3f}; "
        f"{', '.join(g.categories)}); Ctrl-C stops", flush=True)
  try:
    server.serve_forever()
  except KeyboardInterrupt:
    pass
  finally:
    server.server_close()


if __name__ == "__main__":
  main()
