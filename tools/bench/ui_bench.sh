#!/usr/bin/env bash
# The dashboard (`mlcube-remote ui`) against its targets, each side by side in
# the same run with the CLI way to see the same thing:
#   1. first useful paint of the jobs page with 1,000 jobs on 10 hosts
#      (target < 300 ms): headless Chromium opens the token address in a
#      fresh profile, PAINT_REPS times; the time is the page's own
#      performance mark 'jobs-rendered' (ms from navigation start, the token
#      redirect included); the table must have 1,000 rows. Against
#      `mlcube-remote jobs --all --host=hNN` for the 10 hosts, one after
#      another and all at once. Also reported, to show where the time goes:
#      the page's requests from its resource timing, the same paint when
#      Chromium asks for no compression, what one /api/jobs?all=1 costs the
#      controller, and a small request on a new and a kept-alive connection.
#   2. a log line on the job page after the task printed it (target
#      < 200 ms): the task prints STAMP_LINES lines, each stamped by busybox
#      `ts` (microseconds of the wall clock) when printed; the page records
#      when each reaches <pre id="log"> (a MutationObserver); against
#      `mlcube-remote logs -f JOB` in a pseudo-terminal, following the same
#      job at the same time. Everything runs on this machine: one clock.
#   3. PAGES idle open job pages cost the controller < 5% of a core: PAGES
#      jobs that print three lines and then sleep, an event stream open on
#      each (curl -N with the session cookie); the `ui` process's CPU
#      (utime + stime) over IDLE_SECONDS, first the streams alone, then with
#      the page's own poll of /api/job every 5 s added. Against PAGES
#      `mlcube-remote logs -f` on the same jobs over the same windows. Then
#      the same pages as tabs of one Chromium: how many show their job
#      (facts and log) within 20 s.
# One agent (as user `mlcube`, Docker) behind all 10 hosts of the hosts file
# (h01..h10 name the same socket); 99 runs of the hello cube's greet task
# plus the configure job make the 100 finished jobs each host lists.
# The binaries are copied first, so a rebuild during the run does not touch
# them. Takes about 4 minutes; run it on an otherwise idle machine.
# Run by hand as root: tools/bench/ui_bench.sh [BUILD_DIR]
#   PAINT_REPS=5 STAMP_LINES=100 PAGES=20 IDLE_SECONDS=60 change the sizes.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
PAINT_REPS=${PAINT_REPS:-5}
STAMP_LINES=${STAMP_LINES:-100}
PAGES=${PAGES:-20}
IDLE_SECONDS=${IDLE_SECONDS:-60}
HOSTS=10
JOBS_PER_HOST=100
AGENT=$BUILD/agent/mlcube-agent
CLI=$BUILD/controller/mlcube-remote
PYTHON=/usr/bin/python3
die() { echo "ui_bench: $*" >&2; exit 1; }
# shellcheck source=tools/bench/lib.sh
source "$ROOT/tools/bench/lib.sh"
require_root_build_and_user mlcube
docker info >/dev/null 2>&1 || die "Docker is not running: run tools/start-docker.sh"
[[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]] ||
  die "needs chromium and chromedriver: apt-get install chromium chromium-driver"
"$PYTHON" -c 'import selenium' 2>/dev/null || die "needs selenium: apt-get install python3-selenium"
command -v curl >/dev/null || die "needs curl: apt-get install curl"
"$ROOT/tools/prepare-examples.sh"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

DIR=$(mktemp -d /tmp/mlcube-ui-bench-XXXXXX)
chmod 755 "$DIR"
mkdir "$DIR/bin" "$DIR/state" "$DIR/sse" "$DIR/follow"
chown mlcube "$DIR/state"
cp "$AGENT" "$CLI" "$DIR/bin/"
AGENT=$DIR/bin/mlcube-agent
CLI=$DIR/bin/mlcube-remote
UI_PID=
cleanup() {
  jobs -p | xargs -r kill 2>/dev/null || true
  [[ -n $UI_PID ]] && kill "$UI_PID" 2>/dev/null || true
  [[ -n ${AGENT_PID:-} ]] && kill "$AGENT_PID" 2>/dev/null || true
  remove_job_containers "$DIR/state"
  rm -rf "$DIR"
}
trap cleanup EXIT

