"""qd_jax.data.categories: the official names, their files, and name validation."""

import re

import pytest

from qd_jax.data import categories
from qd_jax.errors import QdError

from conftest import LOCAL_TEN


def _one_line(err: QdError) -> str:
  msg = str(err)
  assert msg and "\n" not in msg and "\r" not in msg, msg
  return msg


def test_exactly_345_unique_names():
  names = categories.official_names()
  assert isinstance(names, tuple)
  assert len(names) == 345
  assert len(set(names)) == 345
  assert all(n == n.strip() and n for n in names)


def test_known_names_are_official():
  names = set(categories.official_names())
  for n in ("The Mona Lisa", "smiley face", "hot dog", "airplane", "The Eiffel Tower", "cat"):
    assert n in names


def test_paper_categories_are_ten_official_names():
  assert len(categories.PAPER_CATEGORIES) == 10
  assert len(set(categories.PAPER_CATEGORIES)) == 10
  assert set(categories.PAPER_CATEGORIES) <= set(categories.official_names())


def test_local_ten_are_official():
  assert set(LOCAL_TEN) <= set(categories.official_names())


def test_official_files_cover_all_names():
  files = categories.official_files()
  assert set(files) == set(categories.official_names())
  for name, f in files.items():
    assert f.category == name
    assert isinstance(f.size_bytes, int) and f.size_bytes > 0
    assert re.fullmatch(r"[0-9a-f]{64}", f.sha256), (name, f.sha256)
  # Every official file holds whole 784-byte rows after a .npy header.
  assert all(f.size_bytes > categories.ROW_BYTES for f in files.values())


@pytest.mark.parametrize("name", ["The Mona Lisa", "smiley face", "airplane", "hot dog",
                                  *categories.PAPER_CATEGORIES])
def test_validate_returns_good_names(name):
  assert categories.validate(name) == name


def test_validate_accepts_every_official_name():
  for n in categories.official_names():
    assert categories.validate(n) == n


@pytest.mark.parametrize("bad,near", [("hotdog", "hot dog"), ("smiley-face", "smiley face"),
                                      ("airplan", "airplane"), ("the mona lisa", "The Mona Lisa")])
def test_validate_unknown_suggests_nearest(bad, near):
  with pytest.raises(QdError) as e:
    categories.validate(bad)
  msg = _one_line(e.value)
  assert repr(bad) in msg
  assert repr(near) in msg


def test_validate_unknown_without_near_names_points_at_list():
  with pytest.raises(QdError) as e:
    categories.validate("qqqqqqqqqqqqqqqqqqqq")
  msg = _one_line(e.value)
  assert "unknown category" in msg and "labels.txt" in msg


@pytest.mark.parametrize("bad", ["hot/dog", "hot\\dog", "../cat", "cat/..", "..", "smiley face/",
                                 "/airplane", "a\\..\\cat", "cat\0"])
def test_validate_refuses_path_like_names(bad):
  with pytest.raises(QdError) as e:
    categories.validate(bad)
  msg = _one_line(e.value)
  assert "did you mean" not in msg  # no suggestion: a path is never a near miss


def test_parse_list_strips_and_keeps_order():
  assert categories.parse_list(" airplane ,smiley face,  cat ") == ("airplane", "smiley face", "cat")
  assert categories.parse_list("The Mona Lisa") == ("The Mona Lisa",)
  assert categories.parse_list("cat,,dog,") == ("cat", "dog")


@pytest.mark.parametrize("text", ["cat,cat", "cat, dog, cat", "cat , cat"])
def test_parse_list_refuses_duplicates(text):
  with pytest.raises(QdError) as e:
    categories.parse_list(text)
  assert "cat" in _one_line(e.value)


@pytest.mark.parametrize("text", ["", " ", ",", " , ,"])
def test_parse_list_refuses_empty(text):
  with pytest.raises(QdError) as e:
    categories.parse_list(text)
  assert "empty" in _one_line(e.value)


def test_parse_list_validates_each_name():
  with pytest.raises(QdError) as e:
    categories.parse_list("cat, hotdog")
  assert "'hot dog'" in _one_line(e.value)
  with pytest.raises(QdError):
    categories.parse_list("cat, ../dog")
