"""Google's stroke preprocessing, and the two inputs models take from strokes.

* `simplify`: raw -> simplified as the dataset describes it: align to the top left, scale to
  0..255, resample at 1 pixel, Ramer-Douglas-Peucker with epsilon 2 (the `simplification`
  package's RDP), integer coordinates. benchmarks/strokes_check.py measures it on the drawings
  that exist in both forms.
* `render`: strokes -> a 28x28 uint8 bitmap like the official numpy_bitmap files. Google's own
  renderer (quickdraw-dataset issue #19, comment 402247262: cairo, lines 16 wide in the 256
  frame, 16 of padding, round caps and joins, centred, antialiased) redone with Pillow: drawn
  19x oversampled (where the line is exactly 28 pixels wide), then box-averaged down, which is
  what antialiasing by coverage computes.
* `stroke3`: strokes -> (dx, dy, pen lifted, valid) rows padded to a fixed length, the input of
  TensorFlow's "Recurrent Neural Networks for Drawing Classification" tutorial plus the mask.
* Partial drawings: the first k strokes, the first t milliseconds, or a fraction of either.
"""

import math

import numpy as np
from PIL import Image, ImageDraw
from simplification.cutil import simplify_coords

Strokes = list[np.ndarray]  # each (n, 2) x, y or (n, 3) x, y, t
SIDE, LINE, PAD, FRAME, OVERSAMPLE = 28, 16.0, 16.0, 256.0, 19
KINDS = ("bitmap", "strokes")  # the input kinds of nn/registry.py that strokes can feed


def normalize(strokes: Strokes) -> Strokes:
  """(x, y) aligned to the top left and scaled (one factor for both axes) to 0..255."""
  xy = [np.asarray(s, np.float64)[:, :2] for s in strokes]
  allp = np.concatenate(xy)
  lo = allp.min(0)
  extent = float((allp - lo).max())
  scale = 255.0 / extent if extent > 0 else 1.0
  return [(p - lo) * scale for p in xy]


def resample(p: np.ndarray, spacing: float = 1.0) -> np.ndarray:
  """Points every `spacing` pixels along the polyline, its two ends kept."""
  if len(p) < 2:
    return p
  d = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(p, axis=0).T))])
  if d[-1] == 0:
    return p[:1]
  t = np.append(np.arange(0.0, d[-1], spacing), d[-1])
  return np.stack([np.interp(t, d, p[:, 0]), np.interp(t, d, p[:, 1])], 1)


def simplify(strokes: Strokes, epsilon: float = 2.0) -> Strokes:
  """Google's raw -> simplified: integer (x, y) in 0..255, each stroke RDP-simplified."""
  out = []
  for p in normalize(strokes):
    q = np.asarray(simplify_coords(np.ascontiguousarray(resample(p)), epsilon), np.float64).reshape(-1, 2)
    out.append(np.round(q).astype(np.int64))
  return out


def renormalize(strokes: Strokes) -> Strokes:
  """An already simplified drawing (or part of one) brought back to integer 0..255."""
  return [np.round(p).astype(np.int64) for p in normalize(strokes)]


def render(strokes: Strokes) -> np.ndarray:
  """(784,) uint8: the drawing as a numpy_bitmap row (white lines on black)."""
  side = SIDE * OVERSAMPLE
  total_pad = 2 * PAD + LINE
  scale = side / (FRAME + total_pad)
  xy = [np.asarray(s, np.float64)[:, :2] for s in strokes]
  offset = (FRAME - np.concatenate(xy).max(0)) / 2.0  # centred in the 256 frame
  width = LINE * scale
  img = Image.new("L", (side, side), 0)
  draw = ImageDraw.Draw(img)
  for p in xy:
    q = (p + offset + total_pad / 2.0) * scale
    pts = [tuple(v) for v in q.tolist()]
    if len(pts) > 1:
      draw.line(pts, fill=255, width=max(1, round(width)))
    r = width / 2.0
    for x, y in pts:  # round caps and joins
      draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
  return np.asarray(img.reduce(OVERSAMPLE), np.uint8).reshape(SIDE * SIDE)


def stroke3(strokes: Strokes, max_points: int) -> tuple[np.ndarray, bool]:
  """((max_points, 4) float32 rows (dx, dy, pen lifted, valid), whether points were cut).

  Coordinates are in units of the 0..255 frame / 255; the first row is the first point itself.
  Rows past the drawing's length are zero with valid 0, which the model masks."""
  xy = [np.asarray(s, np.float64)[:, :2] for s in strokes]
  pts = np.concatenate(xy) / 255.0
  pen = np.zeros(len(pts))
  pen[np.cumsum([len(p) for p in xy]) - 1] = 1.0
  deltas = np.diff(pts, axis=0, prepend=np.zeros((1, 2)))
  n = min(len(pts), max_points)
  out = np.zeros((max_points, 4), np.float32)
  out[:n, :2], out[:n, 2], out[:n, 3] = deltas[:n], pen[:n], 1.0
  return out, len(pts) > max_points


def encode(drawings: list[Strokes], kind: str, max_points: int) -> tuple[np.ndarray, int]:
  """(the model inputs of `kind` for every drawing, how many drawings stroke3 cut)."""
  if kind == "bitmap":
    return (np.stack([render(d) for d in drawings]) if drawings else np.zeros((0, SIDE * SIDE), np.uint8)), 0
  if kind != "strokes":
    raise ValueError(f"strokes cannot feed input kind {kind!r}; they feed {KINDS}")
  rows = [stroke3(d, max_points) for d in drawings]
  x = np.stack([r for r, _ in rows]) if rows else np.zeros((0, max_points, 4), np.float32)
  return x, sum(cut for _, cut in rows)


def first_strokes(strokes: Strokes, k: int) -> Strokes:
  return list(strokes[:max(1, k)])


def first_ms(strokes: Strokes, t: float) -> Strokes:
  """The points drawn by t ms after the first (raw strokes, with their t column); at least one."""
  out = [s[s[:, 2] <= t] for s in strokes]
  out = [s for s in out if len(s)]
  return out or [strokes[0][:1]]


def stroke_fraction(strokes: Strokes, f: float) -> Strokes:
  """The first ceil(f * strokes) strokes (at least one)."""
  return first_strokes(strokes, math.ceil(f * len(strokes) - 1e-9))


def time_fraction(strokes: Strokes, f: float) -> Strokes:
  """The points drawn in the first fraction f of the drawing's time."""
  return first_ms(strokes, f * max(float(s[:, 2].max()) for s in strokes))
