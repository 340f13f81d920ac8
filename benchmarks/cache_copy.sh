#!/usr/bin/env bash
# A machine's caches (~/.cache/qd_jax: XLA's compiled programs, autotune's timings) copied to
# another HOME, as a batch VM gets them: the second launch should time nothing and load every
# program from the cache, with the same numbers (benchmarks/compare_runs.py).
#
# Usage: bash benchmarks/cache_copy.sh DATA_DIR "CATEGORIES"   (H2 --quick in two fresh HOMEs)
set -euo pipefail
data=${1:?usage: benchmarks/cache_copy.sh DATA_DIR CATEGORIES}
categories=${2:?usage: benchmarks/cache_copy.sh DATA_DIR CATEGORIES}
py=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)
a=$(mktemp -d) b=$(mktemp -d) w=$(mktemp -d)
flags=(--hypothesis=h2 --quick "--data_dir=$data" "--categories=$categories")

launch() {  # $1: HOME, $2: workdir; prints autotune's lines, the wall time and the compile counts
  HOME=$1 JAX_LOG_COMPILES=1 "$py" -m qd_jax.launch "${flags[@]}" --workdir="$2" 2>"$2.log" |
    grep -E "^autotune|in all\)" || true
  PYTHONPATH=$here "$py" -c 'import pathlib, sys; from overhead import compile_counts
counts, _, hits = compile_counts(pathlib.Path(sys.argv[1]))
print(f"XLA compilations: {sum(counts.values())}, persistent-cache hits: {hits}")' "$2.log"
}

echo "# $(date -u +%FT%TZ) $(lscpu | grep -m1 'Model name' | tr -s ' '); $(nproc) cores; qd_jax at $(git rev-parse --short HEAD 2>/dev/null || echo "an unknown commit") (the working directory)"
echo "\$ HOME=A python -m qd_jax.launch ${flags[*]} --workdir=W1   # A: an empty HOME"
launch "$a" "$w/1"
mkdir -p "$b/.cache"
cp -r "$a/.cache/qd_jax" "$b/.cache/"
echo "\$ cp -r A/.cache/qd_jax B/.cache/   # B: another empty HOME ($(du -sh "$a/.cache/qd_jax" | cut -f1) copied)"
echo "\$ HOME=B python -m qd_jax.launch ${flags[*]} --workdir=W2"
launch "$b" "$w/2"
PYTHONPATH="$here/.." "$py" "$here/compare_runs.py" "$w/1" "$w/2" | tail -n 2
rm -rf "$a" "$b" "$w"
