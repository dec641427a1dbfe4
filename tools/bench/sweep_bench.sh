#!/usr/bin/env bash
# Submitting a 100-run sweep on one agent, in one SubmitJobs call (target: all 100 accepted in under
# 2 s) against 100 sequential `run --detach` calls, with the agent as the
# unprivileged user `mlcube` on a unix socket and the hello example cube
# (task `fail`: the runs themselves do not matter, only their acceptance).
# The cube is pushed once beforehand, so both sides measure submission.
# Run by hand as root: tools/bench/sweep_bench.sh [BUILD_DIR] [RUNS]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
RUNS=${2:-100}
AGENT=$BUILD/agent/mlcube-agent
CLI=$BUILD/controller/mlcube-remote
die() { echo "sweep_bench: $*" >&2; exit 1; }
# shellcheck source=tools/bench/lib.sh
source "$ROOT/tools/bench/lib.sh"
require_root_build_and_user mlcube
docker info >/dev/null 2>&1 || die "Docker is not running: run tools/start-docker.sh"
"$ROOT/tools/prepare-examples.sh"

DIR=$(mktemp -d /tmp/mlcube-sweep-bench-XXXXXX)
chmod 755 "$DIR"
mkdir "$DIR/state"
chown mlcube "$DIR/state"
cleanup() {
  [[ -n ${AGENT_PID:-} ]] && kill "$AGENT_PID" 2>/dev/null || true
  remove_job_containers "$DIR/state"
  rm -rf "$DIR"
}
trap cleanup EXIT
cp -a "$ROOT/examples/hello" "$DIR/hello"
start_agent mlcube "$DIR/state/agent.sock" "$DIR/agent.log" "$AGENT" serve --state-dir="$DIR/state"
printf 'default_host: local\nhosts:\n  local:\n    address: unix://%s\n    runtime: docker\n' \
  "$DIR/state/agent.sock" >"$DIR/hosts.yaml"
cli() { "$CLI" -q --hosts="$DIR/hosts.yaml" "$@"; }
cli sync push --mlcube="$DIR/hello" >/dev/null

now_ms() { date +%s%3N; }
start=$(now_ms)
cli run --mlcube="$DIR/hello" --task=fail --repeat="$RUNS" --detach >/dev/null
sweep_ms=$(($(now_ms) - start))
start=$(now_ms)
for _ in $(seq "$RUNS"); do cli run --mlcube="$DIR/hello" --task=fail --detach >/dev/null; done
loop_ms=$(($(now_ms) - start))

echo "submitting $RUNS runs on one agent (load: $(cut -d' ' -f1-3 /proc/loadavg))"
printf '  one sweep (run --repeat=%d --detach)      %6d ms  (%.1f ms per run; target < 2000 ms)\n' \
  "$RUNS" "$sweep_ms" "$(awk -v t="$sweep_ms" -v n="$RUNS" 'BEGIN { print t / n }')"
printf '  %d sequential run --detach calls          %6d ms  (%.1f ms per run)\n' \
  "$RUNS" "$loop_ms" "$(awk -v t="$loop_ms" -v n="$RUNS" 'BEGIN { print t / n }')"
