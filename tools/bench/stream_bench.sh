#!/usr/bin/env bash
# 100 runs streaming logs at once: the agent's CPU time and peak memory while
# RUNS detached runs of a task that prints a line every 10 ms for SECONDS s
# are each followed by `mlcube-remote logs -f SWEEP/RUN`, side by side with
# the same tasks run with plain `docker run -d` and followed by `docker logs
# -f` (Docker's json-file log driver). Same image content, same task, same
# followers count; every follower must receive every line.
#
# Reported per side (tools/bench/proc_sampler.py, sampled every 200 ms):
#   agent        the agent process (ours only)
#   supervisors  its mlcube-agent-supervisor processes (ours only)
#   run-clients  the `docker create` clients the supervisors start (the
#                engine's API then follows the containers), or with
#                api_socket "" the `docker run` clients they hold attached
# Ours runs twice: through the engine's API (the default), then with each
# task under an attached `docker run` client (runtimes.docker.api_socket: "").
#   docker       dockerd + containerd + containerd-shims
#   followers    the 100 log-following CLIs
# Run by hand as root: tools/bench/stream_bench.sh [BUILD_DIR] [RUNS] [SECONDS]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
RUNS=${2:-100}
SECONDS_=${3:-20}
LINES=$((SECONDS_ * 100))
AGENT=$BUILD/agent/mlcube-agent
CLI=$BUILD/controller/mlcube-remote
SAMPLER=$ROOT/tools/bench/proc_sampler.py
IMAGE=mlcube-stream-bench/hello:1
die() { echo "stream_bench: $*" >&2; exit 1; }
# shellcheck source=tools/bench/lib.sh
source "$ROOT/tools/bench/lib.sh"
require_root_build_and_user mlcube
docker info >/dev/null 2>&1 || die "Docker is not running: run tools/start-docker.sh"
command -v python3 >/dev/null || die "python3 is missing: apt-get install python3"
"$ROOT/tools/prepare-examples.sh"

