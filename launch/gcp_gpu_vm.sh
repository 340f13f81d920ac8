#!/usr/bin/env bash
# One qd_jax hypothesis as a batch job on a Google Cloud Spot GPU VM, from creation to results.
#
# Prerequisites (on the machine that runs this script):
#   - the Google Cloud SDK (`gcloud`), logged in: `gcloud auth login`;
#   - a project with billing, the Compute Engine API enabled, and GPU quota in the zone for the
#     chosen GPU as a Spot VM (quota names like PREEMPTIBLE_NVIDIA_L4_GPUS, plus GPUS_ALL_REGIONS);
#   - a Cloud Storage bucket the VM's service account can read and write (the default compute
#     service account, with --scopes=cloud-platform, as this script asks); for the VM to delete
#     itself at the end, that account also needs compute.instances.delete (Editor has it);
#   - git, tar, bash >= 4 (for --source=checkout, the default: the checkout this script is in is
#     uploaded, uncommitted edits included; ignored files such as runs/ and *.npy stay behind).
#
# What it does, in order (--dry-run prints exactly this sequence and runs none of it):
#   1. [--data-dir] upload a local data folder to gs://BUCKET/data;
#   2. [--source=checkout] pack the checkout, upload it to gs://BUCKET/jobs/NAME/src.tar.gz;
#   3. create a Spot VM from a Deep Learning VM image (CUDA driver) with launch/startup_script.sh
#      and its settings (metadata qd-config); on the VM, every boot: install qd_jax[cuda], sync
#      the data, gs://BUCKET/cache (what earlier jobs compiled) and the workdir from the bucket,
#      run `python -m qd_jax.launch --hypothesis=H --workdir=LOCAL ...`, mirror the workdir to the
#      bucket every --sync-minutes and at the end, the cache at the end, write
#      gs://BUCKET/jobs/NAME/status, and on success delete itself;
#   4. watch: poll the VM and the status every --poll seconds; when Spot has stopped the VM, start
#      it again (the job resumes from its disk); when the VM is gone before the job finished
#      (--termination-action=DELETE, or deleted by hand), create it again (the job resumes from
#      the bucket's workdir);
#   5. copy the workdir back: gcloud storage rsync gs://BUCKET/jobs/NAME/workdir ./runs/NAME;
#   6. delete the VM if it still exists.
# Interrupted (Ctrl-C, laptop closed)? The VM goes on; rerun the same command with --resume.
#
# Spot and --termination-action: STOP (the default) keeps the boot disk when Spot reclaims the VM;
# you pay for the disk, not the GPU, while it is stopped, and the restarted job resumes from the
# checkpoint it saved on that disk during the ~30 s notice, even when the last upload did not
# finish. DELETE leaves nothing to pay for, but a new VM must reinstall everything and resumes from
# the last workdir mirror in the bucket, losing up to --sync-minutes of training.
set -euo pipefail

