#!/usr/bin/env bash
# What saving a checkpoint every epoch costs a short sweep: --hypothesis=h1 on a data folder,
# alternately with a save at every epoch (--config.checkpoint_min_seconds=0) and with none
# (--config.checkpoint_every=1000), ROUNDS times each, printing the launcher's "(N s in all)".
#
# Usage: bash benchmarks/checkpoint_cost.sh DATA_DIR "CATEGORIES" [ROWS] [ROUNDS]
set -euo pipefail
data=${1:?usage: benchmarks/checkpoint_cost.sh DATA_DIR CATEGORIES [ROWS] [ROUNDS]}
categories=${2:?usage: benchmarks/checkpoint_cost.sh DATA_DIR CATEGORIES [ROWS] [ROUNDS]}
rows=${3:-3000}
rounds=${4:-3}
py=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for round in $(seq "$rounds"); do
  for mode in every-epoch none; do
    case $mode in
      every-epoch) flag=--config.checkpoint_min_seconds=0 ;;
      none) flag=--config.checkpoint_every=1000 ;;
    esac
    "$py" -m qd_jax.launch --hypothesis=h1 "--data_dir=$data" "--categories=$categories" \
      "--config.rows_per_category=$rows" --config.download=false "$flag" \
      "--workdir=$tmp/$mode-$round" >"$tmp/log" 2>&1
    echo "round $round, checkpoints $mode: $(grep -o '([0-9]* s in all)' "$tmp/log")"
  done
done
