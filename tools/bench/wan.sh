#!/usr/bin/env bash
# WAN sync benchmark, side by side from one run: mlcube-remote sync vs
# `rsync -a` and `rsync -az` over ssh, on a realistic ML project (300 source
# files, 20 CSV files of 2.5 MiB, two 32 MiB shards, a 64 MiB checkpoint)
# through a shaped link. The agent and sshd run in a network namespace behind
# a veth pair shaped with tbf (rate) in both directions, and each is reached
# through tools/bench/delay_proxy.py (latency), so both tools cross the same
# link. Scenarios: initial push, no-op, one source file edited, the 64 MiB
# checkpoint with 1 MiB appended, 100 bytes changed in the middle of a CSV.
#
#   tools/bench/wan.sh [BUILD_DIR]                      (default: ./build)
# Without WAN_RATE it runs twice: a WAN (100 Mbit/s, 40 ms RTT) and a LAN
# (1 Gbit/s, 0.2 ms RTT).
# Env: WAN_RATE (tbf rate, e.g. 100mbit), WAN_RTT_MS (default 40),
#      WAN_BURST (tbf burst, default 32kbit; 1mbit at 1gbit),
#      BENCH_DIR (scratch, default /tmp/mlcube-wan-bench).
# Needs root (ip netns, tc), openssh-server, rsync, python3. Run by hand, not
# in CI. Everything it creates (namespace, veth, processes) is removed on exit.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
if [ -z "${WAN_RATE:-}" ]; then
  WAN_RATE=100mbit WAN_RTT_MS=40 "$0" "$@"
  WAN_RATE=1gbit WAN_RTT_MS=0.2 WAN_BURST=1mbit "$0" "$@"
  exit 0
fi
BUILD=$(cd "${1:-$HERE/../../build}" && pwd)
REMOTE_BIN=$BUILD/controller/mlcube-remote
AGENT_BIN=$BUILD/agent/mlcube-agent
B=${BENCH_DIR:-/tmp/mlcube-wan-bench}
RATE=$WAN_RATE
BURST=${WAN_BURST:-32kbit}
RTT_MS=${WAN_RTT_MS:-40}
NS=wan-bench-$$
VETH_HOST=wanbh$$
VETH_NS=wanbn$$
NET=172.30.214
HOST_IP=$NET.1
NS_IP=$NET.2
AGENT_PORT=47014
SSH_PORT=47022
PROXY_AGENT=47114
PROXY_SSH=47122

for bin in "$REMOTE_BIN" "$AGENT_BIN"; do
  [ -x "$bin" ] || { echo "missing $bin: build first (ninja -C build mlcube-remote mlcube-agent)" >&2; exit 1; }
done
for tool in rsync /usr/sbin/sshd ip tc python3 bc; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install openssh-server rsync iproute2 python3 bc" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "run as root (network namespace and tc)" >&2; exit 1; }

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  ip netns pids "$NS" 2>/dev/null | while read -r pid; do kill "$pid" 2>/dev/null || true; done
  ip link del "$VETH_HOST" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT

# --- the shaped link --------------------------------------------------------
ip netns add "$NS"
ip link add "$VETH_HOST" type veth peer name "$VETH_NS"
ip link set "$VETH_NS" netns "$NS"
ip addr add "$HOST_IP/24" dev "$VETH_HOST"
ip link set "$VETH_HOST" up
ip -n "$NS" addr add "$NS_IP/24" dev "$VETH_NS"
ip -n "$NS" link set "$VETH_NS" up
ip -n "$NS" link set lo up
# Offloads would hand tbf 64 KiB super-packets; shape real packets.
ethtool -K "$VETH_HOST" tso off gso off gro off >/dev/null 2>&1 || true
ip netns exec "$NS" ethtool -K "$VETH_NS" tso off gso off gro off >/dev/null 2>&1 || true
tc qdisc add dev "$VETH_HOST" root tbf rate "$RATE" burst "$BURST" latency 400ms
ip netns exec "$NS" tc qdisc add dev "$VETH_NS" root tbf rate "$RATE" burst "$BURST" latency 400ms

rm -rf "$B"; mkdir -p "$B"
echo "building the ML project in $B/cube ..." >&2
python3 "$HERE/make_ml_project.py" "$B/cube"