DIR=$(mktemp -d /tmp/mlcube-stream-bench-XXXXXX)
PLAIN=stream-bench-$(basename "$DIR" | tr -dc 'A-Za-z0-9')
chmod 755 "$DIR"
mkdir "$DIR/state" "$DIR/plain"
chown mlcube "$DIR/state"
cleanup() {
  jobs -p | xargs -r kill 2>/dev/null || true
  [[ -n ${AGENT_PID:-} ]] && kill "$AGENT_PID" 2>/dev/null || true
  remove_job_containers "$DIR/state"
  docker ps -aq --filter "name=^$PLAIN-" | xargs -r docker rm -f >/dev/null
  docker rmi -f "$IMAGE" >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT

# The hello cube with a `stream` task: one ~80-byte line every 10 ms
# (busybox `read -t` waits on a FIFO nobody writes: no fork per line).
cp -a "$ROOT/examples/hello" "$DIR/hello"
sed -i 's/^tasks:$/tasks:\n  stream: {parameters: {inputs: {}, outputs: {}}}/' "$DIR/hello/mlcube.yaml"
cat >"$DIR/stream.sh" <<'SCRIPT'
if [ "$task" = stream ]; then
  n=$((STREAM_SECONDS * 100))
  fifo=/tmp/stream.$$
  mkfifo "$fifo" && exec 3<>"$fifo" && rm -f "$fifo" || exit 2
  i=1
  while [ $i -le $n ]; do
    read -t 0.01 _ <&3
    echo "line $i of $n: a log line of typical length from a training loop, loss 0.3"
    i=$((i + 1))
  done
  exit 0
fi
SCRIPT
sed -i "/^shift$/r $DIR/stream.sh" "$DIR/hello/build/hello.sh"

# One identity follows RUNS streams at once: above the default per-identity
# limit of 64 open streams (limits.open_streams), so it is raised here.
printf 'limits: {open_streams: %d}\n' $((RUNS + 16)) >"$DIR/agent.yaml"
chmod 644 "$DIR/agent.yaml"
start_agent mlcube "$DIR/state/agent.sock" "$DIR/agent.log" "$AGENT" serve \
  --config="$DIR/agent.yaml" --state-dir="$DIR/state" --max-concurrent-jobs="$RUNS"
printf 'default_host: local\nhosts:\n  local:\n    address: unix://%s\n    runtime: docker\n    env: {STREAM_SECONDS: "%s"}\n' \
  "$DIR/state/agent.sock" "$SECONDS_" >"$DIR/hosts.yaml"
cli() { "$CLI" -q --hosts="$DIR/hosts.yaml" "$@"; }
CUBE=(--mlcube="$DIR/hello" -P "docker.image=$IMAGE")
# Both sides start from a built image: the agent's own (per-identity) build
# and the same build context as a plain image.
cli configure "${CUBE[@]}" >/dev/null
docker build -q -t "$IMAGE" "$DIR/hello/build" >/dev/null 2>"$DIR/build.log" ||
  die "docker build failed: $(tail -3 "$DIR/build.log")"

# Checks that every follower of a side got every line.
check_lines() {
  local side=$1 short=0
  for f in "$DIR/$side"/*.log; do
    [[ $(grep -c '^line ' "$f") -eq $LINES ]] || short=$((short + 1))
  done
  echo "  $side: $RUNS followers, $short missing lines (expected $LINES lines each)"
  [[ $short -eq 0 ]] || die "$side: $short followers did not get every line"
}

sample() {  # SIDE: starts the sampler; stop with stop_sample SIDE
  rm -f "$DIR/$1.stop"
  python3 "$SAMPLER" "$AGENT_PID" "$AGENT" "$DIR/$1.stop" >"$DIR/$1.sample" &
  echo $! >"$DIR/$1.sampler"
  sleep 0.5
}
stop_sample() {
  touch "$DIR/$1.stop"
  wait "$(cat "$DIR/$1.sampler")"
}
now_ms() { date +%s%3N; }

# RUNS detached runs, each followed by `logs -f SWEEP/RUN` into DIR/SIDE/;
# sets follow_ms.
follow_round() {
  local side=$1 sweep width i run start
  mkdir -p "$DIR/$side"
  sample "$side"
  start=$(now_ms)
  sweep=$(cli run "${CUBE[@]}" --task=stream --repeat="$RUNS" --parallel="$RUNS" --detach)
  width=$(( ${#RUNS} > 3 ? ${#RUNS} : 3 ))
  followers=()
  for i in $(seq 0 $((RUNS - 1))); do
    run=$(printf 'r%0*d' "$width" "$i")
    cli logs -f --mlcube="$DIR/hello" "$sweep/$run" >"$DIR/$side/$run.log" 2>&1 &
    followers+=($!)
  done
  for i in "${!followers[@]}"; do
    wait "${followers[$i]}" || die "follower $i of $sweep failed: $(tail -2 "$DIR/$side/$(printf 'r%0*d' "$width" "$i").log")"
  done
  follow_ms=$(($(now_ms) - start))
  stop_sample "$side"
}

follow_round ours
ours_ms=$follow_ms

# The same runs with nobody following: what streaming to the followers
# costs the agent, against what running the jobs costs it.
sample unwatched
start=$(now_ms)
cli run "${CUBE[@]}" --task=stream --repeat="$RUNS" --parallel="$RUNS" --detach >/dev/null
while [[ $(cli jobs | wc -l) -gt 1 ]]; do sleep 1; done
unwatched_ms=$(($(now_ms) - start))
stop_sample unwatched

# Today's other path: each task under an attached `docker run` client
# (runtimes.docker.api_socket: ""), same state, same image.
kill "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
printf 'limits: {open_streams: %d}\nruntimes: {docker: {api_socket: ""}}\n' $((RUNS + 16)) \
  >"$DIR/agent.yaml"
start_agent mlcube "$DIR/state/agent.sock" "$DIR/agent-attached.log" "$AGENT" serve \
  --config="$DIR/agent.yaml" --state-dir="$DIR/state" --max-concurrent-jobs="$RUNS"
follow_round attached
attached_ms=$follow_ms

sample plain
start=$(now_ms)
followers=()
for i in $(seq 0 $((RUNS - 1))); do
  docker run -d --name "$PLAIN-$i" --user "$(id -u mlcube):$(id -g mlcube)" \
    -e STREAM_SECONDS="$SECONDS_" "$IMAGE" stream >/dev/null
  docker logs -f "$PLAIN-$i" >"$DIR/plain/$i.log" 2>&1 &
  followers+=($!)
done
for pid in "${followers[@]}"; do wait "$pid" || die "a docker logs follower failed"; done
plain_ms=$(($(now_ms) - start))
stop_sample plain

echo "$RUNS tasks printing a line every 10 ms for $SECONDS_ s, each followed live" \
  "(load before: $(cut -d' ' -f1-3 /proc/loadavg))"
echo "mlcube-agent (run --repeat=$RUNS --detach, $RUNS x logs -f SWEEP/RUN): $ours_ms ms"
sed 's/^/  /' "$DIR/ours.sample"
echo "mlcube-agent, nobody following (one ListJobs a second until all end): $unwatched_ms ms"
sed 's/^/  /' "$DIR/unwatched.sample" | grep -v -E '^  followers '
echo "mlcube-agent, each task under an attached docker run client (api_socket: \"\"): $attached_ms ms"
sed 's/^/  /' "$DIR/attached.sample"
echo "plain docker ($RUNS x docker run -d, $RUNS x docker logs -f): $plain_ms ms"
sed 's/^/  /' "$DIR/plain.sample" | grep -v -E '^  (agent|supervisors|run-clients) '
check_lines ours
check_lines attached
check_lines plain
