#!/usr/bin/env bash
# Agent benchmarks, side by side with plain Docker (run by hand, as root, on an
# otherwise idle machine; takes about two minutes):
#   - a log line's latency from the task to a watching client (p50, p99)
#   - a task printing 100 MB: plain `docker run` vs the same through the agent
#     with a client following the output
#   - launching a no-op task: `docker run --rm IMAGE` and `ssh host docker run ...` vs submit +
#     watch to the end
#   - the agent's idle RSS
# The agent follows Docker tasks through the engine's API (the default); a
# second agent with `runtimes.docker.api_socket: ""` (an attached `docker run`
# client per task) runs the 100 MB and no-op measures in the same rounds.
# The agent runs as the unprivileged user `mlcube` (tools/create-test-user.sh)
# against the real Docker engine (tools/start-docker.sh).
# Usage: tools/bench/agent_bench.sh [BUILD_DIR]   (default: build)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
AGENT=$BUILD/agent/mlcube-agent
CLIENT=$BUILD/tests/agent_bench_client
USER_NAME=mlcube
IMAGE=mlcube/hello:0.1
die() { echo "agent_bench: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "run as root (the agent is started as user $USER_NAME)"
[[ -x $AGENT && -x $CLIENT ]] || die "build first: ninja -C $BUILD mlcube-agent agent_bench_client"
id "$USER_NAME" >/dev/null 2>&1 || die "no user $USER_NAME: run tools/create-test-user.sh"
docker info >/dev/null 2>&1 || die "Docker is not running: run tools/start-docker.sh"
"$ROOT/tools/prepare-examples.sh"
docker image inspect $IMAGE >/dev/null 2>&1 ||
  docker build -q -t $IMAGE -f "$ROOT/examples/hello/build/Dockerfile" "$ROOT/examples/hello/build" >/dev/null

STATE=$(mktemp -d /tmp/mlcube-agent-bench-XXXXXX)
AGENT_PID=
AGENT2_PID=
SSHD_PID=
cleanup() {
  [[ -n $AGENT_PID ]] && kill "$AGENT_PID" 2>/dev/null
  [[ -n $AGENT2_PID ]] && kill "$AGENT2_PID" 2>/dev/null
  [[ -n $SSHD_PID ]] && kill "$SSHD_PID" 2>/dev/null
  rm -rf "$STATE" "$STATE-attached" "$STATE.log" "$STATE-attached.log"
}
trap cleanup EXIT
chmod 755 "$STATE"
# shellcheck source=tools/bench/loopback_sshd.sh
. "$ROOT/tools/bench/loopback_sshd.sh"
start_loopback_sshd "$STATE/sshd" "${BENCH_PORT:-22523}" || die "cannot start sshd (apt-get install openssh-server)"
OWNER=uid-$(id -u)
CUBE=$STATE/cubes/$OWNER/bench
mkdir -p "$CUBE/workspace"
cp -a "$ROOT/examples/hello/build" "$CUBE/build"
cat >"$CUBE/mlcube.yaml" <<'YAML'
name: bench
docker: {image: "mlcube/hello:0.1", build_context: build, build_file: Dockerfile, build_strategy: pull}
tasks:
  bench:
    entrypoint: /bin/sh /mlcube_io0/bench.sh
    parameters:
      inputs: {dir: {type: directory, default: ./}}
      outputs: {}
YAML
LINE=$(printf 'x%.0s' $(seq 1 99))
cat >"$CUBE/workspace/bench.sh" <<SH
case "\$MODE" in
  latency) cat /mlcube_io0/fifo ;;
  flood) yes $LINE | head -c 104857600 ;;
  noop) true ;;
esac
SH
mkfifo -m 0666 "$CUBE/workspace/fifo"
cat >"$STATE/agent.yaml" <<YAML
limits: {job_log_bytes: 268435456}
max_concurrent_jobs: 2
YAML
# A second agent, the same in all but one key: each task under an attached
# `docker run` client (today's other path), measured in the same rounds.
STATE2=$STATE-attached
cp -a "$STATE" "$STATE2"
echo 'runtimes: {docker: {api_socket: ""}}' >>"$STATE2/agent.yaml"
chown -R $USER_NAME: "$STATE" "$STATE2"
UID_N=$(id -u $USER_NAME); GID_N=$(id -g $USER_NAME)
start_bench_agent() {  # STATE_DIR: starts it as $USER_NAME; prints its pid
  setpriv --reuid=$UID_N --regid=$GID_N --init-groups --reset-env \
    "$AGENT" serve --config="$1/agent.yaml" --state-dir="$1" --listen=unix://$1/agent.sock \
    >/dev/null 2>"$1.log" &
  echo $!
  for _ in $(seq 100); do [[ -S $1/agent.sock ]] && break; sleep 0.05; done
}
SOCK=$STATE/agent.sock
SOCK2=$STATE2/agent.sock
AGENT_PID=$(start_bench_agent "$STATE")
AGENT2_PID=$(start_bench_agent "$STATE2")
sleep 1
RSS_KB=$(awk '/VmRSS/ {print $2}' /proc/$AGENT_PID/status)

LAT=$("$CLIENT" "$SOCK" latency bench "$CUBE/workspace/fifo" 300)

