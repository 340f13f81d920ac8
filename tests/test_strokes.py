"""Stroke data: the checked ndjson reader, Google's preprocessing, partial drawings, stroke-3, splits."""

import json

import numpy as np
import pytest

from qd_jax.data import ndjson, npy, splits, stroke_split, strokes
from qd_jax.data.stroke_file import StrokeFile
from qd_jax.errors import QdError

from stroke_fixtures import make_stroke_files, shared_strokes_dir  # noqa: F401

GOOD = {"word": "cat", "key_id": "1", "drawing": [[[0, 10, 20], [0, 5, 255]]]}


def _file(tmp_path, lines, name="cat.ndjson"):
  path = tmp_path / name
  path.write_text("\n".join(lines) + "\n")
  return path


def test_reader_parses_every_line(tmp_path):
  path = _file(tmp_path, [json.dumps(GOOD)] * 3)
  got = ndjson.read(path, "simplified")
  assert len(got) == 3 and got[0].key_id == "1" and got[0].strokes[0].shape == (3, 2) and got[0].points == 3


@pytest.mark.parametrize("bad, reason", [
    ("{not json", "not valid JSON"),
    ('{"word": "cat", "key_id": "2"}', '"drawing" must be a non-empty list'),
    ('{"drawing": [[[0, 1], [2]]]}', "equal length"),
    ('{"drawing": [[[0, 300], [2, 3]]]}', "integers in 0..255"),
    ('{"drawing": [[[0, NaN], [2, 3]]]}', "not a finite number"),
    ('{"drawing": [[[0, true], [2, 3]]]}', "not a finite number"),
    ('[1, 2]', "not a JSON object"),
])
def test_a_bad_line_is_one_error_naming_file_and_line(tmp_path, bad, reason):
  path = _file(tmp_path, [json.dumps(GOOD), json.dumps(GOOD), bad, json.dumps(GOOD)])
  with pytest.raises(QdError) as e:
    ndjson.read(path, "simplified")
  assert f"{path}:3: " in str(e.value) and reason in str(e.value) and "\n" not in str(e.value)


def test_raw_strokes_need_their_time_column(tmp_path):
  path = _file(tmp_path, [json.dumps(GOOD)])
  with pytest.raises(QdError, match=r":1: a stroke is a list of 3"):
    ndjson.read(path, "raw")


def test_simplify_aligns_scales_and_drops_collinear_points():
  line = np.stack([np.linspace(100, 600, 200), np.linspace(50, 300, 200)], 1)  # one straight stroke
  dot = np.array([[350.0, 400.0]])
  out = strokes.simplify([line, dot])
  allp = np.concatenate(out)
  assert allp.dtype == np.int64 and allp.min() == 0 and allp.max() == 255
  assert len(out[0]) == 2 and out[0].tolist() == [[0, 0], [255, 128]]  # RDP keeps only the ends
  assert out[1].tolist() == [[128, 178]]  # (250, 350) * 255 / 500, rounded


def test_render_draws_where_the_strokes_are():
  img = strokes.render([np.array([[0, 0], [255, 0]])]).reshape(28, 28)  # centred: y 0 -> the middle
  assert img.dtype == np.uint8 and img[13, 14] > 128 and img[14, 14] > 128  # 1.5 px wide, on the row border
  assert img[:9].max() == 0 and img[19:].max() == 0  # a horizontal line across the middle
  assert img[13, 2:26].min() > 0


def test_partial_drawings_by_strokes_and_by_time():
  s = [np.array([[0, 0, 0], [1, 1, 10]], float), np.array([[5, 5, 100], [6, 6, 200]], float)]
  assert len(strokes.first_strokes(s, 1)) == 1 and len(strokes.stroke_fraction(s, 0.5)) == 1
  assert len(strokes.stroke_fraction(s, 0.51)) == 2 and len(strokes.stroke_fraction(s, 0.1)) == 1
  cut = strokes.first_ms(s, 150)
  assert [len(c) for c in cut] == [2, 1]
  assert [len(c) for c in strokes.time_fraction(s, 0.5)] == [2, 1]  # half of 200 ms
  assert [len(c) for c in strokes.time_fraction(s, 0.0)] == [1]


