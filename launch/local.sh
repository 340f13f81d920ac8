#!/usr/bin/env bash
# Runs one hypothesis as a batch job on this machine and keeps its console log in the workdir.
# Prerequisites: `pip install -e .` in this checkout; the data folder (default: $QD_DATA_DIR).
# Usage: launch/local.sh h2 runs/h2-local [more qd_jax.launch flags...]
# Rerunning the same line on the same workdir skips the runs already in runs.jsonl.
set -euo pipefail
hypothesis=${1:?usage: launch/local.sh HYPOTHESIS WORKDIR [flags...]}
workdir=${2:?usage: launch/local.sh HYPOTHESIS WORKDIR [flags...]}
shift 2
mkdir -p "$workdir"
python -m qd_jax.launch --hypothesis="$hypothesis" --workdir="$workdir" "$@" 2>&1 | tee -a "$workdir/console.log"
