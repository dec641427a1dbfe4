#!/usr/bin/env bash
# Latency of `mlcube-remote runs` over 1,000 finished runs (target: under
# 200 ms), for the table, --sort on a metric, --json and --csv. Writes a
# sweep record of 1,000 runs with two swept values and three metrics into a
# throwaway cube, then times each form 11 times and prints the median and the
# worst. Needs no agent. Usage: tools/bench/runs_bench.sh [BUILD_DIR]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
CLI=$BUILD/controller/mlcube-remote
[[ -x /usr/bin/time ]] || { echo "runs_bench: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
[[ -x $CLI ]] || { echo "runs_bench: build first: ninja -C $BUILD mlcube-remote" >&2; exit 1; }
DIR=$(mktemp -d /tmp/mlcube-runs-bench-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
mkdir -p "$DIR/cube/workspace/runs/bench"
cat >"$DIR/cube/mlcube.yaml" <<'YAML'
name: bench
docker: {image: x}
tasks:
  train: {parameters: {inputs: {parameters_file: {type: file, default: p.yaml}}}}
YAML
python3 - "$DIR/cube/workspace/runs/bench/sweep.yaml" <<'PY'
import sys
out = ["id: bench", "cube: bench", "tasks: [train]", "axes: [parameters_file:lr, parameters_file:batch]",
       "created_unix_ms: 1", "metrics: out/metrics.yaml", "runs:"]
for i in range(1000):
    out += [f"  - id: r{i:03d}", f"    index: {i}", "    repetition: 0",
            f"    values: {{parameters_file:lr: '{(i % 50) * 0.001:.3f}', parameters_file:batch: '{32 << (i % 3)}'}}",
            f"    run_dir: runs/bench/r{i:03d}", "    host: gpu01", f"    job_id: {i:08x}",
            "    state: SUCCEEDED", "    submitted_unix_ms: 1700000000000",
            "    started_unix_ms: 1700000001000", f"    finished_unix_ms: {1700000060000 + i}",
            "    exit_code: 0",
            f"    metrics: {{accuracy: '{(i * 7919) % 1000 / 1000}', loss: '{1 / (i + 1):.5f}', dice.mean: '0.{i % 97:02d}'}}"]
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY
# Wall time is what the user waits; CPU time (user + sys) is what it costs
# and hardly moves when other work shares the machine.
measure() {
  local name=$1; shift
  local walls=() cpus=()
  for _ in $(seq 11); do
    local line
    line=$( { /usr/bin/time -f "%e %U %S" "$CLI" runs --mlcube="$DIR/cube" "$@" >/dev/null; } 2>&1 | tail -n 1)
    read -r wall user sys <<<"$line"
    walls+=("$(awk -v w="$wall" 'BEGIN { printf "%d", w * 1000 }')")
    cpus+=("$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%d", (u + s) * 1000 }')")
  done
  local w c
  mapfile -t w < <(printf '%s\n' "${walls[@]}" | sort -n)
  mapfile -t c < <(printf '%s\n' "${cpus[@]}" | sort -n)
  printf '%-26s wall median %4d ms (worst %4d)   cpu median %4d ms\n' "$name" "${w[5]}" "${w[10]}" "${c[5]}"
}
echo "mlcube-remote runs over 1,000 finished runs (target < 200 ms); load: $(cut -d" " -f1-3 /proc/loadavg)"
measure "table" bench
measure "table --sort=-accuracy" bench --sort=-accuracy
measure "--json" bench --json
measure "--csv" --csv