readonly PROG=${0##*/}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly HERE
readonly REPO=${HERE%/*}
readonly STARTUP_SCRIPT="$HERE/startup_script.sh"
readonly HYPOTHESES="h1 h2 h3 h4 h5 h6 all"

usage() {
  cat <<EOF
usage: $PROG --project=P --zone=Z --bucket=B --hypothesis=H [options]

Runs \`python -m qd_jax.launch --hypothesis=H\` on a Spot GPU VM, restarts it after preemptions,
copies the workdir back to ./runs/NAME and deletes the VM. Values go as --flag=value or --flag value.

required:
  --project=ID             Google Cloud project
  --zone=ZONE              e.g. us-central1-a (must offer the GPU)
  --bucket=gs://B[/PREFIX] bucket (and optional prefix) for data, code, workdir and status
  --hypothesis=H           one of: $HYPOTHESES
options:
  --machine-type=TYPE      default g2-standard-8 (G2 machine types come with NVIDIA L4s)
  --gpu=TYPE               default nvidia-l4; \`none\` leaves out --accelerator
  --gpu-count=N            default 1
  --workdir-name=NAME      default: the hypothesis; the job's folder in the bucket and under ./runs
                           (the same name resumes the same workdir; use a new one for a new run)
  --extra-flags='FLAGS'    more qd_jax.launch flags, quoted as in a shell, e.g.
                           --extra-flags='--quick --categories="cat,smiley face" --config.epochs=5'
  --source=SRC             \`checkout\` (default: upload this checkout) or a pip git URL,
                           git+https://github.com/ORG/REPO[@REF]
  --data-dir=DIR           upload this local folder of <category>.npy files to gs://BUCKET/data first
                           (without it the VM uses what is there, and qd_jax downloads the rest)
  --env=NAME=VALUE         environment of the job on the VM (repeatable),
                           e.g. --env=XLA_PYTHON_CLIENT_MEM_FRACTION=.9
  --termination-action=A   STOP (default) or DELETE: what Spot does to the VM on preemption
  --image-family=F         default common-cu129-ubuntu-2404-nvidia-580 (needs Python >= 3.11)
  --image-project=P        default deeplearning-platform-release
  --disk-size=SIZE         boot disk, default 100GB
  --service-account=EMAIL  the VM's service account (default: the project's compute account)
  --vm-name=NAME           default qd-<workdir-name>
  --results-dir=DIR        default runs/<workdir-name>
  --sync-minutes=N         workdir mirror period on the VM, default 10
  --poll=SECONDS           watch period, default 60
  --resume                 skip the uploads; start, recreate or just watch the VM, then finish
  --detach                 return after creating the VM (finish later with --resume)
  --keep-vm                do not delete the VM when the job failed (for debugging)
  --dry-run                print every command, in order, with the startup script; run none
  -h, --help               this help
EOF
}

# shellcheck source=launch/common.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# --- flags ---------------------------------------------------------------------------------------

project='' zone='' bucket='' hypothesis='' machine_type=g2-standard-8 gpu=nvidia-l4 gpu_count=1
workdir_name='' extra_flags='' source_spec=checkout data_dir='' termination_action=STOP
image_family=common-cu129-ubuntu-2404-nvidia-580 image_project=deeplearning-platform-release
disk_size=100GB service_account='' vm_name='' results_dir='' sync_minutes=10 poll=60
resume=0 detach=0 keep_vm=0 dry_run=0
envs=()

original_args=()  # for the --resume hint
for a in "$@"; do
  case $a in --detach | --dry-run | --resume) ;; *) original_args+=("$(q "$a")") ;; esac
done

while (($#)); do
  arg=$1
  shift
  case $arg in
    -h | --help) usage; exit 0 ;;
    --resume) resume=1; continue ;;
    --detach) detach=1; continue ;;
    --keep-vm) keep_vm=1; continue ;;
    --dry-run) dry_run=1; continue ;;
    --*=*) name=${arg%%=*} value=${arg#*=} ;;
    --*)
      name=$arg
      case $name in
        --project | --zone | --bucket | --hypothesis | --machine-type | --gpu | --gpu-count | \
          --workdir-name | --extra-flags | --source | --data-dir | --env | --termination-action | \
          --image-family | --image-project | --disk-size | --service-account | --vm-name | \
          --results-dir | --sync-minutes | --poll) ;;
        *) fail "unknown flag $arg" ;;
      esac
      (($#)) || fail "$name needs a value"
      value=$1
      shift
      ;;
    *) fail "unexpected argument '$arg'; flags take the form --name=value" ;;
  esac
  case $name in
    --project) project=$value ;;
    --zone) zone=$value ;;
    --bucket) bucket=$value ;;
    --hypothesis) hypothesis=$value ;;
    --machine-type) machine_type=$value ;;
    --gpu) gpu=$value ;;
    --gpu-count) gpu_count=$value ;;
    --workdir-name) workdir_name=$value ;;
    --extra-flags) extra_flags=$value ;;
    --source) source_spec=$value ;;
    --data-dir) data_dir=$value ;;
    --env) envs+=("$value") ;;
    --termination-action) termination_action=${value^^} ;;
    --image-family) image_family=$value ;;
    --image-project) image_project=$value ;;
    --disk-size) disk_size=$value ;;
    --service-account) service_account=$value ;;
    --vm-name) vm_name=$value ;;
    --results-dir) results_dir=$value ;;
    --sync-minutes) sync_minutes=$value ;;
    --poll) poll=$value ;;
    *) fail "unknown flag $name" ;;
  esac
done

[[ -n $project ]] || fail "--project is required"
[[ -n $zone ]] || fail "--zone is required"
[[ -n $bucket ]] || fail "--bucket is required"
[[ -n $hypothesis ]] || fail "--hypothesis is required (one of: $HYPOTHESES)"
[[ " $HYPOTHESES " == *" $hypothesis "* ]] || fail "--hypothesis=$hypothesis is not one of: $HYPOTHESES"
[[ $project =~ ^[a-z][a-z0-9:.-]*[a-z0-9]$ ]] || fail "--project=$project is not a project id"
[[ $zone =~ ^[a-z]+-[a-z]+[0-9]+-[a-z]$ ]] || fail "--zone=$zone is not a zone such as us-central1-a"
[[ $machine_type =~ ^[a-z0-9-]+$ ]] || fail "--machine-type=$machine_type is not a machine type"
[[ $gpu =~ ^[a-z0-9-]+$ ]] || fail "--gpu=$gpu is not an accelerator type such as nvidia-l4"
[[ $gpu_count =~ ^[1-9][0-9]*$ ]] || fail "--gpu-count must be a positive integer"
[[ $sync_minutes =~ ^[1-9][0-9]*$ ]] || fail "--sync-minutes must be a positive integer"
[[ $poll =~ ^[1-9][0-9]*$ ]] || fail "--poll must be a positive integer (seconds)"
[[ $termination_action == STOP || $termination_action == DELETE ]] ||
  fail "--termination-action must be STOP or DELETE"
[[ $disk_size =~ ^[1-9][0-9]*(GB|TB)$ ]] || fail "--disk-size must look like 100GB"

bucket=${bucket%/}
[[ $bucket == gs://* ]] || bucket="gs://$bucket"
[[ $bucket =~ ^gs://[a-z0-9][a-z0-9._-]{1,221}[a-z0-9](/[A-Za-z0-9._/-]+)?$ ]] ||
  fail "--bucket=$bucket is not a bucket name (gs://NAME or gs://NAME/PREFIX)"

workdir_name=${workdir_name:-$hypothesis}
[[ $workdir_name =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] ||
  fail "--workdir-name=$workdir_name: use letters, digits, '.', '_' and '-'"
if [[ -z $vm_name ]]; then
  vm_name=$(printf 'qd-%s' "$workdir_name" | tr '[:upper:]' '[:lower:]' | tr '._' '--')
  vm_name=${vm_name:0:63}
  vm_name=${vm_name%-}
fi
[[ $vm_name =~ ^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$ ]] ||
  fail "--vm-name=$vm_name is not a valid instance name (lowercase letters, digits, '-')"
results_dir=${results_dir:-runs/$workdir_name}

if [[ $source_spec != checkout && ! $source_spec =~ ^git\+(https|ssh)://[^[:space:],]+$ ]]; then
  fail "--source must be 'checkout' or git+https://HOST/ORG/REPO[@REF]"
fi
if [[ -n $data_dir && ! -d $data_dir ]]; then fail "--data-dir=$data_dir is not a folder"; fi
for e in "${envs[@]}"; do
  [[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*=[^[:cntrl:]]*$ ]] || fail "--env=$e must look like NAME=VALUE"
done

# The extra flags, split as a shell would (quotes kept together), each a --flag for qd_jax.launch.
extra_args=()
if [[ -n ${extra_flags//[[:space:]]/} ]]; then
  if ! split=$(printf '%s' "$extra_flags" | xargs printf '%s\n' 2>/dev/null); then
    fail "--extra-flags has unbalanced quotes: $extra_flags"
  fi
  mapfile -t extra_args <<<"$split"
fi
for a in "${extra_args[@]}"; do
  [[ $a == --* ]] || fail "--extra-flags: '$a' is not a --flag of qd_jax.launch"
  case ${a%%=*} in
    --hypothesis | --workdir | --data_dir)
      fail "--extra-flags: ${a%%=*} is set by this script (use --hypothesis / --workdir-name / --data-dir)" ;;
    --coordinator_address | --num_processes | --process_id)
      fail "--extra-flags: ${a%%=*} is for multi-host runs (launch/multihost.sh), not one VM" ;;
  esac
done

if ((!dry_run)) && ! command -v gcloud >/dev/null; then
  log "error: gcloud is not installed (https://cloud.google.com/sdk/docs/install)"
  exit 1
fi
if ((!dry_run && !resume)) && [[ $source_spec == checkout ]] && ! git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
  log "error: $REPO is not a git checkout; pass --source=git+https://..."
  exit 1
fi

[[ $STARTUP_SCRIPT != *,* ]] || { log "error: the checkout's path has a comma, which --metadata-from-file cannot take"; exit 1; }

readonly job_url="$bucket/jobs/$workdir_name"
readonly data_url="$bucket/data"
readonly cache_url="$bucket/cache"  # XLA's compiled programs (and autotune's timings), job to job
readonly scope=(--project="$project" --zone="$zone")

# --- running, or printing ------------------------------------------------------------------------

run() {  # run a command, or print it under --dry-run
  if ((dry_run)); then show "$@"; else "$@"; fi
}
section() {
  if ((dry_run)); then printf '\n# === %s\n' "$*"; else log "$*"; fi
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qd-gcp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
readonly config="$tmp/qd-config"
{
  printf '%s\n' "project=$project" "zone=$zone" "vm_name=$vm_name" "job_url=$job_url" \
    "data_url=$data_url" "hypothesis=$hypothesis" "source=$source_spec" \
    "sync_minutes=$sync_minutes" "self_delete=1" "cache_url=$cache_url"
  for a in "${extra_args[@]}"; do printf 'arg=%s\n' "$a"; done
  for e in "${envs[@]}"; do printf 'env=%s\n' "$e"; done
} >"$config"

upload_data() {
  [[ -n $data_dir ]] || return 0
  section "upload the local data folder"
  run gcloud storage rsync --recursive "$data_dir" "$data_url"
}

upload_source() {
  [[ $source_spec == checkout ]] || return 0
  section "pack this checkout (tracked and untracked files, .gitignore respected) and upload it"
  if ((dry_run)); then
    printf '%s | %s\n' "$(show git -C "$REPO" ls-files -z --cached --others --exclude-standard)" \
      "$(show tar -C "$REPO" --null --files-from=- --ignore-failed-read -czf "$tmp/src.tar.gz")"
  else
    git -C "$REPO" ls-files -z --cached --others --exclude-standard |
      tar -C "$REPO" --null --files-from=- --ignore-failed-read -czf "$tmp/src.tar.gz"
  fi
  run gcloud storage cp "$tmp/src.tar.gz" "$job_url/src.tar.gz"
}

create_vm() {
  local cmd=(gcloud compute instances create "$vm_name" "${scope[@]}"
    --machine-type="$machine_type")
  [[ $gpu == none ]] || cmd+=(--accelerator="type=$gpu,count=$gpu_count")
  cmd+=(--provisioning-model=SPOT --instance-termination-action="$termination_action"
    --maintenance-policy=TERMINATE
    --image-family="$image_family" --image-project="$image_project"
    --boot-disk-size="$disk_size" --scopes=cloud-platform
    --labels="qd-job=$vm_name"
    --metadata=install-nvidia-driver=True
    --metadata-from-file="startup-script=$STARTUP_SCRIPT,qd-config=$config")
  [[ -z $service_account ]] || cmd+=(--service-account="$service_account")
  run "${cmd[@]}"
}

print_vm_side() {  # the startup script, its settings, and what it runs on the VM (dry run only)
  section "metadata startup-script = $STARTUP_SCRIPT:"
  sed 's/^/#| /' "$STARTUP_SCRIPT"
  section "metadata qd-config:"
  sed 's/^/#| /' "$config"
  section "on the VM, at every boot (the startup script's own dry run):"
  QD_DRY_RUN=1 QD_CONFIG="$config" bash "$STARTUP_SCRIPT" boot
  section "on the VM, inside qd-job.service:"
  QD_DRY_RUN=1 QD_CONFIG="$config" bash "$STARTUP_SCRIPT" job
}

vm_state() {  # RUNNING, TERMINATED, ...; empty when the VM does not exist
  gcloud compute instances list --project="$project" --zones="$zone" \
    --filter="name=($vm_name)" --format='value(status)'
}
job_status() {  # running, done, failed: ...; empty before the job started
  gcloud storage cat "$job_url/status" 2>/dev/null | head -n 1 || true
}

status=''
watch_job() {
  section "watch every $poll s until $job_url/status is done or failed"
  if ((dry_run)); then
    show gcloud compute instances list --project="$project" --zones="$zone" \
      --filter="name=($vm_name)" --format='value(status)'
    show gcloud storage cat "$job_url/status"
    printf '#   VM TERMINATED (stopped by Spot) and the job not finished: start it; the job resumes from its disk\n'
    show gcloud compute instances start "$vm_name" "${scope[@]}"
    printf '#   VM gone (DELETE action, or deleted by hand) and the job not finished: the create command\n'
    printf '#   above again; the new VM resumes from %s/workdir\n' "$job_url"
    status="done"
    return 0
  fi
  trap 'log "stopped watching; the VM goes on. Resume with: $0 ${original_args[*]} --resume"; exit 130' INT TERM
  local state last='' started=$SECONDS warned=0
  while true; do
    status=$(job_status)
    case $status in done | failed*) break ;; esac
    if ! state=$(vm_state); then
      log "could not list the VM (network or credentials?); retrying in $poll s"
      sleep "$poll"
      continue
    fi
    [[ "$state/$status" == "$last" ]] || log "VM ${state:-absent}, job ${status:-starting}"
    if ((!warned && SECONDS - started > 1800)) && [[ $state == RUNNING && $status == created ]]; then
      log "the job has not started after 30 min; see: gcloud compute instances get-serial-port-output $vm_name --project=$project --zone=$zone"
      warned=1
    fi
    last="$state/$status"
    case $state in
      TERMINATED | STOPPED | SUSPENDED)
        log "the VM is $state (Spot preemption?): starting it again"
        gcloud compute instances start "$vm_name" "${scope[@]}" ||
          log "start failed (no Spot capacity right now?); retrying in $poll s"
        ;;
      '')
        log "the VM is gone but the job has not finished: creating it again (it resumes from the bucket)"
        create_vm || log "create failed (no Spot capacity right now?); retrying in $poll s"
        ;;
    esac
    sleep "$poll"
  done
  trap - INT TERM
  log "job: $status"
}

finish() {
  section "copy the results back"
  run mkdir -p "$results_dir"
  run gcloud storage rsync --recursive "$job_url/workdir" "$results_dir"
  section "delete the VM (when it has not deleted itself)"
  if ((dry_run)); then
    run gcloud compute instances delete "$vm_name" "${scope[@]}" --quiet
    return 0
  fi
  if [[ $status == failed* ]]; then
    log "the job failed: $status"
    if [[ -f $results_dir/console.log ]]; then tail -n 20 "$results_dir/console.log" >&2; fi
    if ((keep_vm)); then
      log "kept the (stopped) VM $vm_name; delete it with: gcloud compute instances delete $vm_name --project=$project --zone=$zone"
      return 0
    fi
  fi
  if [[ -n $(vm_state || true) ]]; then
    gcloud compute instances delete "$vm_name" "${scope[@]}" --quiet || log "could not delete $vm_name; delete it by hand"
  fi
  log "results in $results_dir"
}

# --- main ----------------------------------------------------------------------------------------

if ((dry_run)); then
  printf '# %s: dry run; nothing below is executed\n' "$PROG"
fi
if ((resume)); then
  section "resume: look at the VM and the job, then act as the watch loop says"
else
  upload_data
  upload_source
  section "reset the job's status (a finished earlier job of the same name would end the watch at once)"
  if ((dry_run)); then
    printf '%s | %s\n' "$(show printf 'created\n')" "$(show gcloud storage cp - "$job_url/status" --quiet)"
  else
    printf 'created\n' | gcloud storage cp - "$job_url/status" --quiet
  fi
  section "create the Spot VM"
  create_vm || {
    log "error: could not create $vm_name; if it exists from an earlier start, add --resume"
    exit 1
  }
  if ((dry_run)); then print_vm_side; fi
  if ((detach)); then
    log "detached; finish with: $0 ${original_args[*]} --resume"
    exit 0
  fi
fi
watch_job
finish
if [[ $status == failed* ]]; then exit 1; fi
