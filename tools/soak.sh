#!/usr/bin/env bash
# Chaos soak: a real shared agent (root, mutual TLS, a task uid per identity)
# serves three identities at once while faults are injected at random, and
# at the end every promise the agent makes is checked.
#
#   sudo tools/soak.sh MINUTES [BUILD_DIR]          (default BUILD_DIR: ./build)
#
# Workload, per identity, in a loop: `run --task=greet` (push of a tree that
# changes each time, run, pull of the outputs), a sweep of three runs, a
# `run --task=count --detach` with a `logs -f` follower that the workload
# cancels after a few seconds, and plain `sync push`.
# Faults, one every 3 to 8 s: kill -9 of the agent (restarted at once),
# kill -9 of a controller, the link cut for 3 s, the link slowed to 1 Mbit/s
# for 5 s (tbf), the state directory's filesystem full for 4 s (a loop-mounted
# ext4), a restart of the Docker daemon.
# Checks (each failure is a violation): every job reaches one terminal state
# and keeps it; every follower that ran to the end saw each line once and in
# order; every pulled output is the bytes the task wrote; no torn file in any
# workspace on the agent; no identity sees another's job or reads another's
# workspace as its task uid; the agent's resident memory and descriptors stay
# under bounds. Prints one line and exits 0 only without violations:
#   soak: N min, F faults, J jobs, L lines, B bytes, 0 violations
# Its files stay in SOAK_DIR (default: a new /tmp/mlcube-soak.*) when it fails.
# Needs root, Docker (tools/start-docker.sh), the example image's busybox
# (tools/prepare-examples.sh), iproute2, e2fsprogs, util-linux.
set -uo pipefail

MINUTES=${1:?usage: tools/soak.sh MINUTES [BUILD_DIR]}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${2:-$ROOT/build}" && pwd)
REMOTE=$BUILD/controller/mlcube-remote
AGENT=$BUILD/agent/mlcube-agent
IDENTITIES=(soak-a soak-b soak-c)
NS=mlsoak$$
VETH_HOST=mlsoakh$$
VETH_NS=mlsoakn$$
NET=172.30.215
AGENT_ADDRESS=$NET.2:47215
MAX_RSS_KIB=$((256 * 1024))
MAX_FDS=512

