#!/usr/bin/env bash
# A task of several ranks on Slurm, side by side (run by hand, as root; about a minute):
#   the hello cube's `ranks` task as 4 ranks on the two nodes of partition `multi`
#   (tools/start-slurm.sh: n1 and n2, 2 ranks each) through mlcube-remote -> mlcube-agent,
#   against `sbatch` of the srun script a user writes by hand for the same SIF (srun starts
#   `apptainer run` per rank with RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), same user:
#   - all ranks started: from the moment the command is typed until the last rank's first
#     instruction (each rank prints /proc/uptime, the same clock as this script's);
#   - end-to-end: until the command returns (ours: push, output pull included; plain: squeue
#     polled every 50 ms until the job left the running states). The ranks meet over TCP.
# Needs tools/start-slurm.sh, tools/create-test-user.sh, tools/install-apptainer.sh,
# tools/prepare-examples.sh, and `ninja -C build mlcube-agent mlcube-remote`.
# Usage: tools/bench/slurm_ranks_bench.sh [ROUNDS] [BUILD_DIR]   (defaults: 5, build)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROUNDS=${1:-5}
BUILD=$(cd "${2:-$ROOT/build}" && pwd)
AGENT=$BUILD/agent/mlcube-agent
CLI=$BUILD/controller/mlcube-remote
USER_NAME=mlcube
die() { echo "slurm-ranks-bench: $*" >&2; exit 1; }
# shellcheck source=tools/bench/lib.sh
source "$ROOT/tools/bench/lib.sh"
require_root_build_and_user "$USER_NAME"
[[ $(sinfo -h -p multi -N -o %t 2>/dev/null | grep -cE 'idle|mix') == 2 ]] \
  || die "the two nodes of partition multi are not up: run tools/start-slurm.sh"
"$ROOT/tools/prepare-examples.sh"

WORK=$(mktemp -d /tmp/mlcube-slurm-ranks-bench-XXXXXX)
AGENT_PID=
cleanup() {
  scancel -u "$USER_NAME" 2>/dev/null || true
  [[ -n $AGENT_PID ]] && kill "$AGENT_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
chmod 755 "$WORK"

# The hello cube, its ranks task printing the node's uptime first.
cp -a "$ROOT/examples/hello" "$WORK/cube"
stamp_rank_starts "$WORK/cube"
start_slurm_agent "$WORK" "$USER_NAME" "partition: multi, time: '5', nodes: 2, ntasks_per_node: 2, node_tmp: false, scratch: false"

now() { cut -d' ' -f1 /proc/uptime; }
ours() { "$CLI" --hosts="$WORK/hosts.yaml" run --mlcube="$WORK/cube" --task=ranks 2>"$WORK/ours.err"; }
ours >/dev/null || die "the warm-up run failed: $(cat "$WORK/ours.err")"  # builds the SIF
SIF=$(ls "$WORK"/state/images/*/hello-0.1.sif)

# What a user writes by hand: srun starts the container once per rank with the variables.
cat >"$WORK/plain/job.sh" <<EOF
#!/bin/sh
export MASTER_ADDR=\$(scontrol show hostnames "\$SLURM_JOB_NODELIST" | head -n 1)
export MASTER_PORT=\$((29500 + SLURM_JOB_ID % 20000))
srun sh -c 'APPTAINERENV_RANK=\$SLURM_PROCID APPTAINERENV_LOCAL_RANK=\$SLURM_LOCALID \\
  APPTAINERENV_WORLD_SIZE=\$SLURM_NTASKS APPTAINERENV_LOCAL_WORLD_SIZE=2 \\
  APPTAINERENV_NODE_RANK=\$SLURM_NODEID APPTAINERENV_MASTER_ADDR=\$MASTER_ADDR \\
  APPTAINERENV_MASTER_PORT=\$MASTER_PORT \\
  exec apptainer -q run --contain --bind $WORK/plain:/out $SIF ranks --output_dir=/out/ranks'
EOF
chmod 755 "$WORK/plain/job.sh"
plain() {
  local id state
  id=$(cd "$WORK/plain" && runuser -u "$USER_NAME" -- sbatch --parsable --partition=multi \
    --time=5 --nodes=2 --ntasks-per-node=2 -o "$WORK/plain/out" --open-mode=truncate job.sh)
  while state=$(squeue -h --states=all -j "$id" -o %T 2>/dev/null) &&
    [[ $state =~ ^(PENDING|CONFIGURING|RUNNING|COMPLETING)$ ]]; do
    sleep 0.05
  done
  cat "$WORK/plain/out"
}

race_rounds "$ROUNDS" 4 "met rank 3" "4 ranks, 2 nodes" "plain sbatch" "mlcube-agent"