# The hello cube with two more tasks:
#   stamp  after 4 s (the page and the follower connect meanwhile), prints
#          STAMP_LINES lines "SECONDS.MICROS stamp I of N" about every 0.13 s
#          (not a round interval, so no poll period of ours lines up with it);
#          one `ts` per line: `ts` buffers its output into a pipe.
#   quiet  prints three lines, then sleeps an hour.
cp -a "$ROOT/examples/hello" "$DIR/hello"
sed -i 's/^tasks:$/tasks:\n  stamp: {parameters: {inputs: {}, outputs: {}}}\n  quiet: {parameters: {inputs: {}, outputs: {}}}/' \
  "$DIR/hello/mlcube.yaml"
cat >"$DIR/tasks.sh" <<'SCRIPT'
if [ "$task" = stamp ]; then
  sleep 4
  i=1
  while [ $i -le "$STAMP_LINES" ]; do
    echo "stamp $i of $STAMP_LINES" | ts '%.s'
    sleep 0.13
    i=$((i + 1))
  done
  exit 0
fi
if [ "$task" = quiet ]; then
  echo "quiet 1"
  echo "quiet 2"
  echo "quiet 3: silent from here on"
  sleep 3600
  exit 0
fi
SCRIPT
sed -i "/^shift$/r $DIR/tasks.sh" "$DIR/hello/build/hello.sh"

# Browser and pseudo-terminal helpers.
cat >"$DIR/ui_bench.py" <<'PY'
import json, os, pty, re, sys, tempfile, time
STAMP = re.compile(r"^(\d+\.\d+) stamp (\d+) of (\d+)\s*$")

sys.path.insert(0, os.environ["BROWSER_HELPERS"])
from chromium import browser  # tests/browser/chromium.py

def wait(driver, seconds, condition):
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(driver, seconds, poll_frequency=0.05,
                  ignored_exceptions=[WebDriverException]).until(lambda d: condition())

# paint URL REPS OUT [ENCODING]: per repetition "mark rows chart_ms session_ms jobs_ms
# render_ms"; with ENCODING, Chromium asks for that Accept-Encoding (through DevTools).
def paint(url, reps, out, encoding=None):
    script = """
      const mark = performance.getEntriesByName('jobs-rendered')[0].startTime;
      // Chart.js is loaded only by pages that draw charts: 0 when absent.
      const res = (path) => performance.getEntriesByType('resource').find(e => e.name.endsWith(path)) || { duration: 0, responseEnd: 0 };
      const jobs = res('/api/jobs?all=1');
      return [mark, document.querySelectorAll('#jobs-table tr').length - 1,
              res('/assets/chart.min.js').duration, res('/api/session').duration,
              jobs.duration, mark - jobs.responseEnd];"""
    with open(out, "w") as f:
        for _ in range(reps):
            with tempfile.TemporaryDirectory() as profile:
                driver = browser(profile)
                try:
                    driver.get("about:blank")
                    if encoding:
                        driver.execute_cdp_cmd("Network.enable", {})
                        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders",
                                               {"headers": {"Accept-Encoding": encoding}})
                    driver.get(url)
                    wait(driver, 60, lambda: driver.execute_script(
                        "return performance.getEntriesByName('jobs-rendered').length > 0"))
                    f.write(" ".join("%.1f" % v for v in driver.execute_script(script)) + "\n")
                finally:
                    driver.quit()