die() { echo "soak: $*" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || die "run as root (network namespace, loop mount, task uids)"
[[ $MINUTES =~ ^[0-9]+$ && $MINUTES -ge 1 ]] || die "MINUTES must be a whole number >= 1"
for bin in "$REMOTE" "$AGENT"; do [[ -x $bin ]] || die "missing $bin: build first (tools/setup.sh)"; done
for tool in ip tc mkfs.ext4 losetup fallocate setpriv docker; do
  command -v "$tool" >/dev/null || die "missing $tool: apt-get install iproute2 e2fsprogs util-linux docker.io"
done
docker info >/dev/null 2>&1 || die "Docker is not running: tools/start-docker.sh"
[[ -x $ROOT/examples/hello/build/busybox ]] || die "run tools/prepare-examples.sh first"

S=${SOAK_DIR:-$(mktemp -d /tmp/mlcube-soak.XXXXXX)}
mkdir -p "$S"
STATE=$S/state
AGENT_PID=
WORKERS=()

cleanup() {
  touch "$S/stop"
  for pid in "${WORKERS[@]}"; do kill "$pid" 2>/dev/null; done
  if [[ -n $AGENT_PID ]]; then
    kill -9 "$AGENT_PID" 2>/dev/null
    wait "$AGENT_PID" 2>/dev/null
  fi
  pkill -9 -f "^$REMOTE " 2>/dev/null
  local instance
  instance=$(printf '%s' "$STATE" | sha256sum | cut -c1-16)
  docker ps -q --filter "label=mlcube-agent.instance=$instance" | xargs -r docker rm -f >/dev/null 2>&1
  pkill -9 -f "^$AGENT supervise" 2>/dev/null
  pkill -9 -f "^$AGENT-supervisor " 2>/dev/null
  [[ -n ${PROBE:-} ]] && mountpoint -q "$PROBE" && umount "$PROBE"
  ip link del "$VETH_HOST" 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  mountpoint -q "$STATE" && umount -l "$STATE"
  if [[ ${SOAK_PASSED:-0} == 1 && -z ${SOAK_DIR:-} ]]; then rm -rf "$S"; fi
}
trap cleanup EXIT

violation() { echo "$*" >>"$S/violations"; echo "soak: violation: $*" >&2; }
count() { echo "$2" >>"$S/count.$1"; }  # count KIND AMOUNT (summed at the end)
sum_of() { [[ -f $S/count.$1 ]] && awk '{s += $1} END {print s + 0}' "$S/count.$1" || echo 0; }

# --- the host: a small filesystem for the state, a network namespace -------
truncate -s 600M "$S/state.img" && mkfs.ext4 -q -F -m 0 "$S/state.img" || die "mkfs.ext4 failed"
mkdir -p "$STATE" && mount -o loop "$S/state.img" "$STATE" || die "cannot loop-mount $S/state.img"
ip netns add "$NS" || die "ip netns add failed"
ip link add "$VETH_HOST" type veth peer name "$VETH_NS" &&
  ip link set "$VETH_NS" netns "$NS" &&
  ip addr add "$NET.1/24" dev "$VETH_HOST" && ip link set "$VETH_HOST" up &&
  ip netns exec "$NS" ip addr add "$NET.2/24" dev "$VETH_NS" &&
  ip netns exec "$NS" ip link set "$VETH_NS" up &&
  ip netns exec "$NS" ip link set lo up || die "veth setup failed"

"$AGENT" certs init --dir="$S/tls" --host="$NET.2" --client-name=soak-a >/dev/null || die "certs init failed"
for id in soak-b soak-c; do
  "$AGENT" certs client --dir="$S/tls" --name="$id" >/dev/null || die "certs client $id failed"
done
mv "$S/tls/client.pem" "$S/tls/soak-a.pem" && mv "$S/tls/client.key" "$S/tls/soak-a.key"
cat >"$S/agent.yaml" <<EOF
listen: ["$AGENT_ADDRESS"]
state_dir: $STATE
max_concurrent_jobs: 8
log_format: json
tls: {ca: $S/tls/ca.pem, cert: $S/tls/server.pem, key: $S/tls/server.key}
task_users: {pool: "3300000-3300099"}
EOF

for id in "${IDENTITIES[@]}"; do
  mkdir -p "$S/$id"
  cat >"$S/$id/hosts.yaml" <<EOF
default_host: shared
hosts:
  shared:
    address: $AGENT_ADDRESS
    tls: {ca: $S/tls/ca.pem, cert: $S/tls/$id.pem, key: $S/tls/$id.key}
    env: {GREET_DELAY: '0.05', COUNT_SECONDS: '30'}
EOF
  cp -r "$ROOT/examples/hello" "$S/$id/cube"
  mkdir -p "$S/$id/cube/workspace/data"
done
as() { local id=$1; shift; XDG_CACHE_HOME="$S/$id/cache" NO_COLOR=1 "$REMOTE" --hosts="$S/$id/hosts.yaml" "$@"; }

agent_answers() { as soak-a -q hosts >/dev/null 2>&1; }
start_agent() {
  ip netns exec "$NS" "$AGENT" serve --config="$S/agent.yaml" >>"$S/agent.log" 2>&1 &
  AGENT_PID=$!
  local deadline=$((SECONDS + 60))
  until agent_answers; do
    ((SECONDS < deadline)) || { violation "the agent did not answer within 60 s of a start"; return 1; }
    sleep 0.2
  done
}
start_agent || die "the agent does not start: $(tail -n 5 "$S/agent.log")"
for id in "${IDENTITIES[@]}"; do
  as "$id" -q configure --mlcube="$S/$id/cube" >"$S/$id/configure.log" 2>&1 ||
    die "configure as $id failed: $(tail -n 3 "$S/$id/configure.log")"
done

# --- the workload ------------------------------------------------------------
# A tree that changes: a new data file each time, whose first and last lines
# name the same version (a torn copy would not), and a new names list.
change_tree() {
  local dir=$1 version=$2
  {
    echo "BEGIN $version"
    head -c $((RANDOM * 8)) /dev/urandom | base64
    echo "END $version"
  } >"$dir/workspace/data/blob-$((version % 5)).txt"
  : >"$dir/workspace/names.txt"
  for ((n = 0; n < 2 + RANDOM % 5; n++)); do echo "v${version}n$n" >>"$dir/workspace/names.txt"; done
  count bytes "$(stat -c %s "$dir/workspace/data/blob-$((version % 5)).txt")"
}

greet_once() {
  local id=$1 cube=$S/$1/cube
  rm -rf "$cube/workspace/greetings"
  if as "$id" -q run --mlcube="$cube" --task=greet >"$S/$id/greet.out" 2>"$S/$id/greet.err"; then
    local name
    while read -r name; do
      if [[ "$(cat "$cube/workspace/greetings/$name.txt" 2>/dev/null)" != "Hello, $name!" ]]; then
        violation "$id: pulled greetings/$name.txt is not what the task wrote"
      fi
      count bytes "$(stat -c %s "$cube/workspace/greetings/$name.txt" 2>/dev/null || echo 0)"
    done <"$cube/workspace/names.txt"
  fi
}

sweep_once() {
  local id=$1 cube=$S/$1/cube
  echo "name: x" >"$cube/workspace/names.yaml"
  as "$id" -q run --mlcube="$cube" --task=greet \
    -P tasks.greet.parameters.inputs.name_file.default=names.yaml \
    --sweep=name_file:name=Ann,Bob,Cy --parallel=3 >"$S/$id/sweep.out" 2>"$S/$id/sweep.err" || return 0
  local sweep
  sweep=$(ls -t "$cube/workspace/runs" | head -n 1)
  local i name
  for i in 0 1 2; do
    name=$(echo Ann Bob Cy | cut -d' ' -f$((i + 1)))
    if [[ "$(cat "$cube/workspace/runs/$sweep/r00$i/greetings/name__$name.txt" 2>/dev/null)" != "Hello, name: $name!" ]]; then
      violation "$id: sweep $sweep run r00$i: pulled output is not what the task wrote"
    fi
  done
}

# The tick numbers a log holds, one per line.
ticks_of() { sed -n 's/^tick \([0-9]*\)$/\1/p' "$1"; }

# Whatever a follower saw is each tick once, from 1, in order; one that ran
# to the job's end (exit 130: cancelled) saw every tick the job's log holds.
check_follower() {
  local id=$1 job=$2 out=$3 rc=$4
  local expected=1 n
  while read -r n; do
    if [[ $n != "$expected" ]]; then
      violation "$id: job $job: follower saw tick $n where tick $expected was due"
      return 0
    fi
    expected=$((expected + 1))
  done < <(ticks_of "$out")
  count lines $((expected - 1))
  [[ $rc == 130 ]] || return 0
  if as "$id" -q logs "$job" >"$out.full" 2>/dev/null &&
    [[ "$(ticks_of "$out.full" | wc -l)" != $((expected - 1)) ]]; then
    violation "$id: job $job: follower saw $((expected - 1)) ticks, the job's log holds $(ticks_of "$out.full" | wc -l)"
  fi
}

count_once() {
  local id=$1 cube=$S/$1/cube iteration=$2
  local job
  job=$(as "$id" -q run --mlcube="$cube" --task=count --detach 2>>"$S/$id/count.err" | head -n 1)
  [[ $job =~ ^[0-9a-f]{8}$ ]] || return 0
  echo "$job" >>"$S/$id/jobs"
  local out=$S/$id/follow-$iteration
  (
    as "$id" -q logs -f "$job" >"$out" 2>"$out.err"
    echo $? >"$out.rc"
  ) &
  local follower=$!
  sleep $((3 + RANDOM % 6))
  local deadline=$((SECONDS + 120))
  until as "$id" -q cancel "$job" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || break
    sleep 1
  done
  wait "$follower"
  check_follower "$id" "$job" "$out" "$(cat "$out.rc" 2>/dev/null || echo 137)"
}

worker() {
  local id=$1 i=0
  while [[ ! -e $S/stop ]]; do
    i=$((i + 1))
    change_tree "$S/$id/cube" "$i"
    local started=$SECONDS
    case $((RANDOM % 5)) in
      0 | 1) greet_once "$id" ;;
      2) sweep_once "$id" ;;
      3) count_once "$id" "$i" ;;
      4) as "$id" -q sync push --mlcube="$S/$id/cube" >/dev/null 2>&1 ;;
    esac
    # What failed at once (Docker restarting, the disk full) is not retried
    # in a tight loop.
    ((SECONDS > started)) || sleep 1
  done
}

