#!/usr/bin/env bash
# Two builds of mlcube-remote side by side in one run, on the incremental
# sync cases of tools/bench/sync.sh (the workspace of make_workspace.py):
# each build's client pushes to its own agent, in alternating order, ROUNDS
# times per case; prints the median of each.
#
#   tools/bench/sync_ab.sh OLD_BUILD_DIR NEW_BUILD_DIR [ROUNDS]   (default 7)
#
# To build an older revision beside this one (ccache makes it quick):
#   git worktree add /tmp/old REV && cmake -S /tmp/old -B /tmp/old/build -G Ninja \
#     -DCMAKE_BUILD_TYPE=RelWithDebInfo && ninja -C /tmp/old/build mlcube-agent mlcube-remote
# Env: BENCH_DIR (scratch dir, default /tmp/mlcube-sync-ab).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 2 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
OLD=$(cd "$1" && pwd)
NEW=$(cd "$2" && pwd)
ROUNDS=${3:-7}
B=${BENCH_DIR:-/tmp/mlcube-sync-ab}
for build in "$OLD" "$NEW"; do
  for bin in agent/mlcube-agent controller/mlcube-remote; do
    [ -x "$build/$bin" ] || { echo "missing $build/$bin: build it first" >&2; exit 1; }
  done
done

PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

rm -rf "$B"; mkdir -p "$B"
echo "building the workspace (8 x 64 MiB + 20,000 small files) in $B/cube ..." >&2
python3 "$HERE/make_workspace.py" "$B/cube"
for side in old new; do
  build=$OLD; [ "$side" = new ] && build=$NEW
  "$build/agent/mlcube-agent" serve --listen="unix://$B/$side.sock" --state-dir="$B/$side-state" \
    2>"$B/$side-agent.log" &
  PIDS+=($!)
  for _ in $(seq 100); do [ -S "$B/$side.sock" ] && break; sleep 0.05; done
done

# push SIDE: one push of the cube by SIDE's client to SIDE's agent; prints seconds.
push() {
  local build=$OLD; [ "$1" = new ] && build=$NEW
  local start end
  start=$(date +%s.%N)
  XDG_CACHE_HOME="$B/$1-cache" "$build/controller/mlcube-remote" -q sync push \
    "--agent=unix://$B/$1.sock" --mlcube="$B/cube" >/dev/null
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
median() { sort -g | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]}'; }

push old >/dev/null; push new >/dev/null
declare -A TIMES
small=$B/cube/workspace/data/small/050/f10000.txt
for round in $(seq "$ROUNDS"); do
  order=(old new); ((round % 2)) || order=(new old)
  for case in noop append touch; do
    for side in "${order[@]}"; do
      # The change is made once per round, before the first side's push;
      # the second side sees the same change (its own cache is as old).
      if [ "$side" = "${order[0]}" ]; then
        case $case in
          append) head -c 1048576 /dev/urandom >>"$B/cube/workspace/data/shard-3.bin" ;;
          touch) echo "round $round" >>"$small" ;;
        esac
      fi
      TIMES[$side,$case]+="$(push "$side") "
    done
  done
done

printf '\n| case (median of %d) | old | new | new/old |\n|---|---:|---:|---:|\n' "$ROUNDS"
for case in noop append touch; do
  o=$(tr ' ' '\n' <<<"${TIMES[old,$case]}" | grep . | median)
  n=$(tr ' ' '\n' <<<"${TIMES[new,$case]}" | grep . | median)
  printf '| %s | %s s | %s s | %.2fx |\n' "$case" "$o" "$n" "$(echo "$n / $o" | bc -l)"
done
echo
echo "(old: $OLD, new: $NEW; $(nproc) cores, $(uname -r))"
