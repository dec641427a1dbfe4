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