# --- the faults -------------------------------------------------------------
sample_agent() {
  [[ -d /proc/$AGENT_PID ]] || return 0
  local rss fds
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$AGENT_PID/status" 2>/dev/null || echo 0)
  fds=$(find "/proc/$AGENT_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
  echo "$rss $fds" >>"$S/agent-samples"
}

fault() {
  case $((RANDOM % 6)) in
    0)
      echo "kill -9 agent" >>"$S/faults"
      kill -9 "$AGENT_PID" 2>/dev/null
      wait "$AGENT_PID" 2>/dev/null
      start_agent
      ;;
    1)
      local victim
      victim=$(pgrep -f "^$REMOTE " | shuf -n 1)
      [[ -n $victim ]] && kill -9 "$victim" 2>/dev/null
      echo "kill -9 controller" >>"$S/faults"
      ;;
    2)
      echo "link cut 3 s" >>"$S/faults"
      ip link set "$VETH_HOST" down
      sleep 3
      ip link set "$VETH_HOST" up
      ;;
    3)
      echo "link at 1 Mbit/s for 5 s" >>"$S/faults"
      tc qdisc add dev "$VETH_HOST" root tbf rate 1mbit burst 32kbit latency 400ms 2>/dev/null
      sleep 5
      tc qdisc del dev "$VETH_HOST" root 2>/dev/null
      ;;
    4)
      echo "state filesystem full for 4 s" >>"$S/faults"
      local free
      free=$(df --output=avail -B1 "$STATE" | tail -n 1)
      fallocate -l "$free" "$STATE/filler" 2>/dev/null || true
      sleep 4
      rm -f "$STATE/filler"
      ;;
    5)
      echo "Docker daemon restart" >>"$S/faults"
      pkill -TERM -x dockerd
      local deadline=$((SECONDS + 60))
      while pgrep -x dockerd >/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
      bash "$ROOT/tools/start-docker.sh" >>"$S/docker-restarts.log" 2>&1 ||
        violation "Docker did not come back after a restart"
      ;;
  esac
}

