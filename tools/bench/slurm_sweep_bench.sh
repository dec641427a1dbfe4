#!/usr/bin/env bash
# A 100-run sweep on a Slurm host (target: accepted in under 3 s), side by side:
#   - one sweep: `run --repeat=RUNS --parallel=8 --detach`, one SubmitJobs call; the
#     agent submits the runs as ONE job array (sbatch --array=0-99%8). Two times: until the
#     command returns (every run accepted by the agent), and until Slurm holds all RUNS
#     elements of the array (squeue -r);
#   - RUNS plain `sbatch` calls of the same command, one after another;
#   - RUNS sequential `run --detach` calls (each run its own job, its own sbatch).
# The task is `fail` (exits at once: acceptance is measured, not the runs). The SIF is built
# beforehand and the cube pushed once. The jobs of each phase are cancelled after it, by
# their ids (the test user may have other jobs).
# Needs tools/start-slurm.sh, tools/create-test-user.sh, tools/install-apptainer.sh and
# `ninja -C build mlcube-agent mlcube-remote`. Run by hand as root:
#   tools/bench/slurm_sweep_bench.sh [BUILD_DIR] [RUNS]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
RUNS=${2:-100}
AGENT=$BUILD/agent/mlcube-agent
CLI=$BUILD/controller/mlcube-remote
USER_NAME=mlcube
die() { echo "slurm-sweep-bench: $*" >&2; exit 1; }
# shellcheck source=tools/bench/lib.sh
source "$ROOT/tools/bench/lib.sh"
require_root_build_and_user "$USER_NAME"
sinfo -h -o %t 2>/dev/null | grep -qE 'idle|mix|alloc' || die "no Slurm node up: run tools/start-slurm.sh"
"$ROOT/tools/prepare-examples.sh"

WORK=$(mktemp -d /tmp/mlcube-slurm-sweep-bench-XXXXXX)
AGENT_PID=
# The Slurm jobs the agent submitted (plain ids and array ids).
agent_jobs() {
  cat "$WORK"/state/jobs/*/step-*.slurm "$WORK"/state/jobs/*/array.slurm 2>/dev/null |
    cut -d' ' -f1 | cut -d_ -f1 | sort -u
}
cleanup() {
  agent_jobs | xargs -r scancel 2>/dev/null || true
  [[ -f $WORK/plain/ids ]] && xargs -r scancel <"$WORK/plain/ids" 2>/dev/null
  [[ -n $AGENT_PID ]] && kill "$AGENT_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
chmod 755 "$WORK"
cp -a "$ROOT/examples/hello" "$WORK/cube"
start_slurm_agent "$WORK" "$USER_NAME" "partition: debug, time: '5'"
cli() { "$CLI" -q --hosts="$WORK/hosts.yaml" "$@"; }
cli configure --mlcube="$WORK/cube" >/dev/null 2>"$WORK/configure.err" ||
  die "configure failed: $(cat "$WORK/configure.err")"
SIF=$(ls "$WORK"/state/images/*/hello-0.1.sif)

now_ms() { date +%s%3N; }
elements() { squeue --states=all -h -r -n "$1" -o %i 2>/dev/null | wc -l; }

start=$(now_ms)
cli run --mlcube="$WORK/cube" --task=fail --repeat="$RUNS" --parallel=8 --detach >/dev/null \
  2>"$WORK/sweep.err" || die "the sweep failed: $(cat "$WORK/sweep.err")"
sweep_ms=$(($(now_ms) - start))
for _ in $(seq 1 600); do
  script=$(ls "$WORK"/state/jobs/*/array.sh 2>/dev/null | head -n 1 || true)
  [[ -n $script ]] && break
  sleep 0.01
done
[[ -n $script ]] || die "no job array was submitted: $(tail -5 "$WORK/agent.log")"
array_name=mlcube-array-$(basename "$(dirname "$script")")
for _ in $(seq 1 3000); do
  (($(elements "$array_name") >= RUNS)) && break
  sleep 0.01
done
array_ms=$(($(now_ms) - start))
for _ in $(seq 1 500); do
  (($(ls "$WORK"/state/jobs/*/step-*.slurm 2>/dev/null | wc -l) >= RUNS)) && break
  sleep 0.01
done
# Distinct Slurm job ids over every run's recorded element (JOBID_INDEX).
arrays=$(agent_jobs | wc -l)
array_id=$(agent_jobs | head -n 1)
spec=$(scontrol show job "$array_id" 2>/dev/null |
  sed -n 's/.*ArrayTaskThrottle=\([0-9]*\).*/%\1/p' | head -n 1)
agent_jobs | xargs -r scancel; sleep 2

start=$(now_ms)
for _ in $(seq 1 "$RUNS"); do
  (cd "$WORK/plain" && runuser -u "$USER_NAME" -- sbatch --parsable --partition=debug --time=5 \
    -o /dev/null --wrap "apptainer -q run --contain $SIF fail") >>"$WORK/plain/ids"
done
plain_ms=$(($(now_ms) - start))
xargs -r scancel <"$WORK/plain/ids"; sleep 2

start=$(now_ms)
for _ in $(seq 1 "$RUNS"); do
  cli run --mlcube="$WORK/cube" --task=fail --detach >/dev/null 2>>"$WORK/loop.err" ||
    die "run --detach failed: $(tail -3 "$WORK/loop.err")"
done
loop_ms=$(($(now_ms) - start))

per() { awk -v t="$1" -v n="$RUNS" 'BEGIN { printf "%.1f", t / n }'; }
echo "submitting $RUNS runs on a Slurm host (load: $(cut -d' ' -f1-3 /proc/loadavg))"
printf '  one sweep, accepted by the agent (run --repeat=%d --detach)  %6d ms  (%s ms per run; target < 3000 ms)\n' \
  "$RUNS" "$sweep_ms" "$(per "$sweep_ms")"
printf '  one sweep, all %d elements in Slurm as %s job array(s) %s    %6d ms\n' \
  "$RUNS" "$arrays" "$spec" "$array_ms"
printf '  %d plain sbatch calls                                        %6d ms  (%s ms per job)\n' \
  "$RUNS" "$plain_ms" "$(per "$plain_ms")"
printf '  %d sequential run --detach calls                             %6d ms  (%s ms per run)\n' \
  "$RUNS" "$loop_ms" "$(per "$loop_ms")"
