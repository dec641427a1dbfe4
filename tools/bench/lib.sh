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

# median_of VALUE...: the median of the numbers given (the lower middle one of an even count).
median_of() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# last_rank_started OUTPUT T0 RANKS: when the last of RANKS ranks printed its "STARTED UPTIME"
# line in OUTPUT, less T0 (seconds on the /proc/uptime clock); stops the benchmark (through the
# caller's `die`) unless exactly RANKS ranks did.
last_rank_started() {
  local stamps
  stamps=$(grep -o 'STARTED [0-9.]*' <<<"$1" | cut -d' ' -f2 | sort -n)
  [[ $(wc -l <<<"$stamps") == "$3" ]] || die "not $3 ranks started: $1"
  echo "$(tail -n 1 <<<"$stamps") - $2" | bc
}

# stamp_rank_starts CUBE: the hello cube copy at CUBE, its `ranks` task printing "STARTED
# UPTIME" first (what last_rank_started reads); stops the benchmark when it cannot.
stamp_rank_starts() {
  sed -i 's/^ranks() {$/ranks() {\n  echo "STARTED $(cut -d" " -f1 \/proc\/uptime)"/' "$1/build/hello.sh"
  grep -q STARTED "$1/build/hello.sh" || die "could not add the start stamp to $1/build/hello.sh"
}

# start_slurm_agent WORK USER SLURM: an agent run by USER with its state in WORK/state (and
# WORK/plain for the by-hand side, both USER's), Slurm's shared_dir WORK, and WORK/hosts.yaml
# naming it host `hpc` (Apptainer, scheduler slurm, `slurm: {SLURM}`). Sets AGENT_PID.
start_slurm_agent() {
  local work=$1 user=$2 slurm=$3
  mkdir "$work/state" "$work/plain"
  chown "$user:" "$work/state" "$work/plain"
  printf 'slurm: {shared_dir: %s}\n' "$work" >"$work/agent.yaml"
  start_agent "$user" "$work/state/agent.sock" "$work/agent.log" "$AGENT" serve \
    --state-dir="$work/state" --config="$work/agent.yaml"
  printf 'default_host: hpc\nhosts:\n  hpc:\n    address: unix://%s\n    runtime: singularity\n    scheduler: slurm\n    slurm: {%s}\n' \
    "$work/state/agent.sock" "$slurm" >"$work/hosts.yaml"
}

# race_rounds ROUNDS RANKS MET TITLE PLAIN OURS: ROUNDS rounds of the caller's `ours` and
# `plain` (each prints its ranks' output), timed on the caller's `now` clock: when the last of
# RANKS ranks started (last_rank_started) and when the command returned; the plain side must
# print MET (its ranks met). Prints each round and a table of medians headed TITLE, PLAIN, OURS.
race_rounds() {
  local rounds=$1 ranks=$2 met=$3 title=$4 plain_label=$5 ours_label=$6 round t0 t1 out
  local -a os oe ps pe
  for round in $(seq 1 "$rounds"); do
    t0=$(now); out=$(ours) || die "our run failed: $(cat "$WORK/ours.err")"; t1=$(now)
    os+=("$(last_rank_started "$out" "$t0" "$ranks")"); oe+=("$(echo "$t1 - $t0" | bc)")
    t0=$(now); out=$(plain); t1=$(now)
    grep -q "$met" <<<"$out" || die "the ranks of the plain side did not meet: $out"
    ps+=("$(last_rank_started "$out" "$t0" "$ranks")"); pe+=("$(echo "$t1 - $t0" | bc)")
    echo "round $round: ours started ${os[-1]}s end ${oe[-1]}s | $plain_label started ${ps[-1]}s end ${pe[-1]}s" >&2
  done
  printf '\n%-34s %12s %12s\n' "$title: median of $rounds (s)" "$plain_label" "$ours_label"
  printf '%-34s %12s %12s\n' "run to all ranks started" "$(median_of "${ps[@]}")" "$(median_of "${os[@]}")"
  printf '%-34s %12s %12s\n' "end-to-end" "$(median_of "${pe[@]}")" "$(median_of "${oe[@]}")"
}
