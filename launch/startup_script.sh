#!/usr/bin/env bash
# Startup script of the GPU VM that launch/gcp_gpu_vm.sh creates: one qd_jax hypothesis as a batch job.
#
# Prerequisites (on the VM; the Deep Learning VM images have them): an NVIDIA driver, gcloud,
# systemd, curl, flock, Python >= 3.11 with venv (Ubuntu 24.04 images), internet access for pip
# (an external IP or Cloud NAT), and a service account allowed to use the bucket (and to delete
# the VM, for the self-delete at the end).
#
# Compute Engine runs it as root on every boot (metadata key `startup-script`). Its settings come
# from the metadata key `qd-config`, lines of key=value written by gcp_gpu_vm.sh:
#   project, zone, vm_name, job_url (gs://.../jobs/NAME), data_url (gs://.../data), hypothesis,
#   source (`checkout`, or a pip git URL: git+https://host/org/repo[@ref]), sync_minutes,
#   self_delete (1/0), cache_url (optional: gs://.../cache), and repeatable `arg=--flag=value`
#   (extra qd_jax.launch flags, one per line) and `env=NAME=VALUE` (environment of the job, e.g.
#   env=XLA_PYTHON_CLIENT_MEM_FRACTION=.9).
#
# Phase `boot` (the default) copies this script and the config under /var/lib/qd_jax and hands the
# job to a systemd unit, qd-job.service, then returns. Why a unit of its own: the service that runs
# startup scripts stops with KillMode=process, so a job left under it would not get SIGTERM at
# shutdown. qd-job.service has KillMode=mixed: when Spot preempts the VM, the guest gets an ACPI
# shutdown, systemd sends SIGTERM to this script, which passes it to qd_jax; qd_jax saves a
# checkpoint at the next epoch boundary and exits 143, and the script mirrors the workdir to the
# bucket with the seconds that are left (TimeoutStopSec=25 of the ~30 s notice).
#
# Phase `job` (inside qd-job.service), in order:
#   1. venv /var/lib/qd_jax/venv with qd_jax[cuda]: from the checkout the launcher uploaded to
#      JOB_URL/src.tar.gz, or pip-installed from the git URL; once per disk.
#   2. data:    DATA_URL -> /var/lib/qd_jax/data (no delete; qd_jax downloads what is missing);
#      caches:  CACHE_URL -> ~/.cache/qd_jax (XLA's compiled programs, autotune's timings).
#   3. workdir: JOB_URL/workdir -> /var/lib/qd_jax/work/NAME, on the first boot of this disk only:
#      after that the local disk is at least as new as the bucket (the bucket is only ever
#      written from it), and a restart after a Spot stop (STOP action) keeps the disk.
#   4. python -m qd_jax.launch --hypothesis=H --workdir=LOCAL --data_dir=LOCAL_DATA [args], with
#      its output in LOCAL/console.log; the workdir is mirrored to JOB_URL/workdir every
#      sync_minutes while it runs.
#   5. final mirror; the caches go back to CACHE_URL (the next job loads what this one compiled);
#      on success the data folder goes back to DATA_URL (caching downloads),
#      JOB_URL/status becomes `done` and the VM deletes itself (powers off if it may not);
#      on failure JOB_URL/status becomes `failed: ...` and the VM powers off (no GPU billing).
#      After a preemption the status stays `running`: gcp_gpu_vm.sh restarts the VM.
#
# Off Google Cloud, to see what it would do:
#   QD_DRY_RUN=1 QD_CONFIG=FILE launch/startup_script.sh job   (prints the commands, runs none)
set -euo pipefail

readonly ROOT=${QD_ROOT:-/var/lib/qd_jax}
readonly DRY_RUN=${QD_DRY_RUN:-0}
readonly METADATA_URL=http://metadata.google.internal/computeMetadata/v1/instance/attributes/qd-config
# systemd units start with a minimal PATH and no HOME; gcloud lives under /snap/bin on Ubuntu images.
export PATH="$PATH:/snap/bin:/usr/lib/google-cloud-sdk/bin:/usr/local/bin"
export HOME=${HOME:-/root}

