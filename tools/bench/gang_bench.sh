#!/usr/bin/env bash
# One job across two hosts (`run --nodes=2`), side by side (run by hand, as root; a minute):
#   the hello cube's `ranks` task as 2 ranks, one on each of two agents that run in the network
#   namespaces of tools/start-slurm.sh's nodes (n1 and n2: two network stacks on a bridge), with
#   Apptainer, against the same two ranks started by hand: `apptainer run` of the same SIF in
#   each namespace at once, with the same variables (what a user scripts with ssh today).
#   - all ranks started: from the moment the command is typed until the last rank's first
#     instruction (each rank prints /proc/uptime, the same clock as this script's);
#   - end-to-end: until the command returns (ours: push, the all-or-none start, output pull
#     included). The ranks meet over TCP at MASTER_ADDR=n1.
# Needs tools/start-slurm.sh (for the namespaces), tools/create-test-user.sh,
# tools/install-apptainer.sh, tools/prepare-examples.sh, `ninja -C build mlcube-agent
# mlcube-remote`.
# Usage: tools/bench/gang_bench.sh [ROUNDS] [BUILD_DIR]   (defaults: 5, build)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROUNDS=${1:-5}
BUILD=$(cd "${2:-$ROOT/build}" && pwd)
AGENT=$BUILD/agent/mlcube-agent
CLI=$BUILD/controller/mlcube-remote
USER_NAME=mlcube
die() { echo "gang-bench: $*" >&2; exit 1; }
# shellcheck source=tools/bench/lib.sh
source "$ROOT/tools/bench/lib.sh"
require_root_build_and_user "$USER_NAME"
for node in n1 n2; do
  [[ -e /run/netns/mlcslurm-$node ]] || die "no network namespace mlcslurm-$node: run tools/start-slurm.sh"
done
"$ROOT/tools/prepare-examples.sh"

WORK=$(mktemp -d /tmp/mlcube-gang-bench-XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
chmod 755 "$WORK"

# as_user_in NODE CMD...: CMD as the test user in NODE's network namespace.
as_user_in() {
  local node=$1
  shift
  nsenter --net="/run/netns/mlcslurm-$node" setpriv --reuid="$(id -u "$USER_NAME")" \
    --regid="$(id -g "$USER_NAME")" --init-groups --reset-env "$@"
}

for node in n1 n2; do
  mkdir "$WORK/$node"
  chown "$USER_NAME:" "$WORK/$node"
  as_user_in "$node" "$AGENT" serve --state-dir="$WORK/$node/state" \
    --listen="unix://$WORK/$node/agent.sock" >"$WORK/$node/agent.log" 2>&1 &
  PIDS+=($!)
done
for node in n1 n2; do
  for _ in $(seq 100); do [[ -S $WORK/$node/agent.sock ]] && break; sleep 0.1; done
  [[ -S $WORK/$node/agent.sock ]] || die "the agent in $node did not start: $(cat "$WORK/$node/agent.log")"
done
cat >"$WORK/hosts.yaml" <<EOF
hosts:
  a: {address: "unix://$WORK/n1/agent.sock", runtime: singularity, rendezvous_address: n1}
  b: {address: "unix://$WORK/n2/agent.sock", runtime: singularity}
groups: {pair: [a, b]}
EOF

# The hello cube, its ranks task printing the node's uptime first.
cp -a "$ROOT/examples/hello" "$WORK/cube"
stamp_rank_starts "$WORK/cube"

now() { cut -d' ' -f1 /proc/uptime; }
ours() {
  "$CLI" --hosts="$WORK/hosts.yaml" run --mlcube="$WORK/cube" --task=ranks --nodes=2 \
    --host=pair --master-port=29911 2>"$WORK/ours.err"
}
ours >/dev/null || die "the warm-up run failed: $(cat "$WORK/ours.err")"  # builds both SIFs
SIF1=$(ls "$WORK"/n1/state/images/*/hello-0.1.sif)
SIF2=$(ls "$WORK"/n2/state/images/*/hello-0.1.sif)
mkdir -p "$WORK/plain/out"
chown -R "$USER_NAME:" "$WORK/plain"

# By hand: both ranks at once, each in its namespace, the variables set.
plain_rank() {
  local node=$1 rank=$2 sif=$3
  as_user_in "$node" env APPTAINERENV_RANK="$rank" APPTAINERENV_WORLD_SIZE=2 \
    APPTAINERENV_NODE_RANK="$rank" APPTAINERENV_LOCAL_RANK=0 APPTAINERENV_LOCAL_WORLD_SIZE=1 \
    APPTAINERENV_MASTER_ADDR=n1 APPTAINERENV_MASTER_PORT=29912 \
    apptainer -q run --contain --bind "$WORK/plain/out:/out" "$sif" ranks --output_dir=/out
}
plain() {
  plain_rank n1 0 "$SIF1" >"$WORK/plain/r0" 2>&1 &
  local first=$!
  plain_rank n2 1 "$SIF2" >"$WORK/plain/r1" 2>&1 || die "rank 1 by hand failed: $(cat "$WORK/plain/r1")"
  wait "$first" || die "rank 0 by hand failed: $(cat "$WORK/plain/r0")"
  cat "$WORK/plain/r0" "$WORK/plain/r1"
}

race_rounds "$ROUNDS" 2 "met rank 1" "2 ranks, 2 hosts" "by hand" "run --nodes"
