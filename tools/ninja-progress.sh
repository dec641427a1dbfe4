#!/usr/bin/env bash
# Runs ninja with a short progress report instead of one line per compiled file:
# a line such as "setup: building 37% (412/1104)" whenever the build has gone
# 5 more percent or 30 s have passed since the last one (and at the start and
# the end). Everything else ninja prints (compiler warnings and errors, FAILED
# lines, ninja's own messages) is passed through as it comes. All of it goes to
# stderr. Exits with ninja's exit status.
#
# Usage: tools/ninja-progress.sh [--prefix=WORD] NINJA_ARGS...
#   e.g. tools/ninja-progress.sh --prefix=setup -C build -j"$(nproc)"
# Env: NINJA_PROGRESS_STEP (percent between lines, default 5),
#      NINJA_PROGRESS_SECONDS (seconds between lines, default 30).
set -euo pipefail

prefix=ninja
if [[ ${1:-} == --prefix=* ]]; then
  prefix=${1#--prefix=}
  shift
fi
step=${NINJA_PROGRESS_STEP:-5}
interval=${NINJA_PROGRESS_SECONDS:-30}

# Reads ninja's output; a status line is "[FINISHED/TOTAL] description".
report_progress() {
  local line done_edges total percent
  local last_percent=-1 last_time=0 last_done=-1
  local status_re='^\[([0-9]+)/([0-9]+)\] '
  while IFS= read -r line || [[ -n $line ]]; do
    if [[ $line =~ $status_re ]]; then
      done_edges=${BASH_REMATCH[1]}
      total=${BASH_REMATCH[2]}
      ((total > 0)) || continue
      percent=$((done_edges * 100 / total))
      if ((done_edges != last_done)) &&
        ((last_percent < 0 || percent >= last_percent + step ||
          SECONDS - last_time >= interval || done_edges == total)); then
        echo "$prefix: building $percent% ($done_edges/$total)"
        last_percent=$percent
        last_time=$SECONDS
        last_done=$done_edges
      fi
    elif [[ $line != "ninja: Entering directory "* ]]; then
      printf '%s\n' "$line"
    fi
  done
}

# %f: edges finished, %t: edges in all. Ninja sees a pipe, not a terminal, so it
# prints every status line on a line of its own.
NINJA_STATUS='[%f/%t] ' ninja "$@" 2>&1 | report_progress >&2
exit "${PIPESTATUS[0]}"