for id in "${IDENTITIES[@]}"; do
  worker "$id" &
  WORKERS+=($!)
done
end=$((SECONDS + MINUTES * 60))
while ((SECONDS < end)); do
  sleep $((3 + RANDOM % 6))
  if ! kill -0 "$AGENT_PID" 2>/dev/null; then
    violation "the agent exited on its own: $(tail -n 3 "$S/agent.log" | tr '\n' ' ')"
    start_agent
  fi
  sample_agent
  fault
  sample_agent
done
touch "$S/stop"
for pid in "${WORKERS[@]}"; do wait "$pid"; done
agent_answers || start_agent

# --- the checks -----------------------------------------------------------------
# Jobs left running (a cancel that a fault swallowed) are cancelled now;
# then every job must be in one terminal state, and stay there.
job_states() { as "$1" -q jobs --all 2>/dev/null | grep -E '^[0-9a-f]{8} ' | awk '{print $1, $2}'; }
for id in "${IDENTITIES[@]}"; do
  job_states "$id" | awk '$2 != "SUCCEEDED" && $2 != "FAILED" && $2 != "CANCELLED" {print $1}' |
    while read -r job; do as "$id" -q cancel "$job" >/dev/null 2>&1; done
done
deadline=$((SECONDS + 180))
for id in "${IDENTITIES[@]}"; do
  until ! job_states "$id" | grep -qvE ' (SUCCEEDED|FAILED|CANCELLED)$'; do
    if ((SECONDS > deadline)); then
      violation "$id: jobs not in a terminal state 180 s after the end: $(job_states "$id" | grep -vE ' (SUCCEEDED|FAILED|CANCELLED)$' | tr '\n' ' ')"
      break
    fi
    sleep 1
  done
  job_states "$id" | sort >"$S/$id/states-1"