log() { printf 'qd-job: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# q and show are launch/common.sh's: the VM receives this file alone, so it cannot source that one.
# tests/test_launch_scripts.py keeps the two copies identical.
q() {  # one shell word, quoted only when it needs it
  if [[ $1 =~ ^[A-Za-z0-9_./:=@%+,^-]+$ ]]; then
    printf '%s' "$1"
  else
    printf "'%s'" "${1//\'/\'\\\'\'}"
  fi
}

show() {
  local words=() w
  for w in "$@"; do words+=("$(q "$w")"); done
  printf '%s\n' "${words[*]}"
}

run() {  # run a command, or print it under QD_DRY_RUN=1
  if [[ $DRY_RUN == 1 ]]; then show "$@"; else "$@"; fi
}

note() {  # a comment in the dry-run listing
  if [[ $DRY_RUN == 1 ]]; then printf '# %s\n' "$*"; else log "$*"; fi
}

cfg_project='' cfg_zone='' cfg_vm_name='' cfg_job_url='' cfg_data_url='' cfg_hypothesis=''
cfg_source=checkout cfg_sync_minutes=10 cfg_self_delete=1 cfg_cache_url=''
args=() envs=()

load_config() {  # $1: a file of key=value lines
  local line key value
  while IFS= read -r line || [[ -n $line ]]; do
    [[ -z $line || $line == \#* ]] && continue
    key=${line%%=*}
    value=${line#*=}
    case $key in
      arg) args+=("$value") ;;
      env) envs+=("$value") ;;
      project | zone | vm_name | job_url | data_url | hypothesis | source | sync_minutes | self_delete | cache_url)
        printf -v "cfg_$key" '%s' "$value" ;;
      *) die "unknown key '$key' in the qd-config metadata" ;;
    esac
  done <"$1"
  local need
  for need in project zone vm_name job_url data_url hypothesis; do
    local var="cfg_$need"
    [[ -n ${!var} ]] || die "qd-config lacks '$need'"
  done
  [[ $cfg_sync_minutes =~ ^[1-9][0-9]*$ ]] || die "sync_minutes must be a positive integer"
}

config_file() {  # where the job's config is: QD_CONFIG, else fetched from the metadata server
  if [[ -n ${QD_CONFIG:-} ]]; then
    printf '%s' "$QD_CONFIG"
  else
    mkdir -p "$ROOT"
    curl -fsS --retry 5 -H 'Metadata-Flavor: Google' "$METADATA_URL" -o "$ROOT/config" ||
      die "cannot read the qd-config metadata"
    printf '%s' "$ROOT/config"
  fi
}

boot() {
  local config
  config=$(config_file)
  load_config "$config"  # fail here, in the startup log, on a bad config
  if [[ $DRY_RUN != 1 ]]; then
    mkdir -p "$ROOT"
    [[ $config == "$ROOT/config" ]] || cp "$config" "$ROOT/config"
    install -m 0755 "${BASH_SOURCE[0]}" "$ROOT/startup_script.sh"
    if systemctl is-active --quiet qd-job.service; then
      log "qd-job.service is already running"
      return 0
    fi
    systemctl reset-failed qd-job.service 2>/dev/null || true
  fi
  note "boot: hand the job to its own systemd unit, so the shutdown before a preemption sends it SIGTERM"
  run systemd-run --unit=qd-job --collect \
    --property=KillMode=mixed --property=TimeoutStopSec=25 \
    --property=Wants=network-online.target --property=After=network-online.target \
    --property=StandardOutput=journal+console --property=StandardError=journal+console \
    --setenv=QD_CONFIG="$ROOT/config" --setenv=HOME=/root \
    /bin/bash "$ROOT/startup_script.sh" job
}

# --- the job -------------------------------------------------------------------------------------

workdir='' data_dir='' venv="$ROOT/venv"
# config.compilation_cache_dir's default is under it, and autotune's timings (CPU VMs).
cache_dir="$HOME/.cache/qd_jax"
terminating=0 finished=0 job_pid='' syncer_pid=''