# 100 MB of output, three rounds, interleaved so that load from other users of
# the machine hits both sides alike; medians are reported.
#  - plain `docker run` (attached, output to /dev/null),
#  - through the agent with a client following every byte,
#  - through the agent with nobody watching.
median() { sort -n | sed -n 2p; }
seconds_of() { sed -E 's/.*seconds=([0-9.]+).*/\1/'; }
D=(); W=(); U=(); W2=()
for _ in 1 2 3; do
  t0=$(date +%s.%N)
  docker run --rm --user $UID_N:$GID_N --entrypoint /bin/sh $IMAGE -c "yes $LINE | head -c 104857600" >/dev/null
  t1=$(date +%s.%N)
  D+=("$(echo "$t1 - $t0" | bc)")
  FLOOD=$("$CLIENT" "$SOCK" flood bench)
  W+=("$(seconds_of <<<"$FLOOD")")
  U+=("$("$CLIENT" "$SOCK" flood-unwatched bench | seconds_of)")
  W2+=("$("$CLIENT" "$SOCK2" flood bench | seconds_of)")
done
DOCKER_FLOOD=$(printf '%s\n' "${D[@]}" | median)
AGENT_FLOOD=$(printf '%s\n' "${W[@]}" | median)
UNWATCHED_FLOOD=$(printf '%s\n' "${U[@]}" | median)
ATTACHED_FLOOD=$(printf '%s\n' "${W2[@]}" | median)

# No-op launches.
DOCKER_NOOP=()
for _ in 1 2 3 4 5; do
  t0=$(date +%s%N)
  docker run --rm --user $UID_N:$GID_N --entrypoint /bin/true $IMAGE
  t1=$(date +%s%N)
  DOCKER_NOOP+=($(( (t1 - t0) / 1000000 )))
done
DOCKER_NOOP_P50=$(printf '%s\n' "${DOCKER_NOOP[@]}" | sort -n | sed -n 3p)
# The same through ssh, the way the SSH runner launched tasks on a host.
SSH_NOOP=()
for _ in 1 2 3 4 5; do
  t0=$(date +%s%N)
  $SSH "$RHOST" docker run --rm --user $UID_N:$GID_N --entrypoint /bin/true $IMAGE
  t1=$(date +%s%N)
  SSH_NOOP+=($(( (t1 - t0) / 1000000 )))
done
SSH_NOOP_P50=$(printf '%s\n' "${SSH_NOOP[@]}" | sort -n | sed -n 3p)
NOOP=$("$CLIENT" "$SOCK" noop bench 5)
NOOP2=$("$CLIENT" "$SOCK2" noop bench 5)

FLOOD_BYTES=$(sed -E 's/.*stdout_bytes=([0-9]+).*/\1/' <<<"$FLOOD")
AGENT_NOOP_P50=$(sed -E 's/.*p50=([0-9.]+).*/\1/' <<<"$NOOP")
ATTACHED_NOOP_P50=$(sed -E 's/.*p50=([0-9.]+).*/\1/' <<<"$NOOP2")
SLOWDOWN_A=$(echo "scale=1; ($ATTACHED_FLOOD - $DOCKER_FLOOD) * 100 / $DOCKER_FLOOD" | bc)
SLOWDOWN=$(echo "scale=1; ($AGENT_FLOOD - $DOCKER_FLOOD) * 100 / $DOCKER_FLOOD" | bc)
SLOWDOWN_U=$(echo "scale=1; ($UNWATCHED_FLOOD - $DOCKER_FLOOD) * 100 / $DOCKER_FLOOD" | bc)

printf '\n%-44s %-22s %-22s %s\n' "measure" "plain docker" "mlcube-agent" "target"
printf '%-44s %-22s %-22s %s\n' "log line task->client latency" "-" \
  "$(sed -E 's/.*p50=([0-9.]+) p99=([0-9.]+).*/p50 \1 ms, p99 \2 ms/' <<<"$LAT")" "p99 < 20 ms"
printf '%-44s %-22s %-22s %s\n' "task printing 100 MB, median of 3 (s)" "$DOCKER_FLOOD" \
  "$AGENT_FLOOD ($SLOWDOWN%)" "<= +10%"
printf '%-44s %-22s %-22s %s\n' "  ... with no client watching (s)" "-" \
  "$UNWATCHED_FLOOD ($SLOWDOWN_U%)" ""
printf '%-44s %-22s %-22s %s\n' "  ... attached docker run client (api_socket \"\")" "-" \
  "$ATTACHED_FLOOD ($SLOWDOWN_A%)" ""
printf '%-44s %-22s %-22s %s\n' "  (all rounds, s)" "${D[*]}" "${W[*]} / ${U[*]} / ${W2[*]}" ""
printf '%-44s %-22s %-22s %s\n' "  bytes the watching client received" "-" "$FLOOD_BYTES" "104857600"
printf '%-44s %-22s %-22s %s\n' "no-op task launch, p50 of 5 (ms)" \
  "$DOCKER_NOOP_P50 (ssh: $SSH_NOOP_P50)" "$AGENT_NOOP_P50" "<= ssh+docker run"
printf '%-44s %-22s %-22s %s\n' "  ... attached docker run client (api_socket \"\")" "-" \
  "$ATTACHED_NOOP_P50" ""
printf '%-44s %-22s %-22s %s\n' "agent idle RSS (MiB)" "-" "$(echo "scale=1; $RSS_KB/1024" | bc)" "< 20"
