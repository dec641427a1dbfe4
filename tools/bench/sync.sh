#!/usr/bin/env bash
# Sync benchmark of DESIGN.md, side by side from one run:
#   mlcube-remote sync (local agent on a unix socket) vs `rsync -a` over ssh
#   (sshd on 127.0.0.1, throwaway keys) vs local `cp -a`.
# Scenarios: initial push, no-op re-sync, one 64 MiB file appended, one small
# file touched, the same data in a second cube, pulling 100 MiB of outputs, pulling them again
# after one more output was written.
#
#   tools/bench/sync.sh [BUILD_DIR]       (default: ./build)
# Needs: openssh-server, rsync (apt-get install openssh-server rsync).
# Env: BENCH_DIR (scratch dir, default /tmp/mlcube-sync-bench), BENCH_PORT.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-$HERE/../../build}" && pwd)
REMOTE_BIN=$BUILD/controller/mlcube-remote
AGENT_BIN=$BUILD/agent/mlcube-agent
B=${BENCH_DIR:-/tmp/mlcube-sync-bench}
PORT=${BENCH_PORT:-22522}

for bin in "$REMOTE_BIN" "$AGENT_BIN"; do
  [ -x "$bin" ] || { echo "missing $bin: build first (ninja -C build mlcube-remote mlcube-agent)" >&2; exit 1; }
done
for tool in rsync /usr/sbin/sshd; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install openssh-server rsync" >&2; exit 1; }
done

