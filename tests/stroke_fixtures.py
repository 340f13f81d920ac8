"""Small synthetic stroke files in the official ndjson layout, made by the tests themselves.

Category at position c draws a regular polygon with c + 3 corners (one stroke) plus c short
dashes, with seeded jitter, so a classifier can tell them apart; raw drawings are the same shapes
at screen scale with timing (t in ms), under the same key_ids as their simplified versions.
"""

import json
import os
import pathlib

import numpy as np
import pytest

from qd_jax.data import strokes


def _shape(c: int, rng: np.random.Generator) -> list[np.ndarray]:
  corners = c + 3
  angles = np.linspace(0, 2 * np.pi, corners + 1) + rng.uniform(0, 0.3)
  ring = np.stack([np.cos(angles), np.sin(angles)], 1) * rng.uniform(80, 120) + 300
  out = [ring + rng.normal(0, 2, ring.shape)]
  for i in range(c):
    x0 = 200 + 40 * i
    out.append(np.array([[x0, 500.0], [x0 + 20, 520.0]]) + rng.normal(0, 2, (2, 2)))
  return out


def _timed(strokes_: list[np.ndarray]) -> list[list[list[float]]]:
  t, out = 0.0, []
  for s in strokes_:
    ts = t + 15.0 * np.arange(len(s))
    out.append([s[:, 0].round(3).tolist(), s[:, 1].round(3).tolist(), ts.tolist()])
    t = ts[-1] + 200.0
  return out


def make_stroke_files(folder: pathlib.Path, counts: dict[str, int], raw_every: int = 2) -> pathlib.Path:
  """Writes simplified/<c>.ndjson (counts[c] drawings) and raw/<c>.ndjson (every raw_every-th
  drawing, plus 3 raw-only drawings); returns folder."""
  folder = pathlib.Path(folder)
  for kind in ("simplified", "raw"):
    (folder / kind).mkdir(parents=True, exist_ok=True)
  for c, (name, n) in enumerate(counts.items()):
    rng = np.random.default_rng([7, c])
    simp, raw = [], []
    for i in range(n + 3):
      shape = _shape(c, rng)
      key = f"{c}{i:07d}"
      if i < n:
        drawing = [[s[:, 0].tolist(), s[:, 1].tolist()] for s in strokes.simplify(shape)]
        simp.append(json.dumps({"word": name, "key_id": key, "recognized": True, "drawing": drawing}))
      if i >= n or i % raw_every == 0:
        raw.append(json.dumps({"word": name, "key_id": key, "recognized": True, "drawing": _timed(shape)}))
    (folder / "simplified" / f"{name}.ndjson").write_text("\n".join(simp) + "\n")
    (folder / "raw" / f"{name}.ndjson").write_text("\n".join(raw) + "\n")
  return folder


@pytest.fixture
def shared_strokes_dir():
  """The real stroke folder named by QD_STROKES_DIR (.ci/run sets it)."""
  value = os.environ.get("QD_STROKES_DIR")
  if not value:
    pytest.skip("QD_STROKES_DIR is not set; point it at the real stroke folder "
                "(e.g. /work/shared/data/quickdraw_strokes)")
  path = pathlib.Path(value)
  if not (path / "simplified").is_dir():
    pytest.fail(f"QD_STROKES_DIR={value} is set but has no simplified/ folder")
  return path
