#!/usr/bin/env bash
# Slurm overhead, side by side (run by hand, as root; about a minute):
#   a no-op task through mlcube-remote -> mlcube-agent (scheduler: slurm) against plain
#   `sbatch --wrap "apptainer run SIF ..."` of the same SIF, submitted by the same user:
#   - submit-to-start: from the moment the command is typed to the task's first instruction
#     (the task prints /proc/uptime, the same clock as the script's);
#   - end-to-end: until the command returns with the output (ours: `mlcube-remote run`,
#     push and output pull included; plain: squeue polled every 50 ms until the job left
#     the running states, then its output file read).
# Needs tools/start-slurm.sh, tools/create-test-user.sh, tools/install-apptainer.sh,
# tools/prepare-examples.sh, and `ninja -C build mlcube-agent mlcube-remote`.
# Usage: tools/bench/slurm.sh [ROUNDS] [BUILD_DIR]   (defaults: 5, build)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROUNDS=${1:-5}
BUILD=$(cd "${2:-$ROOT/build}" && pwd)
AGENT=$BUILD/agent/mlcube-agent
CLI=$BUILD/controller/mlcube-remote
USER_NAME=mlcube
die() { echo "slurm-bench: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "run as root (the agent and the plain jobs run as $USER_NAME)"
[[ -x $AGENT && -x $CLI ]] || die "build first: ninja -C $BUILD mlcube-agent mlcube-remote"
id "$USER_NAME" >/dev/null 2>&1 || die "no user $USER_NAME: run tools/create-test-user.sh"
sinfo -h -o %t 2>/dev/null | grep -qE 'idle|mix' || die "no idle Slurm node: run tools/start-slurm.sh"
"$ROOT/tools/prepare-examples.sh"

WORK=$(mktemp -d /tmp/mlcube-slurm-bench-XXXXXX)
AGENT_PID=
cleanup() {
  [[ -n $AGENT_PID ]] && kill "$AGENT_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
chmod 755 "$WORK"

# The hello cube with one more task, `stamp`: prints the node's uptime and exits.
cp -a "$ROOT/examples/hello" "$WORK/cube"
sed -i 's/^  \*)$/  stamp) echo "STAMP $(cut -d" " -f1 \/proc\/uptime)" ;;\n  *)/' \
  "$WORK/cube/build/hello.sh"
printf '  stamp:\n    parameters: {inputs: {}, outputs: {}}\n' >>"$WORK/cube/mlcube.yaml"
mkdir "$WORK/state" "$WORK/plain"
chown "$USER_NAME:" "$WORK/state" "$WORK/plain"
printf 'slurm: {shared_dir: %s}\n' "$WORK" >"$WORK/agent.yaml"
setpriv --reuid="$USER_NAME" --regid="$USER_NAME" --init-groups \
  "$AGENT" serve --listen="unix://$WORK/state/agent.sock" --state-dir="$WORK/state" \
  --config="$WORK/agent.yaml" >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 1 100); do [[ -S $WORK/state/agent.sock ]] && break; sleep 0.1; done
[[ -S $WORK/state/agent.sock ]] || die "the agent did not start: $(cat "$WORK/agent.log")"
cat >"$WORK/hosts.yaml" <<EOF
default_host: hpc
hosts:
  hpc:
    address: unix://$WORK/state/agent.sock
    runtime: singularity
    scheduler: slurm
    slurm: {partition: debug, time: '5'}
EOF

now() { cut -d' ' -f1 /proc/uptime; }
ours() { "$CLI" --hosts="$WORK/hosts.yaml" run --mlcube="$WORK/cube" --task=stamp 2>"$WORK/ours.err"; }
ours >/dev/null || die "the warm-up run failed: $(cat "$WORK/ours.err")"  # builds the SIF
SIF=$(ls "$WORK"/state/images/*/hello-0.1.sif)

plain() {
  local id state
  id=$(cd "$WORK/plain" && runuser -u "$USER_NAME" -- sbatch --parsable --partition=debug --time=5 \
    -o "$WORK/plain/out" --open-mode=truncate --wrap "apptainer -q run --contain $SIF stamp")
  while state=$(squeue -h --states=all -j "$id" -o %T 2>/dev/null) &&
    [[ $state =~ ^(PENDING|CONFIGURING|RUNNING|COMPLETING)$ ]]; do
    sleep 0.05
  done
  cat "$WORK/plain/out"
}

declare -a OS OE PS PE
for round in $(seq 1 "$ROUNDS"); do
  t0=$(now); out=$(ours); t1=$(now)
  s=$(sed -n 's/^STAMP //p' <<<"$out")
  [[ -n $s ]] || die "no STAMP from our run: $out $(cat "$WORK/ours.err")"
  OS+=("$(echo "$s - $t0" | bc)"); OE+=("$(echo "$t1 - $t0" | bc)")
  t0=$(now); out=$(plain); t1=$(now)
  s=$(sed -n 's/^STAMP //p' <<<"$out")
  [[ -n $s ]] || die "no STAMP from the plain job: $out"
  PS+=("$(echo "$s - $t0" | bc)"); PE+=("$(echo "$t1 - $t0" | bc)")
  echo "round $round: ours start ${OS[-1]}s end ${OE[-1]}s | plain start ${PS[-1]}s end ${PE[-1]}s" >&2
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '\n%-28s %12s %12s\n' "median of $ROUNDS (seconds)" "plain sbatch" "mlcube-agent"
printf '%-28s %12s %12s\n' "submit-to-start" "$(median "${PS[@]}")" "$(median "${OS[@]}")"
printf '%-28s %12s %12s\n' "end-to-end" "$(median "${PE[@]}")" "$(median "${OE[@]}")"
