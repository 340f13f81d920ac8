"""launch/gcp_gpu_vm.sh and the startup_script.sh it hands the VM: dry runs, flag errors, the watch
loop and the job phase, against fake `gcloud`, `systemctl` and `python` scripts first on PATH."""

import os
import signal
import subprocess
import tarfile
import time

import pytest

from conftest import fake_exe, run_script
from test_launch_scripts import GCP, STARTUP

GCP_REQUIRED = ["--project=my-proj", "--zone=us-central1-a", "--bucket=gs://my-bucket", "--hypothesis=h2"]


# --- gcp_gpu_vm.sh: dry run and flags --------------------------------------------------------------

def _index(lines, *needles, start=0):
  """Index of the first line at or after `start` that holds every needle."""
  for i in range(start, len(lines)):
    if all(n in lines[i] for n in needles):
      return i
  raise AssertionError(f"no line with {needles} after line {start}:\n" + "\n".join(lines))


def test_gcp_dry_run_prints_the_whole_sequence_in_order(no_gcloud):
  bin_dir, mark = no_gcloud
  out = run_script([GCP, "--dry-run", *GCP_REQUIRED, "--extra-flags=--quick --categories=\"smiley face,cat\"",
              "--env=XLA_PYTHON_CLIENT_MEM_FRACTION=.9"], bin_dir)
  assert out.returncode == 0, out.stderr
  assert not mark.exists(), "the dry run called gcloud"
  lines = out.stdout.splitlines()
  commands = [line for line in lines if not line.startswith("#")]

  upload = _index(commands, "gcloud storage cp", "gs://my-bucket/jobs/h2/src.tar.gz")
  create = _index(commands, "gcloud compute instances create qd-h2", start=upload)
  line = commands[create]
  for flag in ("--project=my-proj", "--zone=us-central1-a", "--machine-type=g2-standard-8",
               "--accelerator=type=nvidia-l4,count=1", "--provisioning-model=SPOT",
               "--instance-termination-action=STOP", "--image-project=deeplearning-platform-release",
               "--image-family=", "--scopes=cloud-platform",
               f"--metadata-from-file=startup-script={STARTUP},qd-config="):
    assert flag in line, (flag, line)
  # On the VM: install, data, caches and workdir from the bucket, the run, the mirror and the
  # caches back, self-delete.
  install = _index(commands, "pip install", "[cuda]", start=create)
  data = _index(commands, "gcloud storage rsync", "gs://my-bucket/data /var/lib/qd_jax/data", start=install)
  caches = _index(commands, "gcloud storage rsync", "gs://my-bucket/cache ", "/.cache/qd_jax", start=data)
  restore = _index(commands, "gcloud storage rsync", "gs://my-bucket/jobs/h2/workdir /var/lib/qd_jax/work/h2",
                   start=caches)
  run = _index(commands, "-m qd_jax.launch", "--hypothesis=h2", "--workdir=/var/lib/qd_jax/work/h2", start=restore)
  assert "--quick '--categories=smiley face,cat'" in commands[run]
  mirror = _index(commands, "gcloud storage rsync", "/var/lib/qd_jax/work/h2 gs://my-bucket/jobs/h2/workdir",
                  start=run)
  saved = _index(commands, "gcloud storage rsync", "/.cache/qd_jax gs://my-bucket/cache", start=mirror)
  done = _index(commands, "done", "gs://my-bucket/jobs/h2/status", start=saved)
  # Here: watch (restart after a Spot stop), copy back, delete.
  start_vm = _index(commands, "gcloud compute instances start qd-h2", start=done)
  copy_back = _index(commands, "gcloud storage rsync --recursive gs://my-bucket/jobs/h2/workdir runs/h2",
                     start=start_vm)
  _index(commands, "gcloud compute instances delete qd-h2", "--quiet", start=copy_back)
  # The startup script's text and its settings are printed too.
  assert "#| set -euo pipefail" in out.stdout
  assert "#| hypothesis=h2" in out.stdout and "#| arg=--categories=smiley face,cat" in out.stdout
  assert "#| env=XLA_PYTHON_CLIENT_MEM_FRACTION=.9" in out.stdout