# --- sshd and the agent inside the namespace, each behind a delay proxy -----
mkdir -p /run/sshd "$B/sshd"
ssh-keygen -q -t ed25519 -N '' -f "$B/sshd/hostkey"
ssh-keygen -q -t ed25519 -N '' -f "$B/sshd/userkey"
cp "$B/sshd/userkey.pub" "$B/sshd/authorized_keys"
cat > "$B/sshd/sshd_config" <<CONF
Port $SSH_PORT
ListenAddress $NS_IP
HostKey $B/sshd/hostkey
AuthorizedKeysFile $B/sshd/authorized_keys
PidFile $B/sshd/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
PermitRootLogin prohibit-password
CONF
ip netns exec "$NS" /usr/sbin/sshd -D -f "$B/sshd/sshd_config" -E "$B/sshd/sshd.log" &
PIDS+=($!)
# The agent as on a shared GPU server: TCP with mutual TLS (a plain TCP
# listener is refused off loopback). The client reaches it through the proxy
# at 127.0.0.1, so the server certificate names that address too.
"$AGENT_BIN" certs init --dir="$B/tls" --host=127.0.0.1 --host="$NS_IP" >/dev/null
cat > "$B/agent.yaml" <<CONF
listen: ["$NS_IP:$AGENT_PORT"]
state_dir: $B/agent-state
tls: {ca: $B/tls/ca.pem, cert: $B/tls/server.pem, key: $B/tls/server.key}
CONF
cat > "$B/hosts.yaml" <<CONF
hosts:
  wan:
    address: 127.0.0.1:$PROXY_AGENT
    tls: {ca: $B/tls/ca.pem, cert: $B/tls/client.pem, key: $B/tls/client.key}
CONF
ip netns exec "$NS" "$AGENT_BIN" serve --config="$B/agent.yaml" 2>"$B/agent.log" &
PIDS+=($!)
HALF=$(echo "$RTT_MS / 2" | bc -l)
python3 "$HERE/delay_proxy.py" --listen "127.0.0.1:$PROXY_AGENT" --target "$NS_IP:$AGENT_PORT" --delay-ms "$HALF" &
PIDS+=($!)
python3 "$HERE/delay_proxy.py" --listen "127.0.0.1:$PROXY_SSH" --target "$NS_IP:$SSH_PORT" --delay-ms "$HALF" &
PIDS+=($!)
SSH="ssh -p $PROXY_SSH -i $B/sshd/userkey -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
RHOST="$(id -un)@127.0.0.1"
for _ in $(seq 100); do $SSH "$RHOST" true 2>/dev/null && break; sleep 0.1; done
$SSH "$RHOST" true || { echo "sshd behind the proxy did not come up ($B/sshd/sshd.log)" >&2; exit 1; }

export XDG_CACHE_HOME="$B/cache"
PUSH=("$REMOTE_BIN" -q "--hosts=$B/hosts.yaml" sync push --host=wan "--mlcube=$B/cube")
# The agent answers through the shaped link (this also shows the RTT).
for _ in $(seq 10); do
  "$REMOTE_BIN" "--hosts=$B/hosts.yaml" hosts >"$B/hosts.out" 2>&1 && grep -q '^wan\*\? *up ' "$B/hosts.out" && break
  sleep 1
done
cat "$B/hosts.out" >&2
for _ in $(seq 300); do grep -q listening "$B/agent.log" 2>/dev/null && break; sleep 0.1; done
grep -q listening "$B/agent.log" || { echo "the agent did not start ($B/agent.log)" >&2; exit 1; }

# shellcheck source=tools/bench/lib.sh
source "$HERE/lib.sh"
rsync_sent() { grep -o 'Total bytes sent: [0-9,.]*' "$B/last.out" | tr -dc 0-9; }

declare -A T S
run_all() {  # KEY
  T[ours,$1]=$(timeit --digits=2 "${PUSH[@]}"); S[ours,$1]=$(ours_sent)
  T[rsync,$1]=$(timeit --digits=2 rsync -a --stats -e "$SSH" "$B/cube/" "$RHOST:$B/dest-a/"); S[rsync,$1]=$(rsync_sent)
  T[rsyncz,$1]=$(timeit --digits=2 rsync -az --stats -e "$SSH" "$B/cube/" "$RHOST:$B/dest-z/"); S[rsyncz,$1]=$(rsync_sent)
}
run_all initial
run_all noop
echo "# edited" >> "$B/cube/workspace/src/model/module_042.py"
run_all edit
head -c 1048576 /dev/urandom >> "$B/cube/workspace/checkpoints/model.ckpt"
run_all append
python3 - "$B/cube/workspace/data/csv/part-07.csv" <<'PY'
import sys
path = sys.argv[1]
with open(path, "r+b") as f:
    f.seek(1310720)
    f.write(b"9" * 100)
PY
run_all csv

printf '\n%s, RTT %s ms (delay proxy) + tbf, %s cores, load %s\n' "$RATE" "$RTT_MS" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '| scenario | mlcube-remote | sent | rsync -a | sent | rsync -az | sent |\n'
printf '|---|---:|---:|---:|---:|---:|---:|\n'
for k in initial:"initial push" noop:"no-op" edit:"one source file edited" \
         append:"64 MiB checkpoint + 1 MiB appended" csv:"100 bytes changed mid-CSV"; do
  key=${k%%:*}; label=${k#*:}
  printf '| %s | %s s | %s | %s s | %s | %s s | %s |\n' "$label" \
    "${T[ours,$key]}" "$(human "${S[ours,$key]}")" "${T[rsync,$key]}" "$(human "${S[rsync,$key]}")" \
    "${T[rsyncz,$key]}" "$(human "${S[rsyncz,$key]}")"
done
echo "(sent: payload bytes our client sent, after compression; rsync: its 'Total bytes sent')"