in_bucket() {  # does a gs:// prefix hold anything? (assumed yes in a dry run)
  [[ $DRY_RUN == 1 ]] && return 0
  [[ -n $(gcloud storage ls "$1" 2>/dev/null | head -n 1) ]]
}

set_status() {
  note "status: $1"
  if [[ $DRY_RUN == 1 ]]; then
    printf '%s | %s\n' "$(show printf '%s\n' "$1")" "$(show gcloud storage cp - "$cfg_job_url/status" --quiet)"
  else
    printf '%s\n' "$1" | gcloud storage cp - "$cfg_job_url/status" --quiet ||
      log "could not write $cfg_job_url/status"
  fi
}

sync_up() {  # mirror the local workdir to the bucket; one at a time
  run flock "$ROOT/sync.lock" gcloud storage rsync --recursive --delete-unmatched-destination-objects \
    "$workdir" "$cfg_job_url/workdir"
}

pick_python() {  # qd_jax needs Python >= 3.11
  local p
  if [[ $DRY_RUN == 1 ]]; then printf 'python3'; return 0; fi
  for p in python3.13 python3.12 python3.11 python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      printf '%s' "$p"
      return 0
    fi
  done
  die "no Python >= 3.11 on this image; pick an Ubuntu 24.04 image family (--image-family)"
}

install_qd_jax() {
  if [[ $DRY_RUN != 1 && -x $venv/bin/python && -f $ROOT/installed && $(<"$ROOT/installed") == "$cfg_source" ]]; then
    log "qd_jax is installed (from $cfg_source)"
    return 0
  fi
  local py
  py=$(pick_python)
  note "install qd_jax[cuda] into $venv (jax's CUDA wheels; the image brings the NVIDIA driver)"
  if [[ $DRY_RUN != 1 ]] && ! "$py" -m venv "$venv"; then
    apt-get update -q && apt-get install -y -q "$(basename "$py")-venv"
  fi
  run "$py" -m venv "$venv"
  run "$venv/bin/python" -m pip install --quiet --upgrade pip
  if [[ $cfg_source == checkout ]]; then
    run gcloud storage cp "$cfg_job_url/src.tar.gz" "$ROOT/src.tar.gz"
    run rm -rf "$ROOT/src"
    run mkdir -p "$ROOT/src"
    run tar -xzf "$ROOT/src.tar.gz" -C "$ROOT/src"
    run "$venv/bin/python" -m pip install --quiet "$ROOT/src[cuda]"
  else
    run "$venv/bin/python" -m pip install --quiet "qd_jax[cuda] @ $cfg_source"
  fi
  if [[ $DRY_RUN != 1 ]]; then printf '%s\n' "$cfg_source" >"$ROOT/installed"; fi
}

on_term() {
  terminating=1
  log "SIGTERM (shutdown or preemption): passing it to qd_jax, which saves and exits"
  if [[ -n $job_pid ]]; then kill -TERM "$job_pid" 2>/dev/null || true; fi
}

on_exit() {  # an unexpected end of the job (setup failed): say so, and stop paying for the GPU
  local rc=$?
  [[ $finished == 1 || $terminating == 1 || $DRY_RUN == 1 ]] && return 0
  set_status "failed: setup (exit $rc), see journalctl -u qd-job on the VM"
  systemctl poweroff || true
}