def test_gcp_dry_run_options(no_gcloud, tmp_path):
  bin_dir, mark = no_gcloud
  out = run_script([GCP, "--dry-run", *GCP_REQUIRED, "--machine-type=n1-standard-8", "--gpu=nvidia-tesla-t4",
              "--gpu-count=2", "--termination-action=delete", "--workdir-name=h2-t4",
              "--source=git+https://github.com/example/qd_jax@v1", f"--data-dir={tmp_path}"], bin_dir)
  assert out.returncode == 0, out.stderr
  assert not mark.exists()
  text = out.stdout
  assert f"gcloud storage rsync --recursive {tmp_path} gs://my-bucket/data" in text
  assert "--accelerator=type=nvidia-tesla-t4,count=2" in text
  assert "--instance-termination-action=DELETE" in text
  assert "gcloud compute instances create qd-h2-t4 " in text
  assert "pip install --quiet 'qd_jax[cuda] @ git+https://github.com/example/qd_jax@v1'" in text
  assert "src.tar.gz" not in text.replace("#|", "").split("# === create")[0]  # no checkout upload
  assert "gs://my-bucket/jobs/h2-t4/workdir runs/h2-t4" in text


def test_gcp_resume_dry_run_only_watches(no_gcloud):
  bin_dir, mark = no_gcloud
  out = run_script([GCP, "--dry-run", "--resume", *GCP_REQUIRED], bin_dir)
  assert out.returncode == 0, out.stderr
  assert not mark.exists()
  assert "instances create" not in out.stdout.split("# === watch")[0]
  assert "gcloud compute instances start qd-h2" in out.stdout
  assert "gcloud storage rsync --recursive gs://my-bucket/jobs/h2/workdir runs/h2" in out.stdout


def test_gcp_help(no_gcloud):
  bin_dir, mark = no_gcloud
  out = run_script([GCP, "--help"], bin_dir)
  assert out.returncode == 0 and "--extra-flags" in out.stdout and "--dry-run" in out.stdout
  assert not mark.exists()


@pytest.mark.parametrize("args, message", [
    (GCP_REQUIRED[1:], "--project is required"),
    (GCP_REQUIRED[:3], "--hypothesis is required"),
    ([*GCP_REQUIRED[:3], "--hypothesis=h7"], "is not one of"),
    ([*GCP_REQUIRED, "--bogus=1"], "unknown flag --bogus"),
    ([*GCP_REQUIRED, "--gpu-count=0"], "--gpu-count"),
    ([*GCP_REQUIRED, "--gpu-count"], "needs a value"),
    ([*GCP_REQUIRED, "--termination-action=KEEP"], "STOP or DELETE"),
    ([*GCP_REQUIRED, "--extra-flags=--categories=\"cat"], "unbalanced quotes"),
    ([*GCP_REQUIRED, "--extra-flags=--workdir=/x"], "--workdir is set by this script"),
    ([*GCP_REQUIRED, "--extra-flags=quick"], "is not a --flag"),
    ([*GCP_REQUIRED, "--workdir-name=a/b"], "--workdir-name"),
    ([*GCP_REQUIRED, "--source=https://x"], "--source"),
    ([*GCP_REQUIRED, "--env=1X=2"], "NAME=VALUE"),
    ([*GCP_REQUIRED, "positional"], "unexpected argument"),
    (["--project=my-proj", "--zone=us-central1-a", "--bucket=gs://Bad Bucket", "--hypothesis=h2"], "--bucket"),
])
def test_gcp_bad_flags_one_line_exit_2(no_gcloud, args, message):
  bin_dir, mark = no_gcloud
  out = run_script([GCP, "--dry-run", *args], bin_dir)
  assert out.returncode == 2, (out.stdout, out.stderr)
  assert len(out.stderr.strip().splitlines()) == 1, out.stderr
  assert "error:" in out.stderr and message in out.stderr
  assert out.stdout == ""
  assert not mark.exists()


# --- gcp_gpu_vm.sh: the watch loop, against a fake gcloud -----------------------------------------

FAKE_GCLOUD = r"""
state=$FAKE_STATE
echo "$*" >>"$state/calls"
case "$1 $2 $3" in
  "compute instances create") echo RUNNING >"$state/vm"; touch "$state/created" ;;
  "compute instances list")
    n=$(cat "$state/lists" 2>/dev/null || echo 0); echo $((n + 1)) >"$state/lists"
    if [[ $n == 0 && -f $state/vm ]]; then echo TERMINATED >"$state/vm"; fi  # Spot stops it once
    cat "$state/vm" 2>/dev/null || true ;;
  "compute instances start") echo RUNNING >"$state/vm"; echo "$FAKE_FINAL" >"$state/status" ;;
  "compute instances delete") rm -f "$state/vm" ;;
  "storage cat "*) cat "$state/status" 2>/dev/null || exit 1 ;;
  "storage cp -") cat >"$state/status" ;;
  "storage cp "*) cp "$3" "$state/uploaded.tar.gz" ;;
  "storage rsync --recursive")
    if [[ $4 == gs://* ]]; then mkdir -p "$5"; echo results >"$5/summary.md"; echo boom >"$5/console.log"; fi ;;
  *) echo "fake gcloud: unexpected: $*" >&2; exit 9 ;;
esac
"""