def test_stroke3_pads_masks_and_reports_a_cut():
  s = [np.array([[0, 0], [255, 0]]), np.array([[255, 255]])]
  x, cut = strokes.stroke3(s, 5)
  assert not cut and x.shape == (5, 4) and x[:, 3].tolist() == [1, 1, 1, 0, 0]
  assert x[:, 2].tolist() == [0, 1, 1, 0, 0]  # the pen lifts at each stroke's last point
  assert np.allclose(np.cumsum(x[:3, :2], 0), [[0, 0], [1, 0], [1, 1]])
  x2, cut2 = strokes.stroke3(s, 2)
  assert cut2 and x2[:, 3].tolist() == [1, 1]


def test_stroke_split_gives_both_kinds_of_the_same_drawings(tmp_path):
  folder = make_stroke_files(tmp_path / "s", {"airplane": 30, "cat": 30})
  files = {c: StrokeFile.open(c, folder) for c in ("airplane", "cat")}
  sizes = {c: splits.sizes_for(30, 0.1, 0.2) for c in files}
  a = stroke_split.make_split(files, sizes, 3, "strokes", 3)
  b = stroke_split.make_split(files, sizes, 3, "bitmap", 3)
  for part in splits.PARTS:
    assert [r.tolist() for r in a.index(part)] == [r.tolist() for r in b.index(part)]
  xa, ya = a.gather("test")
  xb, yb = b.gather("test")
  assert xa.shape == (12, 3, 4) and xb.shape == (12, 784) and xb.dtype == np.uint8 and ya.tolist() == yb.tolist()
  for c in a.categories:
    assert not set(c.test) & set(c.train) and not set(c.test) & set(c.val)
  d = a.describe()[0]
  assert d["input_kind"] == "strokes" and d["max_points"] == 3
  assert d["cut_to_max_points"]["train"] == 21  # every synthetic drawing has more than 3 points
  assert "cut_to_max_points" not in b.describe()[0]


def test_stroke_file_matches_raw_by_key_id(tmp_path):
  folder = make_stroke_files(tmp_path / "s", {"cat": 10})
  f = StrokeFile.open("cat", folder)
  assert f.rows == 10 and len(f.raw) == 5 + 3
  assert {d.key_id for d in f.drawings} & set(f.raw) == {f.drawings[i].key_id for i in range(0, 10, 2)}
  assert f.describe()["raw"]["rows"] == 8


def test_google_simplification_on_the_shared_drawings(shared_strokes_dir):
  """On drawings with both forms, ours matches some of Google's exactly (23% of all 8,002,
  benchmarks/strokes_check.py; fewer for cat) and stays within a pixel and a half on average."""
  raw = {d.key_id: d for d in ndjson.read(shared_strokes_dir / "raw" / "cat.ndjson", "raw")}
  simp = [d for d in ndjson.read(shared_strokes_dir / "simplified" / "cat.ndjson", "simplified") if d.key_id in raw]
  assert len(simp) >= 20
  exact, near = 0, []
  for g in simp:
    ours = strokes.simplify(list(raw[g.key_id].strokes))
    exact += [s.tolist() for s in ours] == [s.astype(int).tolist() for s in g.strokes]
    a, b = np.concatenate(ours), np.concatenate(g.strokes)
    near.append(np.hypot(*(a[:, None] - b[None]).transpose(2, 0, 1)).min(1).mean())
  assert exact >= 1 and np.mean(near) < 1.5


def test_rendering_matches_the_official_bitmaps_statistics(shared_strokes_dir, shared_data_dir):
  ours = np.stack([strokes.render(list(d.strokes))
                   for d in ndjson.read(shared_strokes_dir / "simplified" / "eye.ndjson", "simplified", 200)])
  path = shared_data_dir / "eye.npy"
  theirs = np.asarray(npy.memmap_rows(path, npy.read_header(path))[:200])
  assert abs(np.mean(ours == 0) - np.mean(theirs == 0)) < 0.02
  assert abs(ours.mean() - theirs.mean()) < 3
