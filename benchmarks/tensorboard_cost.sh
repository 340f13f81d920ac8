#!/usr/bin/env bash
# What writing TensorBoard event files costs a short sweep: --hypothesis=h1 on a data folder,
# alternately with event files (the default) and with
# --notensorboard, ROUNDS times each, printing the launcher's "(N s in all)" and the whole
# process's wall time (Python start-up and imports included).
#
# Usage: bash benchmarks/tensorboard_cost.sh DATA_DIR "CATEGORIES" [ROWS] [ROUNDS]
set -euo pipefail
data=${1:?usage: benchmarks/tensorboard_cost.sh DATA_DIR CATEGORIES [ROWS] [ROUNDS]}
categories=${2:?usage: benchmarks/tensorboard_cost.sh DATA_DIR CATEGORIES [ROWS] [ROUNDS]}
rows=${3:-3000}
rounds=${4:-3}
py=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for round in $(seq "$rounds"); do
  for flag in --tensorboard --notensorboard; do
    start=$(date +%s%N)
    "$py" -m qd_jax.launch --hypothesis=h1 "--data_dir=$data" "--categories=$categories" \
      "--config.rows_per_category=$rows" --config.download=false "$flag" \
      "--workdir=$tmp/$flag-$round" >"$tmp/log" 2>&1
    wall=$(( ($(date +%s%N) - start) / 1000000 ))
    printf 'round %s, %s: %s, process %d.%02d s\n' "$round" "$flag" "$(grep -o '([0-9]* s in all)' "$tmp/log")" \
      $((wall / 1000)) $((wall % 1000 / 10))
  done
done