def _fake_cloud(tmp_path, final_status):
  bin_dir = tmp_path / "bin"
  bin_dir.mkdir()
  state = tmp_path / "state"
  state.mkdir()
  fake_exe(bin_dir / "gcloud", FAKE_GCLOUD)
  return bin_dir, state, {"FAKE_STATE": str(state), "FAKE_FINAL": final_status}


def test_gcp_restarts_a_stopped_spot_vm_then_copies_back_and_deletes(tmp_path):
  bin_dir, state, env = _fake_cloud(tmp_path, "done")
  results = tmp_path / "results"
  out = run_script([GCP, *GCP_REQUIRED, "--poll=1", f"--results-dir={results}"], bin_dir, env, cwd=tmp_path)
  assert out.returncode == 0, out.stderr
  calls = (state / "calls").read_text().splitlines()
  kinds = [" ".join(c.split()[:3]) for c in calls]
  assert kinds.index("compute instances create") < kinds.index("compute instances start")
  assert kinds.index("compute instances start") < kinds.index("storage rsync --recursive")
  assert kinds[-1] == "compute instances delete"
  assert calls[0].startswith("storage cp ") and calls[0].endswith("gs://my-bucket/jobs/h2/src.tar.gz")
  assert calls[1] == "storage cp - gs://my-bucket/jobs/h2/status --quiet"  # the old status is reset
  assert (results / "summary.md").read_text() == "results\n"
  assert "Spot preemption" in out.stderr
  # The uploaded checkout holds the package and the startup script, and no ignored files.
  with tarfile.open(state / "uploaded.tar.gz") as tar:
    names = set(tar.getnames())
  assert {"pyproject.toml", "qd_jax/launch.py", "launch/startup_script.sh"} <= names
  assert not any(n.startswith("runs/") or n.endswith(".npy") for n in names)


def test_gcp_failed_job_exits_1_with_the_log_tail(tmp_path):
  bin_dir, state, env = _fake_cloud(tmp_path, "failed: qd_jax.launch exit 1, see workdir/console.log")
  out = run_script([GCP, *GCP_REQUIRED, "--poll=1", "--source=git+https://github.com/example/qd_jax",
              f"--results-dir={tmp_path / 'r'}"], bin_dir, env, cwd=tmp_path)
  assert out.returncode == 1
  assert "the job failed" in out.stderr and "boom" in out.stderr
  assert not (state / "vm").exists()  # deleted: --keep-vm was not given
  assert "storage cp " not in (state / "calls").read_text().split("storage cp -")[0]  # nothing packed


# --- startup_script.sh: the job phase on a VM, with fakes -----------------------------------------

def _vm(tmp_path, job_seconds: int, job_rc: int = 0):
  bin_dir = tmp_path / "bin"
  bin_dir.mkdir()
  log = tmp_path / "calls"
  fake_exe(bin_dir / "gcloud", f"""
      echo "gcloud $*" >>"{log}"
      if [[ $1 == storage && $2 == ls ]]; then echo "$3x"; fi
      if [[ $1 == storage && $2 == cp && $3 == - ]]; then echo "status $(cat)" >>"{log}"; fi
      """)
  fake_exe(bin_dir / "systemctl", f'echo "systemctl $*" >>"{log}"\n')
  root = tmp_path / "root"
  (root / "venv" / "bin").mkdir(parents=True)
  (root / "installed").write_text("checkout\n")
  fake_exe(root / "venv" / "bin" / "python", f"""
      trap 'echo "python got SIGTERM" >>"{log}"; sleep 0.3; exit 143' TERM  # before the log says it started
      echo "python $*" >>"{log}"
      echo "env $XLA_PYTHON_CLIENT_PREALLOCATE" >>"{log}"
      for _ in $(seq {job_seconds * 10}); do sleep 0.1 & wait $!; done
      exit {job_rc}
      """)
  config = tmp_path / "qd-config"
  config.write_text("project=p\nzone=us-central1-a\nvm_name=qd-h2\njob_url=gs://b/jobs/h2\n"
                    "data_url=gs://b/data\nhypothesis=h2\nsource=checkout\nsync_minutes=10\n"
                    "self_delete=1\ncache_url=gs://b/cache\narg=--categories=smiley face,cat\n"
                    "env=XLA_PYTHON_CLIENT_PREALLOCATE=false\n")
  env = {"QD_ROOT": str(root), "QD_CONFIG": str(config), "HOME": str(tmp_path / "home")}
  return bin_dir, env, log, root