def latencies(arrivals, since, lines):
    """arrivals: [(arrival_s, text)]; per stamped line printed after `since`, arrival - printed (ms)."""
    out, buf = {}, ""
    for at, text in arrivals:
        buf += text.replace("\r", "")
        *done, buf = buf.split("\n")
        for line in done:
            m = STAMP.match(line)
            if m and float(m.group(1)) >= since:
                out[int(m.group(2))] = (at - float(m.group(1))) * 1000
    return out

# page URL HOST JOBFILE READY LINES OUT: opens the dashboard, touches READY, waits for
# JOBFILE (the job id), opens that job's page and records when each line is on it.
def page(url, host, jobfile, ready, lines, out):
    with tempfile.TemporaryDirectory() as profile:
        driver = browser(profile)
        try:
            driver.get(url)
            wait(driver, 60, lambda: driver.execute_script(
                "return performance.getEntriesByName('jobs-rendered').length > 0"))
            since = driver.execute_script("""
              window.arrivals = [];
              new MutationObserver((mutations) => {
                const at = (performance.timeOrigin + performance.now()) / 1000;
                for (const m of mutations) {
                  if (m.target.id !== 'log') continue;
                  for (const n of m.addedNodes) window.arrivals.push([at, n.textContent]);
                }
              }).observe(document.getElementById('main'), {childList: true, subtree: true});
              return (performance.timeOrigin + performance.now()) / 1000;""")
            open(ready, "w").close()
            deadline = time.time() + 120
            while not os.path.exists(jobfile) or not open(jobfile).read().strip():
                if time.time() > deadline: sys.exit("no job id in " + jobfile)
                time.sleep(0.05)
            job = open(jobfile).read().strip()
            driver.execute_script("location.hash = arguments[0]", "#/job/%s/%s" % (host, job))
            wait(driver, lines * 0.5 + 60, lambda: driver.execute_script(
                "return document.getElementById('log')?.dataset.ended === '1'"))
            got = latencies(driver.execute_script("return window.arrivals"), since, lines)
        finally:
            driver.quit()
    write_latencies(got, lines, out)

def write_latencies(got, lines, out):
    with open(out, "w") as f:
        for i in sorted(got): f.write("%.3f\n" % got[i])
    if len(got) < min(lines, 50):
        sys.exit("only %d of %d stamped lines arrived after the follower started" % (len(got), lines))

# follow LINES OUT CMD...: runs CMD in a pseudo-terminal (as in a user's terminal) and
# records when each line arrives.
def follow(lines, out, cmd):
    since = time.time()
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(cmd[0], cmd)
    arrivals = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data: break
        arrivals.append((time.time(), data.decode(errors="replace")))
    _, status = os.waitpid(pid, 0)
    if status != 0: sys.exit("%s exited with %d: %s" % (cmd, status, "".join(t for _, t in arrivals)[-300:]))
    write_latencies(latencies(arrivals, since, lines), lines, out)

# tabs URL HOST JOB...: one browser, one tab per job's page; prints how many tabs show
# their job (its facts and its log's third line) within 20 s.
def tabs(url, host, jobs):
    base = url.split("?")[0]
    with tempfile.TemporaryDirectory() as profile:
        # "none": a tab whose page cannot load does not hold up the next one.
        driver = browser(profile, "none")
        try:
            driver.get(url)
            wait(driver, 60, lambda: driver.execute_script(
                "return performance.getEntriesByName('jobs-rendered').length > 0"))
            for i, job in enumerate(jobs):
                if i: driver.switch_to.new_window("tab")
                driver.get("%s#/job/%s/%s" % (base, host, job))
            shown = lambda: driver.execute_script(
                "return !!document.getElementById('job-facts')?.textContent &&"
                " (document.getElementById('log')?.textContent || '').includes('quiet 3')")
            deadline, ok = time.time() + 20, set()
            while time.time() < deadline and len(ok) < len(jobs):
                for handle in driver.window_handles:
                    if handle in ok: continue
                    driver.switch_to.window(handle)
                    try:
                        if shown(): ok.add(handle)
                    except Exception:
                        pass
                time.sleep(0.5)
            print(len(ok), len(jobs))
        finally:
            driver.quit()