done
sleep 2
jobs_total=0
for id in "${IDENTITIES[@]}"; do
  job_states "$id" | sort >"$S/$id/states-2"
  cmp -s "$S/$id/states-1" "$S/$id/states-2" || violation "$id: a terminal job changed state"
  jobs_total=$((jobs_total + $(wc -l <"$S/$id/states-2")))
done

# Nobody sees another identity's jobs or reads its workspace as its task uid.
for id in "${IDENTITIES[@]}"; do
  other=${IDENTITIES[$(((RANDOM % 2) + 1))]}
  [[ $other == "$id" ]] && other=${IDENTITIES[0]}
  job=$(awk 'NR == 1 {print $1}' "$S/$other/states-2")
  if [[ -n $job ]] && as "$id" -q status "$job" >/dev/null 2>&1; then
    violation "$id sees $other's job $job"
  fi
done
# Each workspace's data directory, bind-mounted where anyone may look (as a
# task's mount, or a raced one, puts it): its owner's task uid reads a file
# of it, the other identities' task uids do not.
task_uid() { awk -v who="cn-$1" '$1 == who {print $2}' "$STATE/task_users.list"; }
reads_as() { setpriv --reuid="$1" --regid="$1" --clear-groups cat "$2" >/dev/null 2>&1; }
PROBE=$(mktemp -d /tmp/mlcube-soak-probe.XXXXXX)
chmod 755 "$PROBE"
for id in "${IDENTITIES[@]}"; do
  for data in "$STATE/cubes/cn-$id"/cube-*/workspace/data; do
    [[ -d $data ]] && mount --bind "$data" "$PROBE" || continue
    file=$(find "$PROBE" -maxdepth 1 -name 'blob-*.txt' -type f | head -n 1)
    if [[ -n $file ]]; then
      reads_as "$(task_uid "$id")" "$file" ||
        violation "$id's task uid cannot read its own $data/${file##*/} (the check would see nothing)"
      for other in "${IDENTITIES[@]}"; do
        [[ $other == "$id" ]] && continue
        if reads_as "$(task_uid "$other")" "$file"; then
          violation "the task uid of $other reads $id's $data/${file##*/}"
        fi
      done
      count checks 1
    fi
    umount "$PROBE"
  done
done
[[ $(sum_of checks) -gt 0 ]] || violation "no workspace was there to check isolation on"
rmdir "$PROBE"

# No torn file in any workspace on the agent.
while read -r file; do
  first=$(head -n 1 "$file")
  last=$(tail -n 1 "$file")
  [[ $first == BEGIN* && ${last#END} == "${first#BEGIN}" ]] || violation "torn file on the agent: $file"
done < <(find "$STATE/cubes" -name 'blob-*.txt' -type f)

# The agent's memory and descriptors stayed bounded.
if [[ -f $S/agent-samples ]]; then
  read -r max_rss max_fds < <(awk '$1 > r {r = $1} $2 > f {f = $2} END {print r + 0, f + 0}' "$S/agent-samples")
  ((max_rss <= MAX_RSS_KIB)) || violation "agent resident memory reached $((max_rss / 1024)) MiB (bound $((MAX_RSS_KIB / 1024)) MiB)"
  ((max_fds <= MAX_FDS)) || violation "agent descriptors reached $max_fds (bound $MAX_FDS)"
fi

lines_in() { if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi; }
faults=$(lines_in "$S/faults")
violations=$(lines_in "$S/violations")
echo "soak: $MINUTES min, $faults faults, $jobs_total jobs, $(sum_of lines) lines, $(sum_of bytes) bytes, $violations violations"
if ((violations == 0)); then
  SOAK_PASSED=1
  exit 0
fi
echo "soak: its files (agent log, faults, violations) are in $S" >&2
SOAK_DIR=$S
exit 1
