#!/usr/bin/env bash
# Rootless Podman launches, side by side (run by hand, as root, on an idle
# machine; about a minute): a no-op task started with plain `podman run`, with
# `ssh host podman run` (the SSH runner's way) and through a per-user agent
# (submit + follow to the end), all as the unprivileged user `mlcube` with
# the image in that user's own storage. Medians of 5.
# Needs tools/create-test-user.sh and tools/start-podman.sh.
# Usage: tools/bench/podman_bench.sh [BUILD_DIR]   (default: build)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
AGENT=$BUILD/agent/mlcube-agent
CLIENT=$BUILD/tests/agent_bench_client
USER_NAME=mlcube
IMAGE=mlcube/hello:0.1
die() { echo "podman_bench: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "run as root (the agent and podman run as user $USER_NAME)"
[[ -x $AGENT && -x $CLIENT ]] || die "build first: ninja -C $BUILD mlcube-agent agent_bench_client"
id "$USER_NAME" >/dev/null 2>&1 || die "no user $USER_NAME: run tools/create-test-user.sh"
command -v podman >/dev/null || die "no podman: run tools/start-podman.sh"
"$ROOT/tools/prepare-examples.sh"
UID_N=$(id -u $USER_NAME); GID_N=$(id -g $USER_NAME)
as_user() { setpriv --reuid="$UID_N" --regid="$GID_N" --init-groups --reset-env "$@"; }
STATE=$(mktemp -d /tmp/mlcube-podman-bench-XXXXXX)
chmod 755 "$STATE"
cp -a "$ROOT/examples/hello/build" "$STATE/build"
chown -R $USER_NAME: "$STATE/build"
as_user podman build -q -t $IMAGE -f "$STATE/build/Dockerfile" "$STATE/build" >/dev/null

AGENT_PID=
SSHD_PID=
cleanup() {
  [[ -n $AGENT_PID ]] && kill "$AGENT_PID" 2>/dev/null
  [[ -n $SSHD_PID ]] && kill "$SSHD_PID" 2>/dev/null
  rm -rf "$STATE"
}
trap cleanup EXIT
# shellcheck source=tools/bench/loopback_sshd.sh
. "$ROOT/tools/bench/loopback_sshd.sh"
start_loopback_sshd "$STATE/sshd" "${BENCH_PORT:-22524}" || die "cannot start sshd (apt-get install openssh-server)"
OWNER=uid-$(id -u)
CUBE=$STATE/cubes/$OWNER/bench
mkdir -p "$CUBE/workspace"
cat >"$CUBE/mlcube.yaml" <<YAML
name: bench
docker: {image: "$IMAGE", build_strategy: pull}
tasks:
  bench:
    entrypoint: /bin/true
    parameters: {inputs: {}, outputs: {}}
YAML
chown $USER_NAME: "$STATE"
chown -R $USER_NAME: "$STATE/cubes"
SOCK=$STATE/agent.sock
as_user "$AGENT" serve --state-dir="$STATE" --listen=unix://"$SOCK" 2>"$STATE/agent.log" &
AGENT_PID=$!
for _ in $(seq 100); do [[ -S $SOCK ]] && break; sleep 0.05; done
[[ -S $SOCK ]] || die "the agent did not start: $(cat "$STATE/agent.log")"

p50() { sort -n | sed -n 3p; }
PLAIN=(); SSHED=()
RUN=(podman run --rm --userns=keep-id --user "$UID_N:$GID_N" --entrypoint /bin/true "$IMAGE")
for _ in 1 2 3 4 5; do
  t0=$(date +%s%N); as_user "${RUN[@]}"; t1=$(date +%s%N)
  PLAIN+=($(((t1 - t0) / 1000000)))
  t0=$(date +%s%N)
  # (From / : the user may not enter root's home, where ssh starts.)
  $SSH "$RHOST" cd / "&&" setpriv --reuid="$UID_N" --regid="$GID_N" --init-groups --reset-env \
    "${RUN[@]}"
  t1=$(date +%s%N)
  SSHED+=($(((t1 - t0) / 1000000)))
done
NOOP=$("$CLIENT" "$SOCK" noop bench 5 podman)
AGENT_P50=$(sed -E 's/.*p50=([0-9.]+).*/\1/' <<<"$NOOP")

printf '\n%-40s %-16s %-22s %s\n' "no-op task launch, p50 of 5 (ms)" "podman run" "ssh host podman run" "mlcube-agent"
printf '%-40s %-16s %-22s %s\n' "rootless podman $(podman --version | awk '{print $3}')" \
  "$(printf '%s\n' "${PLAIN[@]}" | p50)" "$(printf '%s\n' "${SSHED[@]}" | p50)" "$AGENT_P50"
printf '%-40s %-16s %-22s %s\n' "  (all runs, ms)" "${PLAIN[*]}" "${SSHED[*]}" "$NOOP"