# stats FILE: "count p50 p99 max" (nearest rank).
def stats(path):
    v = sorted(float(x) for x in open(path))
    rank = lambda p: v[max(0, -(-len(v) * p // 100) - 1)]
    print("%d %.1f %.1f %.1f" % (len(v), rank(50), rank(99), v[-1]))

if __name__ == "__main__":
    what, args = sys.argv[1], sys.argv[2:]
    if what == "paint": paint(args[0], int(args[1]), args[2], *args[3:])
    elif what == "page": page(args[0], args[1], args[2], args[3], int(args[4]), args[5])
    elif what == "follow": follow(int(args[0]), args[1], args[2:])
    elif what == "stats": stats(args[0])
    elif what == "tabs": tabs(args[0], args[1], args[2:])
PY
py() { BROWSER_HELPERS="$ROOT/tests/browser" "$PYTHON" "$DIR/ui_bench.py" "$@"; }

start_agent mlcube "$DIR/state/agent.sock" "$DIR/agent.log" "$AGENT" serve \
  --state-dir="$DIR/state" --max-concurrent-jobs=$((PAGES + 12))
{
  echo "default_host: h01"
  echo "hosts:"
  for h in $(seq -f 'h%02g' "$HOSTS"); do
    printf '  %s:\n    address: unix://%s\n    runtime: docker\n' "$h" "$DIR/state/agent.sock"
    printf '    env: {GREET_DELAY: "0", STAMP_LINES: "%s"}\n' "$STAMP_LINES"
  done
} >"$DIR/hosts.yaml"
cli() { "$CLI" -q --hosts="$DIR/hosts.yaml" "$@"; }
job_ids() { grep -oE '^[0-9a-f]{8} ' | tr -d ' '; }

# 100 finished jobs: the configure job and 99 greet runs.
cli configure --mlcube="$DIR/hello" >/dev/null 2>"$DIR/configure.log" ||
  die "configure failed: $(tail -3 "$DIR/configure.log")"
cli run --mlcube="$DIR/hello" --task=greet --repeat=$((JOBS_PER_HOST - 1)) \
  --parallel=$((JOBS_PER_HOST - 1)) --detach >/dev/null
for _ in $(seq 600); do
  [[ $(cli jobs | job_ids | wc -l) -eq 0 ]] && break
  sleep 1
done
[[ $(cli jobs | job_ids | wc -l) -eq 0 ]] || die "the greet runs did not finish in 10 minutes"
[[ $(cli jobs --all | job_ids | wc -l) -eq $JOBS_PER_HOST ]] ||
  die "expected $JOBS_PER_HOST jobs, the agent lists $(cli jobs --all | job_ids | wc -l)"

"$CLI" --hosts="$DIR/hosts.yaml" ui --port=0 --mlcube="$DIR/hello" >"$DIR/ui.out" 2>"$DIR/ui.err" &
UI_PID=$!
for _ in $(seq 100); do grep -q 'dashboard at' "$DIR/ui.out" && break; sleep 0.1; done
URL=$(grep -oE 'http://127\.0\.0\.1:[0-9]+/\?token=[0-9a-f]+' "$DIR/ui.out") ||
  die "the dashboard did not start: $(cat "$DIR/ui.err")"
BASE=${URL%%/\?token=*}
# The exchange sets the session cookie and hands the page the request token in
# the redirect's fragment; API requests need both.
REDIRECT=$(curl -sf -c "$DIR/jar" -o /dev/null -w '%{redirect_url}' "$URL") ||
  die "the token exchange failed"
AUTH=(-b "$DIR/jar" -H "X-CSRF-Token: ${REDIRECT##*#csrf=}")
CHROMIUM_ENCODINGS='gzip, deflate, br, zstd'
HZ=$(getconf CLK_TCK)
# ticks PID...: their utime + stime, summed, in clock ticks.
ticks() {
  local pid
  for pid in "$@"; do sed 's/^.*) //' "/proc/$pid/stat"; done | awk '{ s += $12 + $13 } END { print s + 0 }'
}
percent_of_core() {  # TICKS SECONDS
  awk -v t="$1" -v s="$2" -v hz="$HZ" 'BEGIN { printf "%.2f", t / hz / s * 100 }'
}
median_max() {  # numbers on stdin -> "median / max"
  sort -n | awk '{ v[NR] = $1 } END { printf "%.0f / %.0f", v[int((NR + 1) / 2)], v[NR] }'
}

# ---- 1. First useful paint ----------------------------------------------------
sleep 5  # Docker tidies up after the 99 runs for a few seconds
py paint "$URL" "$PAINT_REPS" "$DIR/paint.txt"
# The same page when Chromium asks for no compression (see the report).
py paint "$URL" "$PAINT_REPS" "$DIR/paint-identity.txt" identity
while read -r _ rows _; do
  [[ ${rows%.*} -eq $((HOSTS * JOBS_PER_HOST)) ]] || die "the jobs table had ${rows%.*} rows, expected $((HOSTS * JOBS_PER_HOST))"
done < <(cat "$DIR/paint.txt" "$DIR/paint-identity.txt")
PAINT=$(awk '{ print $1 }' "$DIR/paint.txt" | median_max)
PAINT_MEDIAN=${PAINT%% *}
column_median() { awk -v c="$1" '{ print $c }' "${2:-$DIR/paint.txt}" | median_max | cut -d' ' -f1; }
jobs_cli() {  # seq|par: the 10 hosts' `jobs --all`, one after another or at once
  local h pids=()
  for h in $(seq -f 'h%02g' "$HOSTS"); do
    if [[ $1 == seq ]]; then
      cli jobs --all --host="$h" >"$DIR/jobs-$h.txt"
    else
      "$CLI" -q --hosts="$DIR/hosts.yaml" jobs --all --host="$h" >"$DIR/jobs-$h.txt" &
      pids+=($!)
    fi
  done
  for h in "${pids[@]}"; do wait "$h"; done
  for h in $(seq -f 'h%02g' "$HOSTS"); do
    [[ $(job_ids <"$DIR/jobs-$h.txt" | wc -l) -eq $JOBS_PER_HOST ]] || die "jobs --host=$h: not $JOBS_PER_HOST jobs"
  done
}
time_ms() { local t0; t0=$(date +%s%N); "$@"; echo $((($(date +%s%N) - t0) / 1000000)); }
SEQ=$(for _ in $(seq "$PAINT_REPS"); do time_ms jobs_cli seq; done | median_max)
PAR=$(for _ in $(seq "$PAINT_REPS"); do time_ms jobs_cli par; done | median_max)
# What one /api/jobs?all=1 costs the controller (the jobs page asks every 3 s),
# with the encodings Chromium accepts and with none.
api_jobs_cost() {  # ENCODINGS -> "wall_ms cpu_ms" per request, mean of 10
  local t0 c0
  t0=$(date +%s%N); c0=$(ticks "$UI_PID")
  for _ in $(seq 10); do
    curl -sf "${AUTH[@]}" -H "Accept-Encoding: $1" -o /dev/null "$BASE/api/jobs?all=1"
  done
  awk -v w=$(($(date +%s%N) - t0)) -v c=$(($(ticks "$UI_PID") - c0)) -v hz="$HZ" \
    'BEGIN { printf "%.0f ms, %.0f ms CPU", w / 1e7, c / hz * 100 }'
}
API_BR=$(api_jobs_cost "$CHROMIUM_ENCODINGS")
API_PLAIN=$(api_jobs_cost identity)
# A small answer, first on a new connection, then twice on the same kept-alive one
# (what the page's later requests use).
KEEPALIVE=$(curl -sf "${AUTH[@]}" -w '%{time_total}\n' -o /dev/null -o /dev/null -o /dev/null \
  "$BASE/api/session" "$BASE/api/session" "$BASE/api/session" |
  awk '{ printf "%s%.1f", (NR > 1 ? " / " : ""), $1 * 1000 }')

# ---- 2. A log line from the task to the page ------------------------------------
rm -f "$DIR/stamp.job" "$DIR/stamp.ready"
py page "$URL" h01 "$DIR/stamp.job" "$DIR/stamp.ready" "$STAMP_LINES" "$DIR/page.lat" &
PAGE_PID=$!
for _ in $(seq 600); do [[ -e $DIR/stamp.ready ]] && break; sleep 0.1; done
[[ -e $DIR/stamp.ready ]] || die "the browser did not open the dashboard"
STAMP_JOB=$(cli run --mlcube="$DIR/hello" --task=stamp --detach)
py follow "$STAMP_LINES" "$DIR/cli.lat" "$CLI" -q --hosts="$DIR/hosts.yaml" logs -f --host=h01 "$STAMP_JOB" &
FOLLOW_PID=$!
echo "$STAMP_JOB" >"$DIR/stamp.job"
wait "$PAGE_PID" || die "the job page did not get the stamped lines"
wait "$FOLLOW_PID" || die "logs -f did not get the stamped lines"
read -r PAGE_N PAGE_P50 PAGE_P99 PAGE_MAX < <(py stats "$DIR/page.lat")
read -r CLI_N CLI_P50 CLI_P99 CLI_MAX < <(py stats "$DIR/cli.lat")

# ---- 3. Idle open job pages -------------------------------------------------------
cli run --mlcube="$DIR/hello" --task=quiet --repeat="$PAGES" --parallel="$PAGES" --detach >/dev/null
quiet_running() { cli jobs | awk '$2 == "RUNNING" && $4 == "quiet" { print $1 }'; }
for _ in $(seq 300); do [[ $(quiet_running | wc -l) -eq $PAGES ]] && break; sleep 1; done
mapfile -t QUIET < <(quiet_running)
[[ ${#QUIET[@]} -eq $PAGES ]] || die "only ${#QUIET[@]} of $PAGES quiet jobs are running"
FOLLOWERS=()
for id in "${QUIET[@]}"; do
  curl -sN "${AUTH[@]}" "$BASE/api/events?host=h01&id=$id" >"$DIR/sse/$id" &
  "$CLI" -q --hosts="$DIR/hosts.yaml" logs -f --host=h01 "$id" >"$DIR/follow/$id" 2>&1 &
  FOLLOWERS+=($!)
done
for _ in $(seq 300); do
  [[ $(grep -l 'quiet 3' "$DIR"/sse/* "$DIR"/follow/* 2>/dev/null | wc -l) -eq $((2 * PAGES)) ]] && break
  sleep 0.1
done
[[ $(grep -l 'quiet 3' "$DIR"/sse/* "$DIR"/follow/* | wc -l) -eq $((2 * PAGES)) ]] ||
  die "not every stream and follower got the jobs' lines"
sleep 2
# The page's own poll: GET /api/job every 5 s per open job page.
poll_pages() {
  while [[ ! -e $DIR/poll.stop ]]; do
    for id in "${QUIET[@]}"; do
      curl -s "${AUTH[@]}" -H "Accept-Encoding: $CHROMIUM_ENCODINGS" -o /dev/null "$BASE/api/job?host=h01&id=$id"
    done
    sleep 5
  done
}
window() {  # -> "ui_percent followers_percent agent_percent" over IDLE_SECONDS
  local t0 u0 f0 a0 t1
  t0=$(date +%s%N); u0=$(ticks "$UI_PID"); f0=$(ticks "${FOLLOWERS[@]}"); a0=$(ticks "$AGENT_PID")
  sleep "$IDLE_SECONDS"
  t1=$(awk -v n=$(($(date +%s%N) - t0)) 'BEGIN { print n / 1e9 }')
  echo "$(percent_of_core "$(($(ticks "$UI_PID") - u0))" "$t1")" \
    "$(percent_of_core "$(($(ticks "${FOLLOWERS[@]}") - f0))" "$t1")" \
    "$(percent_of_core "$(($(ticks "$AGENT_PID") - a0))" "$t1")"
}
read -r IDLE_UI IDLE_CLI IDLE_AGENT < <(window)
poll_pages &
POLL_PID=$!
read -r POLL_UI POLL_CLI POLL_AGENT < <(window)
touch "$DIR/poll.stop"
wait "$POLL_PID"
for f in "${FOLLOWERS[@]}"; do kill -0 "$f" || die "a logs -f follower ended early"; done
# The same pages as Chromium tabs, after the windows: how many show their job.
read -r TABS_OK TABS_ALL < <(py tabs "$URL" h01 "${QUIET[@]}")

# ---- Report -----------------------------------------------------------------------------
met() { awk -v v="$1" -v t="$2" 'BEGIN { print (v < t ? "met" : "NOT met") }'; }
echo "mlcube-remote ui against the CLI, $(nproc) cores (load before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-56s | %-44s | %-50s | %s\n' measure dashboard CLI target
printf '%-56s | %-44s | %-50s | %s\n' \
  "jobs view, $((HOSTS * JOBS_PER_HOST)) jobs on $HOSTS hosts (median / max of $PAINT_REPS)" \
  "first useful paint $PAINT ms" \
  "$HOSTS x jobs --all: $SEQ ms; at once $PAR ms" \
  "< 300 ms: $(met "$PAINT_MEDIAN" 300)" \
  "log line, printed -> shown (p50 / p99, max)" \
  "$PAGE_P50 / $PAGE_P99 ms, max $PAGE_MAX ($PAGE_N lines)" \
  "logs -f: $CLI_P50 / $CLI_P99 ms, max $CLI_MAX ($CLI_N lines)" \
  "< 200 ms: $(met "$PAGE_P99" 200)" \
  "$PAGES idle job pages, CPU over $IDLE_SECONDS s (% of a core)" \
  "ui $IDLE_UI% (event streams only)" \
  "$PAGES x logs -f: $IDLE_CLI% together" \
  "< 5%: $(met "$IDLE_UI" 5)" \
  "  the same with each page's 5 s /api/job poll" \
  "ui $POLL_UI%" \
  "$PAGES x logs -f: $POLL_CLI% together" \
  "< 5%: $(met "$POLL_UI" 5)" \
  "  the same pages as tabs of one Chromium" \
  "$TABS_OK of $TABS_ALL tabs show their job" \
  "$PAGES terminals: all" \
  "all: $( [[ $TABS_OK -eq $TABS_ALL ]] && echo met || echo "NOT met")"
echo "where the paint's time goes (medians, ms): chart.min.js $(column_median 3)," \
  "/api/session $(column_median 4), /api/jobs?all=1 $(column_median 5), table render $(column_median 6)"
echo "the same paint when Chromium asks for no compression: $(awk '{ print $1 }' "$DIR/paint-identity.txt" | median_max) ms" \
  "(chart.min.js $(column_median 3 "$DIR/paint-identity.txt"), /api/jobs?all=1 $(column_median 5 "$DIR/paint-identity.txt"))"
echo "GET /api/session on a new connection, then on the same kept-alive one: $KEEPALIVE ms"
echo "one /api/jobs?all=1 (what the jobs view asks every 3 s), wall and controller CPU:" \
  "Accept-Encoding '$CHROMIUM_ENCODINGS' $API_BR; none $API_PLAIN"
echo "the agent (serving both sides) during the idle windows: $IDLE_AGENT% and $POLL_AGENT% of a core"