job() {
  load_config "$(config_file)"
  local name=${cfg_job_url##*/}
  workdir="$ROOT/work/$name"
  data_dir="$ROOT/data"
  local e
  for e in "${envs[@]}"; do export "${e?}"; done
  if (( ${#envs[@]} )); then note "environment: ${envs[*]}"; fi
  trap on_exit EXIT
  trap on_term TERM

  install_qd_jax

  note "data: $cfg_data_url -> $data_dir"
  run mkdir -p "$data_dir" "$workdir"
  if in_bucket "$cfg_data_url/"; then
    run gcloud storage rsync --recursive "$cfg_data_url" "$data_dir"
  else
    log "nothing under $cfg_data_url yet: qd_jax downloads the categories it needs"
  fi

  if [[ -n $cfg_cache_url ]]; then
    note "caches: $cfg_cache_url -> $cache_dir (what earlier jobs compiled and timed)"
    run mkdir -p "$cache_dir"
    if in_bucket "$cfg_cache_url/"; then run gcloud storage rsync --recursive "$cfg_cache_url" "$cache_dir"; fi
  fi

  note "workdir: $cfg_job_url/workdir -> $workdir (first boot of this disk only; later boots resume from the disk)"
  if [[ $DRY_RUN == 1 || ! -e "$ROOT/restored-$name" ]]; then
    if in_bucket "$cfg_job_url/workdir/"; then
      run gcloud storage rsync --recursive "$cfg_job_url/workdir" "$workdir"
    fi
    if [[ $DRY_RUN != 1 ]]; then touch "$ROOT/restored-$name"; fi
  fi
  if [[ $terminating == 1 ]]; then finished=1; exit 0; fi  # stopped during the setup
  set_status running

  local cmd=("$venv/bin/python" -m qd_jax.launch --hypothesis="$cfg_hypothesis" --workdir="$workdir"
             --data_dir="$data_dir" "${args[@]}")
  local rc=0
  if [[ $DRY_RUN == 1 ]]; then
    note "run (output appended to $workdir/console.log; rerunning it resumes from the workdir):"
    show "${cmd[@]}"
    note "meanwhile, every $cfg_sync_minutes min:"
    sync_up
    note "on SIGTERM: kill -TERM <qd_jax>, wait for its save (exit 143), mirror once more, stop (status stays running)"
    note "on another exit status N: mirror, status 'failed: qd_jax.launch exit N', systemctl poweroff"
  else
    (
      sleeper=''
      trap 'if [[ -n $sleeper ]]; then kill "$sleeper" 2>/dev/null; fi; exit 0' TERM
      while true; do
        sleep "$((cfg_sync_minutes * 60))" &
        sleeper=$!
        wait "$sleeper"
        sync_up || log "sync failed; retrying later"
      done
    ) &
    syncer_pid=$!
    cd "$ROOT"
    log "running: $(show "${cmd[@]}")"
    "${cmd[@]}" >>"$workdir/console.log" 2>&1 &
    job_pid=$!
    while true; do  # a trapped SIGTERM interrupts wait; wait again until qd_jax has saved and exited
      if wait "$job_pid"; then rc=0; else rc=$?; fi
      kill -0 "$job_pid" 2>/dev/null || break
    done
    kill "$syncer_pid" 2>/dev/null || true
    wait "$syncer_pid" 2>/dev/null || true
  fi

  if [[ $terminating == 1 ]]; then  # preempted or stopped: keep the status `running`, save what we can
    sync_up || true
    finished=1
    exit 0
  fi
  note "mirror the workdir one last time"
  sync_up
  if [[ -n $cfg_cache_url ]]; then
    note "caches: $cache_dir -> $cfg_cache_url, for the next job"
    run gcloud storage rsync --recursive "$cache_dir" "$cfg_cache_url" || log "could not save the caches"
  fi
  if [[ $rc != 0 ]]; then
    set_status "failed: qd_jax.launch exit $rc, see workdir/console.log"
    finished=1
    run systemctl poweroff
    exit 0
  fi
  note "success: cache the data folder in the bucket, mark the job done, delete this VM"
  run gcloud storage rsync --recursive "$data_dir" "$cfg_data_url"
  set_status "done"
  finished=1
  if [[ $cfg_self_delete == 1 ]]; then
    run gcloud compute instances delete "$cfg_vm_name" --project="$cfg_project" --zone="$cfg_zone" --quiet ||
      run systemctl poweroff
  else
    run systemctl poweroff
  fi
}

case ${1:-boot} in
  boot) boot ;;
  job) job ;;
  *) die "usage: startup_script.sh [boot|job]" ;;
esac
