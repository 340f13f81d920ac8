"""python -m qd_jax.human --workdir=DIR [--data_dir=D --categories=a,b,...] [--port=8765] [--n=100] [--seed=0]

The paper's human baseline (two people, 87% on ten classes): a page on 127.0.0.1 shows n drawings
from exactly the test split the models are scored on (same config, rows and seed), one at a time,
and appends each answer to DIR/human.jsonl as one whole line. Stop it at any time: a restart with
the same workdir, seed and n skips what this person already answered.
"""

import dataclasses
import datetime
import json
import pathlib
import re
import struct
import sys
import threading
import urllib.parse
import zlib

import numpy as np

from qd_jax import pages
from qd_jax.data import splits
from qd_jax.errors import QdError
from qd_jax.records import jsonl

LOG_NAME = "human.jsonl"
MAX_BODY = 4096  # an answer is ~100 bytes
MAX_NAME = 100
KEYS = ("index", "answer", "ms", "name")
_DRAWING = re.compile(r"/drawing/(0|[1-9][0-9]{0,5})\.png")  # matched on the raw path, never unquoted


class BadAnswer(Exception):
  """A request the server refuses with 400; human.jsonl is left as it was."""


@dataclasses.dataclass(frozen=True)
class Drawing:
  id: str  # "<category>:<row index in its file>"
  category: str
  png: bytes


def png_bytes(pixels: np.ndarray) -> bytes:
  """A 28x28 grayscale PNG, inverted so strokes are dark on white; stdlib zlib + struct only."""
  img = 255 - np.asarray(pixels, np.uint8).reshape(28, 28)
  raw = b"".join(b"\x00" + row.tobytes() for row in img)  # filter byte 0 before each scanline

  def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

  header = struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0)  # 8-bit grayscale, no interlace
  return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
          + chunk(b"IEND", b""))


def scored_split(data_dir: str | None, categories: str | None, seed: int, log=print) -> splits.Split:
  """The split that configs.HUMAN_BASELINE scores its models on, for these data and this seed."""
  from qd_jax.experiments import configs, sweep  # heavy (JAX); only once the flags are known to be good
  overrides = {"seed": seed}
  if data_dir:
    overrides["data_dir"] = str(data_dir)
  if categories:
    overrides["categories"] = categories
  point, = sweep.layout(configs.get_config(configs.HUMAN_BASELINE, overrides=overrides), log).points
  return splits.make_split(point.files, point.sizes, seed)


def pick(split: splits.Split, n: int, seed: int) -> list[tuple[str, int]]:
  """n (category, row) pairs from the test rows, seeded; category counts differ by at most one."""
  total = split.count("test")
  if n < 1:
    raise QdError(f"--n={n} must be positive", "pass --n=100")
  if n > total:
    raise QdError(f"--n={n} is more than the {total} test drawings", f"pass --n={total} or less")
  rng = np.random.default_rng([seed, 0x68756D616E])  # "human": a stream apart from the split's
  cats = [split.categories[i] for i in rng.permutation(len(split.categories))]
  queues = [(c.category, rng.permutation(c.test)) for c in cats]
  chosen = [(name, int(q[k])) for k in range(max(len(q) for _, q in queues))
            for name, q in queues if k < len(q)][:n]  # categories take turns
  return [chosen[i] for i in rng.permutation(len(chosen))]  # so the turns do not show


def load_drawings(split: splits.Split, chosen: list[tuple[str, int]]) -> list[Drawing]:
  files = {c.category: c.file for c in split.categories}
  pixels = {}
  for name in dict.fromkeys(c for c, _ in chosen):
    idx = sorted(r for c, r in chosen if c == name)
    pixels.update({(name, r): x for r, x in zip(idx, np.asarray(files[name].pixels[idx]))})
  return [Drawing(f"{c}:{r}", c, png_bytes(pixels[c, r])) for c, r in chosen]


def clean_name(name) -> str | None:
  if name is None:
    return None
  if not isinstance(name, str) or len(name) > MAX_NAME:
    raise BadAnswer(f"name must be a string of at most {MAX_NAME} characters")
  return name.strip() or None  # blank means anonymous


