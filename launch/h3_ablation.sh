#!/usr/bin/env bash
# H3's ablation: which of the authors' likely settings reproduces Fig. 8's overfitting (a 10-point
# gap between train and validation accuracy at 500 rows per category, epoch 10)? Each setting
# alone, then all together, at n = 500 and 5,000 with 3 seeds, one workdir per arm under ROOT;
# then `python -m analysis.ablation` writes ROOT/ABLATION.md. A rerun skips finished runs.
# Usage: launch/h3_ablation.sh DATA_DIR CATEGORIES ROOT [more qd_jax.launch flags...]
set -euo pipefail
usage="usage: launch/h3_ablation.sh DATA_DIR CATEGORIES ROOT [flags...]"
data_dir=${1:?$usage}
categories=${2:?$usage}
root=${3:?$usage}
shift 3
# arm name, then its overrides: Keras' initialisers, fit's default batch, the first N rows of each
# file, and train:validation 80:20 (test rows kept apart: 72% / 18% / 10%)
arms=(
  "baseline|"
  "keras_init|--config.init=keras"
  "batch_32|--config.batch_size=32"
  "first_rows|--config.row_order=first"
  "split_80_20|--config.val_fraction=0.18 --config.test_fraction=0.1"
  "all_four|--config.init=keras --config.batch_size=32 --config.row_order=first --config.val_fraction=0.18 --config.test_fraction=0.1"
)
mkdir -p "$root"
for arm in "${arms[@]}"; do
  name=${arm%%|*}
  read -r -a overrides <<< "${arm#*|}"
  python -m qd_jax.launch --hypothesis=h3 --data_dir="$data_dir" --categories="$categories" --seeds=3 \
    --config.rows_sweep=500,5000 --workdir="$root/$name" "${overrides[@]}" "$@" 2>&1 | tee -a "$root/console.log"
done
python -m analysis.ablation --root="$root"