AGENT_PID=""; SSHD_PID=""
cleanup() {
  [ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null || true
  [ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null || true
}
trap cleanup EXIT

rm -rf "$B"; mkdir -p "$B"
echo "building the workspace (8 x 64 MiB + 20,000 small files) in $B/cube ..." >&2
python3 "$HERE/make_workspace.py" "$B/cube"

# --- sshd on loopback with throwaway keys -----------------------------------
# shellcheck source=tools/bench/loopback_sshd.sh
. "$HERE/loopback_sshd.sh"
start_loopback_sshd "$B/sshd" "$PORT"

# --- the agent -----------------------------------------------------------------
"$AGENT_BIN" serve --listen="unix://$B/agent.sock" --state-dir="$B/agent-state" 2>"$B/agent.log" &
AGENT_PID=$!
for _ in $(seq 100); do [ -S "$B/agent.sock" ] && break; sleep 0.05; done
export XDG_CACHE_HOME="$B/cache"
PUSH=("$REMOTE_BIN" -q sync push "--agent=unix://$B/agent.sock")
PULL=("$REMOTE_BIN" -q sync pull "--agent=unix://$B/agent.sock")

# shellcheck source=tools/bench/lib.sh
source "$HERE/lib.sh"
sent() { ours_sent; }

declare -A T S
# 1. initial push
T[ours,initial]=$(timeit /usr/bin/time -f %M -o "$B/client.rss" "${PUSH[@]}" --mlcube="$B/cube"); S[ours,initial]=$(sent)
AGENT_RSS_KB=$(awk '/VmHWM/ {print $2}' "/proc/$AGENT_PID/status")
T[rsync,initial]=$(timeit rsync -a -e "$SSH" "$B/cube/" "$RHOST:$B/rsync-dest/")
T[cp,initial]=$(timeit cp -a "$B/cube" "$B/cp-dest")
# 2. no-op
T[ours,noop]=$(timeit "${PUSH[@]}" --mlcube="$B/cube"); S[ours,noop]=$(sent)
T[rsync,noop]=$(timeit rsync -a -e "$SSH" "$B/cube/" "$RHOST:$B/rsync-dest/")
T[cp,noop]=-
# 3. one 64 MiB file appended (1 MiB more)
head -c 1048576 /dev/urandom >> "$B/cube/workspace/data/shard-3.bin"
T[ours,append]=$(timeit "${PUSH[@]}" --mlcube="$B/cube"); S[ours,append]=$(sent)
T[rsync,append]=$(timeit rsync -a -e "$SSH" "$B/cube/" "$RHOST:$B/rsync-dest/")
T[cp,append]=$(timeit cp -a "$B/cube/workspace/data/shard-3.bin" "$B/cp-dest/workspace/data/shard-3.bin")
# 4. one small file touched
sleep 0.01; touch "$B/cube/workspace/data/small/050/f10000.txt"
T[ours,touch]=$(timeit "${PUSH[@]}" --mlcube="$B/cube"); S[ours,touch]=$(sent)
T[rsync,touch]=$(timeit rsync -a -e "$SSH" "$B/cube/" "$RHOST:$B/rsync-dest/")
T[cp,touch]=$(timeit cp -a "$B/cube/workspace/data/small/050/f10000.txt" "$B/cp-dest/workspace/data/small/050/")
# 5. the same data in a second cube
cp -a "$B/cube" "$B/cube2"
T[ours,second]=$(timeit "${PUSH[@]}" --mlcube="$B/cube2"); S[ours,second]=$(sent)
T[rsync,second]=$(timeit rsync -a -e "$SSH" "$B/cube2/" "$RHOST:$B/rsync-dest2/")
T[cp,second]=$(timeit cp -a "$B/cube2" "$B/cp-dest2")
# 6. pulling 100 MiB of outputs (1 x 64 MiB + 36 x 1 MiB) written on the agent
CUBE_DIR=$(ls -d "$B"/agent-state/cubes/*/cube-* | head -1)
mkdir -p "$CUBE_DIR/workspace/out" "$B/rsync-dest/workspace/out"
head -c 64M /dev/urandom > "$CUBE_DIR/workspace/out/model.bin"
for i in $(seq 36); do head -c 1M /dev/urandom > "$CUBE_DIR/workspace/out/part-$i.bin"; done
cp -a "$CUBE_DIR/workspace/out/." "$B/rsync-dest/workspace/out/"
T[ours,pull]=$(timeit "${PULL[@]}" --mlcube="$B/cube" --path=out); S[ours,pull]=$(sent)
T[rsync,pull]=$(timeit rsync -a -e "$SSH" "$RHOST:$B/rsync-dest/workspace/out/" "$B/rsync-pull/")
T[cp,pull]=$(timeit cp -a "$CUBE_DIR/workspace/out" "$B/cp-pull")
# 7. pulling the outputs again after one more (1 MiB) was written on the agent
head -c 1M /dev/urandom > "$CUBE_DIR/workspace/out/part-new.bin"
cp -a "$CUBE_DIR/workspace/out/part-new.bin" "$B/rsync-dest/workspace/out/"
T[ours,repull]=$(timeit "${PULL[@]}" --mlcube="$B/cube" --path=out); S[ours,repull]=$(sent)
T[rsync,repull]=$(timeit rsync -a -e "$SSH" "$RHOST:$B/rsync-dest/workspace/out/" "$B/rsync-pull/")
T[cp,repull]=$(timeit cp -a "$CUBE_DIR/workspace/out/part-new.bin" "$B/cp-pull/")

ratio() { if [ "$2" = "-" ]; then echo "-"; else echo "$1 / $2" | bc -l | xargs printf '%.2fx'; fi; }
printf '\n| scenario | mlcube-remote sync | sent | rsync -a over ssh | cp -a | ours/cp | rsync/ours |\n'
printf '|---|---:|---:|---:|---:|---:|---:|\n'
for k in initial:"initial push (632 MiB)" noop:"no-op re-sync" append:"one 64 MiB file appended (+1 MiB)" \
         touch:"one small file touched" second:"same data, second cube" pull:"pull 100 MiB of outputs" \
         repull:"pull again, one new 1 MiB output"; do
  key=${k%%:*}; label=${k#*:}
  printf '| %s | %s s | %s | %s s | %s | %s | %s |\n' "$label" "${T[ours,$key]}" "$(human "${S[ours,$key]:-0}")" \
    "${T[rsync,$key]}" "$( [ "${T[cp,$key]}" = - ] && echo - || echo "${T[cp,$key]} s")" \
    "$(ratio "${T[ours,$key]}" "${T[cp,$key]}")" "$(ratio "${T[rsync,$key]}" "${T[ours,$key]}")"
done
echo
echo "(sent: payload bytes our client sent; for pull: bytes received. $(nproc) cores, $(uname -r))"
echo "peak RSS during the initial push: client $(( $(cat "$B/client.rss") / 1024 )) MiB, agent $(( AGENT_RSS_KB / 1024 )) MiB"