class Session:
  """The drawing list, the answers so far (by name) and the log they go to."""

  def __init__(self, drawings: list[Drawing], categories: list[str], seed: int, workdir: pathlib.Path):
    self.drawings, self.categories, self.seed = drawings, categories, seed
    self.path = workdir / LOG_NAME
    self.lock = threading.Lock()  # one check-then-append at a time
    ids = {d.id for d in drawings}
    self.answers: dict[str | None, dict[str, str]] = {}
    for rec in jsonl.read(self.path):
      if rec.get("seed") == seed and rec.get("id") in ids and isinstance(rec.get("answer"), str):
        self.answers.setdefault(rec.get("name"), {})[rec["id"]] = rec["answer"]

  def progress(self, name: str | None) -> dict:
    mine = self.answers.get(name, {})
    correct = sum(mine[d.id] == d.category for d in self.drawings if d.id in mine)
    return {"n": len(self.drawings), "done": len(mine), "correct": correct}

  def state(self, name: str | None) -> dict:
    mine = self.answers.get(name, {})
    remaining = [i for i, d in enumerate(self.drawings) if d.id not in mine]
    return {"categories": self.categories, "remaining": remaining, **self.progress(name)}

  def answer(self, body: bytes) -> dict:
    try:
      a = json.loads(body)
    except (ValueError, UnicodeDecodeError):
      raise BadAnswer("the body is not JSON") from None
    if not isinstance(a, dict) or set(a) != set(KEYS):
      raise BadAnswer(f"an answer is a JSON object with exactly {', '.join(KEYS)}")
    index, answer, ms, name = (a[k] for k in KEYS)
    if type(index) is not int or not 0 <= index < len(self.drawings):
      raise BadAnswer(f"no drawing {index!r}")
    if not isinstance(answer, str) or answer not in self.categories:
      raise BadAnswer(f"unknown category {answer!r}")
    if type(ms) is not int or ms < 0:
      raise BadAnswer(f"ms must be an int >= 0, got {ms!r}")
    name = clean_name(name)
    d = self.drawings[index]
    with self.lock:
      mine = self.answers.setdefault(name, {})
      if d.id in mine:
        raise BadAnswer(f"drawing {index} is already answered by {name or 'this anonymous person'}")
      now = datetime.datetime.now().astimezone().isoformat(timespec="milliseconds")
      jsonl.append(self.path, {"id": d.id, "true": d.category, "answer": answer, "ms": ms,
                               "name": name, "seed": self.seed, "time": now}, keep_torn=True)
      mine[d.id] = answer
      return self.progress(name)


class Handler(pages.JsonHandler):
  """GET /, /state, /drawing/<i>.png; POST /answer."""
  server_version = "qd_jax-human"

  def do_GET(self) -> None:
    if not self._host_ok():
      return
    path, _, query = self.path.partition("?")
    session: Session = self.server.session
    if path == "/":
      return self._send(200, "text/html; charset=utf-8", self.server.page)
    if path == "/state":
      try:
        name = clean_name(urllib.parse.parse_qs(query).get("name", [""])[0])
      except BadAnswer as e:
        return self._json(400, {"error": str(e)})
      return self._json(200, session.state(name))
    m = _DRAWING.fullmatch(path)
    if m and int(m[1]) < len(session.drawings):
      return self._send(200, "image/png", session.drawings[int(m[1])].png)
    self._json(404, {"error": "not found"})

  def do_POST(self) -> None:
    if not self._host_ok() or (body := self._json_body("/answer", MAX_BODY)) is None:
      return
    try:
      return self._json(200, self.server.session.answer(body))
    except BadAnswer as e:
      return self._json(400, {"error": str(e)})


class HumanServer(pages.LoopbackServer):
  def __init__(self, session: Session, port: int):
    self.session = session
    super().__init__(Handler, "human_page.html", port)


def build(workdir, data_dir=None, categories=None, n=100, seed=0, port=0, log=print) -> HumanServer:
  """Checks everything, then binds; the caller runs serve_forever()."""
  split = scored_split(data_dir, categories, seed, log)
  drawings = load_drawings(split, pick(split, n, seed))
  workdir = pathlib.Path(workdir)
  try:
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir / LOG_NAME, "a"):
      pass  # writable now, not at the first answer
  except OSError as e:
    raise QdError(f"cannot write {workdir / LOG_NAME}: {e.strerror}", "pass a writable --workdir") from None
  return HumanServer(Session(drawings, list(split.names), seed, workdir), port)


def main(argv: list[str] | None = None) -> None:
  p = pages.Parser(prog="python -m qd_jax.human", description=__doc__.split("\n\n")[1])
  p.add_argument("--workdir", required=True, help="answers go to WORKDIR/human.jsonl")
  p.add_argument("--data_dir", help="folder of <category>.npy files (default: as in qd_jax.launch)")
  p.add_argument("--categories", help="comma-separated official names (default: the paper's ten)")
  p.add_argument("--port", type=int, default=8765, help="0 picks any free port")
  p.add_argument("--n", type=int, default=100, help="test drawings to show")
  p.add_argument("--seed", type=int, default=0, help="the split's seed, as in launch")
  args = p.parse_args(argv)
  try:
    server = build(args.workdir, args.data_dir, args.categories, args.n, args.seed, args.port)
  except QdError as e:
    print(f"qd_jax: error: {e}", file=sys.stderr)
    sys.exit(2)
  print(f"human baseline: open {server.url} ({args.n} test drawings; answers go to "
        f"{server.session.path}); Ctrl-C stops, a restart resumes", flush=True)
  try:
    server.serve_forever()
  except KeyboardInterrupt:
    pass
  finally:
    server.server_close()


if __name__ == "__main__":
  main()
