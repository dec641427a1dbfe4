#include "controller/sweeps/sweep_runner.h"

#include <sys/ioctl.h>

#include <algorithm>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/safe_path.h"
#include "controller/sweeps/live_metrics.h"
#include "controller/sweeps/metrics_reader.h"

namespace mlcube {
namespace {

using mlcube_remote::v1::Job;

// Consecutive failed state queries after which the sweep gives up.
constexpr int kMaxQueryFailures = 40;

std::string Values(const RunRecord& run) {
  std::vector<std::string> parts;
  for (const auto& [label, value] : run.values) parts.push_back(absl::StrCat(label, "=", value));
  return absl::StrJoin(parts, " ");
}

}  // namespace

SweepRunner::SweepRunner(SweepHooks hooks, SweepRunnerOptions options, const Console* console,
                         std::FILE* status_stream)
    : hooks_(std::move(hooks)),
      options_(std::move(options)),
      console_(console),
      status_stream_(status_stream) {}

std::string SweepRunner::StateName(mlcube_remote::v1::JobState state) {
  std::string name = mlcube_remote::v1::JobState_Name(state);
  return absl::StartsWith(name, "JOB_STATE_") ? name.substr(10) : name;
}

SweepEnd SweepRunner::Run(SweepRecord* record, const std::vector<RunPlan>& plans) {
  const size_t total = std::min(record->runs.size(), plans.size());
  const size_t parallel =
      options_.detach ? total : static_cast<size_t>(std::max(1, options_.parallel));
  Save(*record);
  size_t next = 0;
  std::vector<size_t> active;
  for (;;) {
    bool detaching = options_.detach;
    if (!detaching && hooks_.interrupted && hooks_.interrupted()) {
      if (ConfirmCancel()) {
        CancelAll(record, active, next);
        return SweepEnd::kCancelled;
      }
      detaching = true;
    }
    // One save per batch of submissions and per poll: a record of N runs is
    // rewritten O(N) times, not once per state change.
    const size_t submitted_before = next;
    while (!submit_refused_ && next < total && (detaching || active.size() < parallel)) {
      if (Submit(record, next, plans[next])) active.push_back(next);
      ++next;
    }
    if (next != submitted_before) Save(*record);
    if (detaching) {
      console_->Info(
          absl::StrFormat("detached: %d runs go on; see them with: mlcube-remote runs %s",
                          active.size(), record->id));
      return SweepEnd::kDetached;
    }
    if (active.empty()) break;
    std::this_thread::sleep_for(options_.poll);
    if (!Poll(record, plans, &active)) return SweepEnd::kAgentError;
  }
  return Summarize(*record);
}

bool SweepRunner::ConfirmCancel() {
  if (!hooks_.confirm_cancel || !hooks_.cancel) return false;
  lines_drawn_ = 0;  // the status block is redrawn below the message
  console_->Info(
      "interrupted: press Ctrl-C again within 3 s to cancel every run, or wait to detach");
  return hooks_.confirm_cancel();
}

bool SweepRunner::Poll(SweepRecord* record, const std::vector<RunPlan>& plans,
                       std::vector<size_t>* active) {
  bool changed = false;
  bool metrics_changed = false;
  for (auto it = active->begin(); it != active->end();) {
    RunRecord& run = record->runs[*it];
    absl::StatusOr<Job> job = hooks_.get(run.job_id);
    if (!job.ok()) {
      console_->Verbose(absl::StrCat("run ", run.id, ": ", job.status().message()));
      if (++query_failures_ >= kMaxQueryFailures) {
        console_->Error(absl::StrCat("lost the agent: ", job.status().message()));
        Save(*record);
        return false;
      }
      ++it;
      continue;
    }
    query_failures_ = 0;
    const std::string before = run.state;
    Update(&run, *job);
    // Live values are worth a save, but do not redraw the status lines.
    if (LiveMetrics::Apply(*job, &run)) metrics_changed = true;
    if (options_.interactive && hooks_.tail && run.state != "QUEUED") FollowTail(run, *it);
    if (run.finished()) Finish(record, *it, plans[*it]);
    if (run.state != before) {
      changed = true;
      Show(*record, *it);
    }
    it = run.finished() ? active->erase(it) : it + 1;
  }
  if (changed || metrics_changed) Save(*record);
  if (options_.interactive) Show(*record, record->runs.size());  // elapsed times move on
  return true;
}

void SweepRunner::CancelAll(SweepRecord* record, const std::vector<size_t>& active, size_t next) {
  for (size_t index : active) {
    RunRecord& run = record->runs[index];
    absl::StatusOr<Job> job = hooks_.cancel(run.job_id);
    if (job.ok()) {
      Update(&run, *job);
    } else {
      console_->Error(absl::StrCat("cancelling run ", run.id, ": ", job.status().message()));
    }
  }
  for (size_t index = next; index < record->runs.size(); ++index) {
    record->runs[index].state = "CANCELLED";
    record->runs[index].reason = "cancelled before it was submitted";
  }
  Save(*record);
  console_->Info(absl::StrFormat("cancelled sweep %s: %d runs were going, %d not yet submitted",
                                 record->id, active.size(), record->runs.size() - next));
}

bool SweepRunner::Submit(SweepRecord* record, size_t index, const RunPlan& plan) {
  RunRecord& run = record->runs[index];
  run.submitted_unix_ms = NowUnixMs();
  absl::StatusOr<Job> job = hooks_.submit(run, plan);
  if (!job.ok()) {
    // What the agent refuses for one run it refuses for the others: they
    // stay PENDING, the runs already going are still followed.
    submit_refused_ = true;
    run.state = "FAILED";
    run.reason = absl::StrCat("not submitted: ", job.status().message());
    run.exit_code = 0;
    lines_drawn_ = 0;
    console_->Error(absl::StrCat(
        "run ", run.id, " ", run.reason,
        index + 1 < record->runs.size() ? "; the runs after it are not submitted" : ""));
    Save(*record);
    return false;
  }
  run.job_id = job->id();
  Update(&run, *job);
  Show(*record, index);
  return true;
}

void SweepRunner::Update(RunRecord* run, const Job& job) {
  run->state = StateName(job.state());
  run->started_unix_ms = job.started_unix_ms();
  run->finished_unix_ms = job.finished_unix_ms();
  run->exit_code = job.exit_code();
  run->reason = job.reason();
}

void SweepRunner::Finish(SweepRecord* record, size_t index, const RunPlan& plan) {
  RunRecord& run = record->runs[index];
  if (run.state == "CANCELLED") return;
  if (hooks_.pull) {
    if (absl::Status pulled = hooks_.pull(run, plan); !pulled.ok()) {
      lines_drawn_ = 0;  // a message ends the status block; the next one starts below
      console_->Warning(absl::StrCat("run ", run.id, ": pulling its outputs: ", pulled.message()));
    }
  }
  if (record->metrics_path.empty()) return;
  const std::string path =
      absl::StrCat(options_.workspace, "/", run.run_dir, "/", record->metrics_path);
  absl::StatusOr<std::map<std::string, std::string>> metrics = MetricsReader::ReadLatest(path);
  if (metrics.ok()) {
    run.metrics = std::move(*metrics);
    run.metrics_live = false;
  } else if (run.state == "SUCCEEDED") {
    lines_drawn_ = 0;
    console_->Warning(absl::StrCat("run ", run.id, ": metrics: ", metrics.status().message()));
  }
}

void SweepRunner::Save(const SweepRecord& record) {
  absl::Status saved = record.Save(SweepRecord::PathFor(options_.workspace, record.id));
  if (!saved.ok() && !save_failed_) {
    save_failed_ = true;  // once: the sweep itself goes on
    lines_drawn_ = 0;
    console_->Warning(absl::StrCat("recording the sweep: ", saved.message()));
  }
}

void SweepRunner::FollowTail(const RunRecord& run, size_t index) {
  Tail& tail = tails_[index];
  absl::StatusOr<std::string> line = hooks_.tail(run.job_id, &tail.offset);
  if (line.ok() && !line->empty()) tail.last_line = PrintableExcerpt(*line, 200);
}

std::string SweepRunner::StatusLine(const RunRecord& run, size_t index) const {
  std::string elapsed;
  if (run.started_unix_ms > 0) {
    const int64_t end = run.finished_unix_ms > 0 ? run.finished_unix_ms : NowUnixMs();
    elapsed = absl::StrFormat("%.1fs", std::max<int64_t>(0, end - run.started_unix_ms) / 1000.0);
  }
  std::string line =
      absl::StrFormat("%s %-9s %-8s %6s  %s", run.id, run.state, run.job_id, elapsed, Values(run));
  if (run.state == "FAILED" && run.exit_code != 0) {
    absl::StrAppend(&line, "  (exit ", run.exit_code, ")");
  } else if (run.state == "FAILED" && !run.reason.empty()) {
    absl::StrAppend(&line, "  (", run.reason, ")");
  }
  auto tail = tails_.find(index);
  if (tail != tails_.end() && !tail->second.last_line.empty()) {
    absl::StrAppend(&line, "  | ", tail->second.last_line);
  }
  return line;
}

void SweepRunner::Show(const SweepRecord& record, size_t changed) {
  if (console_->verbosity() == Verbosity::kQuiet) return;
  if (!options_.interactive) {
    if (changed < record.runs.size()) {
      console_->Info(absl::StrCat("run ", StatusLine(record.runs[changed], changed)));
    }
    return;
  }
  // Redraw the whole block in place: up, then each line cleared and written.
  std::string out;
  if (lines_drawn_ > 0) absl::StrAppend(&out, "\033[", lines_drawn_, "A");
  // A line longer than the terminal would wrap and break the redraw.
  winsize size{};
  const size_t columns =
      ::ioctl(::fileno(status_stream_), TIOCGWINSZ, &size) == 0 && size.ws_col > 1 ? size.ws_col - 1
                                                                                   : 119;
  for (size_t i = 0; i < record.runs.size(); ++i) {
    absl::StrAppend(&out, "\r\033[2K", StatusLine(record.runs[i], i).substr(0, columns), "\n");
  }
  lines_drawn_ = static_cast<int>(record.runs.size());
  std::fputs(out.c_str(), status_stream_);
  std::fflush(status_stream_);
}

SweepEnd SweepRunner::Summarize(const SweepRecord& record) {
  std::vector<std::string> failed;
  for (const RunRecord& run : record.runs) {
    if (run.state == "SUCCEEDED") continue;
    failed.push_back(run.state == "FAILED" && run.exit_code != 0
                         ? absl::StrCat(run.id, " (exit ", run.exit_code, ")")
                         : absl::StrCat(run.id, " (", run.state, ")"));
  }
  const size_t succeeded = record.runs.size() - failed.size();
  const std::string table = absl::StrCat("mlcube-remote runs ", record.id);
  if (submit_refused_) {
    console_->Error(
        absl::StrFormat("sweep %s: %d of %d runs succeeded; not all were submitted; "
                        "table: %s",
                        record.id, succeeded, record.runs.size(), table));
    return SweepEnd::kNotSubmitted;
  }
  if (failed.empty()) {
    console_->Info(absl::StrFormat("sweep %s: all %d runs succeeded; table: %s", record.id,
                                   record.runs.size(), table));
    return SweepEnd::kAllSucceeded;
  }
  console_->Error(absl::StrFormat("sweep %s: %d of %d runs succeeded; failed: %s; table: %s",
                                  record.id, succeeded, record.runs.size(),
                                  absl::StrJoin(failed, ", "), table));
  return SweepEnd::kSomeFailed;
}

}  // namespace mlcube
