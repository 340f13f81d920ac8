"""Checks qd_jax's stroke preprocessing against Google's own output.

    python benchmarks/strokes_check.py --strokes_dir=../shared/data/quickdraw_strokes \
        --data_dir=../shared/data/quickdraw

1. raw -> simplified (qd_jax.data.strokes.simplify) on every drawing present in both raw/ and
   simplified/ under the same key_id: the share that matches Google's simplified drawing
   exactly, the share with the same stroke and point counts, the mean distance between
   matched points where the counts agree, and for every drawing the mean distance from each
   point to the nearest point of the other version (both ways, averaged).
2. strokes -> 28x28 (qd_jax.data.strokes.render) of the simplified drawings, against the
   official numpy_bitmap rows of the categories present in both folders: share of zero pixels,
   share at 255, mean ink (pixel mean), per category and pooled. The drawings differ (the
   bitmap files are other drawings of the same categories), so only the statistics compare.
"""

import argparse
import pathlib

import numpy as np

from qd_jax.data import ndjson, npy, strokes


def simplification(folder: pathlib.Path) -> None:
  exact = same_shape = total = 0
  dists, nearest = [], []
  for raw_path in sorted((folder / "raw").glob("*.ndjson")):
    simp_path = folder / "simplified" / raw_path.name
    if not simp_path.is_file():
      continue
    google = {d.key_id: d for d in ndjson.read(simp_path, "simplified")}
    for d in ndjson.read(raw_path, "raw"):
      if d.key_id not in google:
        continue
      total += 1
      ours, theirs = strokes.simplify(list(d.strokes)), [s.astype(np.int64) for s in google[d.key_id].strokes]
      a, b = np.concatenate(ours), np.concatenate(theirs)
      gap = np.hypot(*(a[:, None, :] - b[None, :, :]).transpose(2, 0, 1))
      nearest.append((gap.min(1).mean() + gap.min(0).mean()) / 2)
      if [len(s) for s in ours] == [len(s) for s in theirs]:
        same_shape += 1
        diff = np.concatenate(ours) - np.concatenate(theirs)
        dists.append(float(np.mean(np.hypot(diff[:, 0], diff[:, 1]))))
        exact += all(np.array_equal(a, b) for a, b in zip(ours, theirs))
  print(f"raw -> simplified on {total:,} drawings in both folders:")
  print(f"  exact match: {exact:,} ({exact / total:.1%})")
  print(f"  same stroke and point counts: {same_shape:,} ({same_shape / total:.1%})")
  print(f"  mean point distance where the counts agree: {np.mean(dists):.3f} px "
        f"(median over drawings {np.median(dists):.3f}) in the 0..255 frame")
  print(f"  mean nearest-point distance, all {total:,} drawings: {np.mean(nearest):.3f} px "
        f"(median {np.median(nearest):.3f}, 95th percentile {np.percentile(nearest, 95):.3f})")


def _stats(x: np.ndarray) -> tuple[float, float, float]:
  x = np.asarray(x, np.float64)
  return float(np.mean(x == 0)), float(np.mean(x == 255)), float(np.mean(x))


def rendering(folder: pathlib.Path, data_dir: pathlib.Path, limit: int) -> None:
  print(f"\nstrokes -> 28x28 against the official bitmaps (up to {limit:,} drawings a category):")
  print(f"  {'category':<14} {'n ours':>7} {'zeros ours/official':>21} {'at 255':>15} {'mean ink':>15}")
  pooled = {"ours": [], "official": []}
  for npy_path in sorted(data_dir.glob("*.npy")):
    simp_path = folder / "simplified" / f"{npy_path.stem}.ndjson"
    if not simp_path.is_file():
      continue
    ours = np.stack([strokes.render(list(d.strokes)) for d in ndjson.read(simp_path, "simplified", limit)])
    header = npy.read_header(npy_path)
    official = np.asarray(npy.memmap_rows(npy_path, header)[:limit])
    pooled["ours"].append(ours)
    pooled["official"].append(official)
    a, b = _stats(ours), _stats(official)
    print(f"  {npy_path.stem:<14} {len(ours):>7,} {a[0]:>10.3f}/{b[0]:<10.3f} {a[1]:>7.3f}/{b[1]:<7.3f} "
          f"{a[2]:>7.2f}/{b[2]:<7.2f}")
  a, b = _stats(np.concatenate(pooled["ours"])), _stats(np.concatenate(pooled["official"]))
  print(f"  {'pooled':<14} {sum(len(o) for o in pooled['ours']):>7,} {a[0]:>10.3f}/{b[0]:<10.3f} "
        f"{a[1]:>7.3f}/{b[1]:<7.3f} {a[2]:>7.2f}/{b[2]:<7.2f}")


def main() -> None:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--strokes_dir", required=True, type=pathlib.Path)
  p.add_argument("--data_dir", required=True, type=pathlib.Path)
  p.add_argument("--limit", type=int, default=1000, help="drawings per category for the rendering check")
  args = p.parse_args()
  simplification(args.strokes_dir)
  rendering(args.strokes_dir, args.data_dir, args.limit)


if __name__ == "__main__":
  main()
