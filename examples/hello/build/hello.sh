#!/bin/sh
# Entry point of the offline "hello" cube. Runs under busybox sh inside the container.
# Called the MLCube way: TASK --param=value ...   e.g.
#   greet --name_file=/mlcube_io0/names.txt --output_dir=/mlcube_io1
#   fail
#   count [--seconds=N]   (default $COUNT_SECONDS, else 600)
#   ranks --output_dir=DIR   (one rank of a distributed task, see ranks() below)
# Exit codes: 0 ok, 2 usage error, 7 the `fail` task (deliberate), 143 on SIGTERM in `count`.

usage() {
  echo "usage: hello.sh greet --name_file=FILE --output_dir=DIR | fail | count [--seconds=N]" >&2
  exit 2
}

[ $# -ge 1 ] || usage
task=$1
shift

name_file=""
output_dir=""
seconds=${COUNT_SECONDS:-600}
for arg in "$@"; do
  case "$arg" in
    --name_file=*) name_file=${arg#--name_file=} ;;
    --output_dir=*) output_dir=${arg#--output_dir=} ;;
    --seconds=*) seconds=${arg#--seconds=} ;;
    *) echo "hello.sh: unknown argument: $arg" >&2; usage ;;
  esac
done

greet() {
  [ -n "$name_file" ] || { echo "greet: --name_file is required" >&2; exit 2; }
  [ -n "$output_dir" ] || { echo "greet: --output_dir is required" >&2; exit 2; }
  [ -f "$name_file" ] || { echo "greet: no such file: $name_file" >&2; exit 2; }
  mkdir -p "$output_dir" || exit 2
  # GREET_DELAY (seconds, fractional ok) paces the lines so live log streaming is visible.
  delay=${GREET_DELAY:-0.3}
  count=0
  while IFS= read -r name || [ -n "$name" ]; do
    name=$(echo "$name" | tr -d '\r' | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
    [ -n "$name" ] || continue
    # File names are restricted to a safe alphabet, whatever the input says.
    safe=$(printf '%s' "$name" | tr -c 'A-Za-z0-9._-' '_')
    echo "Hello, $name!"
    echo "Hello, $name!" > "$output_dir/$safe.txt" || exit 2
    count=$((count + 1))
    sleep "$delay"
  done < "$name_file"
  echo "greeted $count names" > "$output_dir/summary.txt" || exit 2
  echo "greet: wrote $count greetings to $output_dir"
}

# "tick 1" ... "tick N", one a second.
ticks() {
  i=1
  while [ "$i" -le "$1" ]; do
    echo "tick $i"
    sleep 1
    i=$((i + 1))
  done
}

# One rank of a task started once per rank (slurm.nodes / ntasks_per_node): prints the
# variables launchers read, meets every other rank over TCP at MASTER_ADDR:MASTER_PORT
# (rank 0 listens, the others connect), writes DIR/rank-N.txt, then ticks RANK_SECONDS
# (default 0) seconds. FAIL_RANK=N: rank N exits with code 9 after the meeting.
ranks() {
  [ -n "$output_dir" ] || { echo "ranks: --output_dir is required" >&2; exit 2; }
  host=$(hostname)
  echo "RANK=$RANK LOCAL_RANK=$LOCAL_RANK WORLD_SIZE=$WORLD_SIZE LOCAL_WORLD_SIZE=$LOCAL_WORLD_SIZE" \
    "NODE_RANK=$NODE_RANK MASTER_ADDR=$MASTER_ADDR MASTER_PORT=$MASTER_PORT host=$host" \
    "SLURM_PROCID=$SLURM_PROCID"
  # Every wait is bounded (60 s in all), so a lost connection fails the rank instead of
  # hanging the job: each nc runs under `timeout`, since busybox nc's -w bounds only the
  # connect. Rank 0 answers each connection with the line it read from it (nc -e), so a rank
  # is done only once rank 0 has heard it; rank 0 counts each rank once, however often a
  # rank retries.
  deadline=$(($(date +%s) + 60))
  if [ "$RANK" = 0 ]; then
    met=/tmp/ranks-met.$$
    meet=/tmp/ranks-meet.$$
    : > "$met" || exit 2
    cat > "$meet" <<EOF || exit 2
#!/bin/sh
read -r line || exit 0
echo "\$line" >> "$met"
echo "welcome from rank 0 on $host to \$line"
EOF
    chmod +x "$meet" || exit 2
    seen="|"
    heard=1
    while [ "$heard" -lt "$WORLD_SIZE" ]; do
      left=$((deadline - $(date +%s)))
      [ "$left" -gt 0 ] || { echo "ranks: only $heard of $WORLD_SIZE ranks met within 60 s" >&2; exit 3; }
      # The port taken (nc says so) or the wait ended: try again until the deadline.
      timeout "$left" nc -l -p "$MASTER_PORT" -e "$meet" || sleep 0.2
      sort -u "$met" > "$met.sorted"
      while read -r line; do
        case "$line" in "rank "[0-9]*" on "*) ;; *) continue ;; esac
        case "$seen" in *"|$line|"*) continue ;; esac
        seen="$seen$line|"
        echo "met $line"
        heard=$((heard + 1))
      done < "$met.sorted"
    done
  else
    until reply=$(echo "rank $RANK on $host" | timeout 5 nc -w 2 "$MASTER_ADDR" "$MASTER_PORT" 2>/dev/null) \
      && [ "${reply% to rank $RANK on $host}" != "$reply" ]; do
      [ "$(date +%s)" -lt "$deadline" ] \
        || { echo "ranks: no rank 0 at $MASTER_ADDR:$MASTER_PORT after 60 s" >&2; exit 3; }
      sleep 0.2
    done
    echo "met ${reply% to rank $RANK on $host}"
  fi
  mkdir -p "$output_dir" && echo "rank $RANK ran on $host" > "$output_dir/rank-$RANK.txt" || exit 2
  [ "$RANK" != "${FAIL_RANK:-none}" ] || { echo "ranks: rank $RANK fails on purpose" >&2; exit 9; }
  ticks "${RANK_SECONDS:-0}"
}

case "$task" in
  greet) greet ;;
  ranks) ranks ;;
  fail)
    echo "fail: this task fails on purpose" >&2
    exit 7
    ;;
  count)
    # Long-running task for cancel / re-attach tests: one line per second.
    trap 'echo "count: got SIGTERM"; exit 143' TERM
    trap 'echo "count: got SIGINT"; exit 130' INT
    ticks "$seconds"
    ;;
  *)
    echo "hello.sh: unknown task: $task" >&2
    usage
    ;;
esac