def test_startup_job_success_mirrors_marks_done_and_deletes_the_vm(tmp_path):
  bin_dir, env, log, root = _vm(tmp_path, job_seconds=0)
  out = run_script(["bash", STARTUP, "job"], bin_dir, env)
  assert out.returncode == 0, out.stderr
  calls = log.read_text().splitlines()
  run = calls.index(f"python -m qd_jax.launch --hypothesis=h2 --workdir={root}/work/h2 "
                    f"--data_dir={root}/data --categories=smiley face,cat")
  assert calls[run + 1] == "env false"
  assert calls.index(f"gcloud storage rsync --recursive gs://b/jobs/h2/workdir {root}/work/h2") < run
  assert calls.index("status running") < run
  caches = tmp_path / "home" / ".cache" / "qd_jax"
  assert calls.index(f"gcloud storage rsync --recursive gs://b/cache {caches}") < run
  mirror = calls.index(f"gcloud storage rsync --recursive --delete-unmatched-destination-objects "
                       f"{root}/work/h2 gs://b/jobs/h2/workdir")
  saved = calls.index(f"gcloud storage rsync --recursive {caches} gs://b/cache")  # what it compiled, for the next job
  assert run < mirror < saved < calls.index("status done")
  assert calls[-1] == "gcloud compute instances delete qd-h2 --project=p --zone=us-central1-a --quiet"
  # A second boot of the same disk resumes from the disk, not from the (older) bucket copy.
  log.write_text("")
  assert run_script(["bash", STARTUP, "job"], bin_dir, env).returncode == 0
  assert "gs://b/jobs/h2/workdir " + str(root) not in log.read_text()


def test_startup_job_passes_sigterm_and_keeps_the_status_running(tmp_path):
  bin_dir, env, log, root = _vm(tmp_path, job_seconds=20)
  full_env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", **env}
  proc = subprocess.Popen(["bash", str(STARTUP), "job"], env=full_env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
  deadline = time.time() + 10
  while "python -m qd_jax.launch" not in (log.read_text() if log.exists() else ""):
    assert time.time() < deadline, "the job never started"
    time.sleep(0.05)
  time.sleep(0.2)
  proc.send_signal(signal.SIGTERM)  # what systemd does when Spot's ACPI shutdown arrives
  _, err = proc.communicate(timeout=10)
  assert proc.returncode == 0, err
  calls = log.read_text().splitlines()
  assert "python got SIGTERM" in calls
  assert calls[-1].startswith("gcloud storage rsync --recursive --delete-unmatched-destination-objects")
  assert "status done" not in calls and not any(c.startswith("status failed") for c in calls)
  assert not any("instances delete" in c or "poweroff" in c for c in calls)


def test_startup_job_failure_marks_failed_and_powers_off(tmp_path):
  bin_dir, env, log, root = _vm(tmp_path, job_seconds=0, job_rc=2)
  out = run_script(["bash", STARTUP, "job"], bin_dir, env)
  assert out.returncode == 0, out.stderr
  calls = log.read_text().splitlines()
  assert "status failed: qd_jax.launch exit 2, see workdir/console.log" in calls
  assert f"gcloud storage rsync --recursive {tmp_path / 'home/.cache/qd_jax'} gs://b/cache" in calls  # still valid
  assert calls[-1] == "systemctl poweroff"
  assert not any("instances delete" in c for c in calls)


def test_startup_boot_dry_run_hands_the_job_to_systemd(tmp_path):
  bin_dir, env, log, _ = _vm(tmp_path, job_seconds=0)
  out = run_script(["bash", STARTUP, "boot"], bin_dir, {**env, "QD_DRY_RUN": "1"})
  assert out.returncode == 0, out.stderr
  assert "systemd-run --unit=qd-job" in out.stdout and "--property=KillMode=mixed" in out.stdout
  assert not log.exists()  # a dry run calls nothing
