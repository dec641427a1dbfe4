# shellcheck shell=bash
# Helpers shared by the benchmarks (sourced, not run). The caller sets B, its scratch directory:
# a timed command's stdout and stderr land in $B/last.out and $B/last.err.

now() { date +%s.%N; }

# timeit [--digits=N] CMD...: runs CMD and prints its wall time in seconds (3 decimals unless
# told). The page cache is flushed first, outside the timing, so one tool's dirty data does not
# slow the next. A failing CMD stops the benchmark with its stderr.
timeit() {
  local digits=3
  if [[ $1 == --digits=* ]]; then digits=${1#--digits=}; shift; fi
  sync
  local t0 t1
  t0=$(now)
  "$@" >"$B/last.out" 2>"$B/last.err" || { echo "FAILED: $*" >&2; cat "$B/last.err" >&2; exit 1; }
  t1=$(now)
  echo "$t1 - $t0" | bc -l | xargs printf "%.${digits}f"
}

# Bytes our CLI reported as sent in the last timed command ("... (N bytes)").
ours_sent() { grep -o '[0-9]* bytes)' "$B/last.out" | tr -dc 0-9; }

# 1048576 -> 1.0MiB; empty -> 0B.
human() { numfmt --to=iec-i --suffix=B "${1:-0}"; }

# start_agent USER SOCKET LOG AGENT_COMMAND...: runs the agent command (e.g. `mlcube-agent serve
# --state-dir=...`) as USER, with USER's groups and a clean environment, listening on
# unix://SOCKET, its output in LOG. Sets AGENT_PID; stops the benchmark when the socket does not
# appear within 10 s.
start_agent() {
  local user=$1 socket=$2 log=$3
  shift 3
  setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")" --init-groups --reset-env \
    "$@" --listen="unix://$socket" >"$log" 2>&1 &
  # shellcheck disable=SC2034  # for the caller, which kills it
  AGENT_PID=$!
  for _ in $(seq 100); do [[ -S $socket ]] && return 0; sleep 0.1; done
  echo "the agent did not start: $(cat "$log")" >&2
  exit 1
}

# remove_job_containers STATE_DIR: the Docker containers of the jobs of the agent whose state
# directory is STATE_DIR (named mlcube-JOBID-...).
remove_job_containers() {
  local job id
  for job in "$1"/jobs/*/; do
    id=$(basename "$job")
    echo "$id" | grep -qxE '[0-9a-f]{8}' || continue
    docker ps -aq --filter "name=^mlcube-$id-" | xargs -r docker rm -f >/dev/null
  done
}

# require_root_build_and_user USER: stops the benchmark (through the caller's `die`) unless it
# runs as root, $AGENT and $CLI are built and USER (who runs the agent) exists.
require_root_build_and_user() {
  [[ $(id -u) -eq 0 ]] || die "run as root (the agent is started as user $1)"
  [[ -x $AGENT && -x $CLI ]] || die "build first: ninja -C $BUILD mlcube-agent mlcube-remote"
  id "$1" >/dev/null 2>&1 || die "no user $1: run tools/create-test-user.sh"
}
