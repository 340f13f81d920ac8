"""From a config's data fields to checked category files: the folder, the names, any downloads."""

import os
import pathlib

from qd_jax.data import categories as cats, download
from qd_jax.data.category_file import CategoryFile


def default_data_dir() -> pathlib.Path:
  return pathlib.Path(os.environ.get("QD_DATA_DIR") or pathlib.Path.home() / ".cache/qd_jax/quickdraw")


def data_dir(flag: str) -> pathlib.Path:
  """--data_dir, or $QD_DATA_DIR, or ~/.cache/qd_jax/quickdraw."""
  return pathlib.Path(flag) if flag else default_data_dir()


def category_names(flag: str) -> tuple[str, ...]:
  """--categories, each checked against the official names; "" means the paper's ten."""
  return cats.parse_list(flag) if flag else cats.PAPER_CATEGORIES


def category_files(names, folder: pathlib.Path, rows_needed: int | None, *, bucket_url: str,
                   download_missing: bool) -> dict[str, CategoryFile]:
  """{category: its checked file}, in the order of `names`, fetching what is missing or short."""
  paths = download.ensure_local(names, folder, rows_needed, base_url=bucket_url, download=download_missing)
  return {n: CategoryFile.open(n, paths[n]) for n in names}
