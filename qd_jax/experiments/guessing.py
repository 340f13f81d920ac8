"""How early a trained run guesses: its test drawings cut to fractions of their strokes, and the
held-out raw drawings cut to fractions of their drawing time, each scored as the draw page would
score it (the cut drawing preprocessed on its own, then encoded for the run's model).

* by strokes: the first ceil(f * strokes) strokes of each test drawing (Google's simplified
  strokes), aligned and scaled to 0..255 again, as the page does with what is on its canvas;
* by time: the raw drawings (with timing) of the same categories whose key_id the run never
  trained or validated on, cut to the points drawn in the first f of their time, then given
  Google's whole raw -> simplified preprocessing (data/strokes.simplify).
"""

import numpy as np

from qd_jax.data import strokes
from qd_jax.nn import predict


def curve(model: str, num_classes: int, params, drawings: list, labels: np.ndarray, fractions: list[float],
          cut, kind: str, max_points: int) -> dict:
  """Per fraction: top-1 and top-3 correct counts; per drawing: the smallest fraction from
  which its top guess is right at every larger fraction (None: wrong at the end)."""
  fractions = sorted(fractions)
  right, top3 = [], []
  for f in fractions:
    x, _ = strokes.encode([cut(d, f) for d in drawings], kind, max_points)
    p = predict.probabilities(model, num_classes, params, x)
    top = np.argsort(-p, axis=1, kind="stable")[:, :3]
    right.append(top[:, 0] == labels)
    top3.append(np.any(top == labels[:, None], axis=1))
  right_fn = np.stack(right)  # (fractions, drawings)
  stays = np.flip(np.logical_and.accumulate(np.flip(right_fn, 0), 0), 0)  # right here and at every later f
  first = [fractions[int(np.argmax(stays[:, j]))] if stays[-1, j] else None for j in range(len(drawings))]
  return {"fractions": fractions, "n": len(drawings), "correct": right_fn.sum(1).tolist(),
          "top3_correct": np.stack(top3).sum(1).tolist(), "stays_correct_from": first}


def held_out_raw(split) -> tuple[list, np.ndarray]:
  """(raw drawings, labels) of the split's categories that it never trains or validates on."""
  drawings, labels = [], []
  for c in split.categories:
    seen = {c.file.drawings[r].key_id for r in np.concatenate([c.train, c.val])}
    for key, d in sorted(c.file.raw.items()):
      if key not in seen:
        drawings.append(list(d.strokes))
        labels.append(c.label)
  return drawings, np.asarray(labels, np.int64)


def score(result, split, fractions: list[float], max_points: int) -> dict:
  """{"strokes": curve, "time": curve or None} of one finished run on its split."""
  k, kind = len(split.categories), split.kind
  labels, _ = split.index("test")
  by_strokes = curve(result.model, k, result.params, split.drawings("test"), labels, fractions,
                     lambda d, f: strokes.renormalize(strokes.stroke_fraction(d, f)), kind, max_points)
  raw, raw_labels = held_out_raw(split)
  by_time = curve(result.model, k, result.params, raw, raw_labels, fractions,
                  lambda d, f: strokes.simplify(strokes.time_fraction(d, f)), kind, max_points) if raw else None
  return {"strokes": by_strokes, "time": by_time}
