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
# Then BURST jobs at once (default 100, 0 skips): `run --detach` xBURST against `sbatch` xBURST,
# total submit time each, and the agent's CPU while it follows the BURST jobs for 60 s (one
# squeue per poll for all of them); every job left is cancelled after.
# Usage: tools/bench/slurm.sh [ROUNDS] [BUILD_DIR] [BURST]   (defaults: 5, build, 100)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROUNDS=${1:-5}
BUILD=$(cd "${2:-$ROOT/build}" && pwd)
BURST=${3:-100}
AGENT=$BUILD/agent/mlcube-agent
CLI=$BUILD/controller/mlcube-remote
USER_NAME=mlcube
die() { echo "slurm-bench: $*" >&2; exit 1; }
# shellcheck source=tools/bench/lib.sh
source "$ROOT/tools/bench/lib.sh"
require_root_build_and_user "$USER_NAME"
sinfo -h -o %t 2>/dev/null | grep -qE 'idle|mix' || die "no idle Slurm node: run tools/start-slurm.sh"
"$ROOT/tools/prepare-examples.sh"

WORK=$(mktemp -d /tmp/mlcube-slurm-bench-XXXXXX)
AGENT_PID=
cleanup() {
  scancel -u "$USER_NAME" 2>/dev/null || true
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
start_slurm_agent "$WORK" "$USER_NAME" "partition: debug, time: '5'"

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

printf '\n%-28s %12s %12s\n' "median of $ROUNDS (seconds)" "plain sbatch" "mlcube-agent"
printf '%-28s %12s %12s\n' "submit-to-start" "$(median_of "${PS[@]}")" "$(median_of "${OS[@]}")"
printf '%-28s %12s %12s\n' "end-to-end" "$(median_of "${PE[@]}")" "$(median_of "${OE[@]}")"

((BURST > 0)) || exit 0
# CPU seconds (user + system) the agent has used so far.
agent_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$AGENT_PID/stat"
}
t0=$(now)
for _ in $(seq 1 "$BURST"); do
  "$CLI" --hosts="$WORK/hosts.yaml" run --detach --mlcube="$WORK/cube" --task=stamp \
    >/dev/null 2>>"$WORK/burst.err" || die "run --detach failed: $(tail -3 "$WORK/burst.err")"
done
t1=$(now)
ours_submit=$(echo "$t1 - $t0" | bc)
c0=$(agent_cpu); sleep 60; c1=$(agent_cpu)
followed=$(squeue -h -u "$USER_NAME" | wc -l)
agent_cpu_s=$(echo "$c1 - $c0" | bc)
agent_rss=$(awk '/VmRSS/ {print $2 / 1024 " MiB"}' "/proc/$AGENT_PID/status")
scancel -u "$USER_NAME"; sleep 2
t0=$(now)
for _ in $(seq 1 "$BURST"); do
  (cd "$WORK/plain" && runuser -u "$USER_NAME" -- sbatch --parsable --partition=debug --time=5 \
    -o /dev/null --wrap "apptainer -q run --contain $SIF stamp") >/dev/null
done
t1=$(now)
plain_submit=$(echo "$t1 - $t0" | bc)
scancel -u "$USER_NAME"
printf '\n%s jobs at once                  %12s %12s\n' "$BURST" "plain sbatch" "mlcube-agent"
printf '%-35s %12s %12s\n' "total submit time (s)" "$plain_submit" "$ours_submit"
printf 'agent CPU while following them for 60 s: %s s (%s jobs still queued or running at the end), RSS %s\n' \
  "$agent_cpu_s" "$followed" "$agent_rss"
