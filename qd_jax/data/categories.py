"""The 345 official category names and the official files' sizes and checksums.

Both come from the metadata that tensorflow-datasets ships for `quickdraw_bitmap`
(labels.txt and checksums.tsv); the files are read without importing TF.
"""

import dataclasses
import difflib
import functools
import importlib.util
import pathlib

from qd_jax.errors import QdError

# The paper's ten categories (Section 3), in its order.
PAPER_CATEGORIES = ("fish", "fork", "hot dog", "flamingo", "airplane", "alarm clock",
                    "baseball bat", "bicycle", "dolphin", "elephant")
ROW_BYTES = 784  # 28 x 28 uint8


@dataclasses.dataclass(frozen=True)
class OfficialFile:
  category: str
  size_bytes: int
  sha256: str


def _tfds_metadata_dir() -> pathlib.Path:
  spec = importlib.util.find_spec("tensorflow_datasets")
  if spec is None or not spec.submodule_search_locations:
    raise QdError("tensorflow-datasets is not installed",
                  "run `pip install -e .` in the qd_jax checkout")
  return pathlib.Path(spec.submodule_search_locations[0]) / "datasets" / "quickdraw_bitmap"


@functools.cache
def official_names() -> tuple[str, ...]:
  names = (_tfds_metadata_dir() / "labels.txt").read_text().split("\n")
  return tuple(n.strip() for n in names if n.strip())


@functools.cache
def official_files() -> dict[str, OfficialFile]:
  """category -> size and sha256 of the full official numpy_bitmap file."""
  out = {}
  for line in (_tfds_metadata_dir() / "checksums.tsv").read_text().splitlines():
    url, size, sha, *_ = line.split("\t")
    category = url.rsplit("/", 1)[1].removesuffix(".npy")
    out[category] = OfficialFile(category, int(size), sha)
  return out


def validate(name: str) -> str:
  """Returns `name` if it is an official category, else raises a one-line QdError."""
  if "/" in name or "\\" in name or ".." in name or "\0" in name:
    raise QdError(f"category {name!r} contains a path separator or '..'",
                  "pass plain category names such as 'hot dog'")
  if name not in official_names():
    near = difflib.get_close_matches(name, official_names(), n=3, cutoff=0.5)
    if not near:
      near = [n for n in official_names() if n.lower() == name.lower()]
    hint = f"did you mean {', '.join(repr(n) for n in near)}?" if near else (
        "see the 345 names in tensorflow_datasets/datasets/quickdraw_bitmap/labels.txt")
    raise QdError(f"unknown category {name!r}", hint)
  return name


def parse_list(text: str) -> tuple[str, ...]:
  """'airplane, smiley face' -> ('airplane', 'smiley face'), each validated, no duplicates."""
  names = tuple(n.strip() for n in text.split(",") if n.strip())
  if not names:
    raise QdError("--categories is empty", "pass a comma-separated list such as airplane,cat")
  dup = sorted({n for n in names if names.count(n) > 1})
  if dup:
    raise QdError(f"--categories repeats {', '.join(dup)}", "list each category once")
  return tuple(validate(n) for n in names)
