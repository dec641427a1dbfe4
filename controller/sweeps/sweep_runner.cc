#include "controller/sweeps/sweep_runner.h"

#include <sys/ioctl.h>

#include <algorithm>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/job_state_name.h"
#include "common/safe_path.h"
#include "controller/sweeps/live_metrics.h"
#include "controller/sweeps/metrics_reader.h"

namespace mlcube {
namespace {

using mlcube_remote::v1::Job;

std::string Values(const RunRecord& run) {
  std::vector<std::string> parts;
  for (const auto& [label, value] : run.values) parts.push_back(absl::StrCat(label, "=", value));
  return absl::StrJoin(parts, " ");
}

// The run's latest metrics, at most three ("acc~0.91" while live, read from
// the agent; "acc=0.93" once pulled), "" when it has none.
std::string MetricsSummary(const RunRecord& run) {
  constexpr size_t kShown = 3;
  std::vector<std::string> parts;
  for (const auto& [key, value] : run.metrics) {
    if (parts.size() == kShown) {
      parts.push_back("...");
      break;
    }
    parts.push_back(absl::StrCat(key, run.metrics_live ? "~" : "=", value));
  }
  return absl::StrJoin(parts, " ");
}

}  // namespace

SweepRunner::SweepRunner(SweepHooks hooks, SweepRunnerOptions options, const Console* console,
                         std::FILE* status_stream)
    : SweepRunner(std::vector<SweepLane>{SweepLane{"", std::move(hooks), 0}}, std::move(options),
                  console, status_stream) {}

SweepRunner::SweepRunner(std::vector<SweepLane> lanes, SweepRunnerOptions options,
                         const Console* console, std::FILE* status_stream)
    : lanes_(std::move(lanes)),
      options_(std::move(options)),
      dispatcher_(lanes_.size() > 1, options_.host_grace),
      console_(console),
      status_stream_(status_stream) {
  for (const SweepLane& lane : lanes_) dispatcher_.Add(lane.host, lane.capacity);
}

SweepEnd SweepRunner::Run(SweepRecord* record, const std::vector<RunPlan>& plans) {
  const size_t total = std::min(record->runs.size(), plans.size());
  const size_t parallel =
      options_.detach ? total : static_cast<size_t>(std::max(1, options_.parallel));
  const SweepHooks& control = lanes_.front().hooks;
  Save(*record);
  pending_.clear();
  for (size_t index = 0; index < total; ++index) pending_.push_back(index);
  std::vector<size_t> active;
  // One host that takes batches: every run in one call, the agent holding
  // back all but `parallel` (one job array on Slurm).
  if (lanes_.size() == 1 && control.submit_all && total > 0 &&
      SubmitAll(record, plans, total, &active)) {
    pending_.clear();
  }
  for (;;) {
    bool detaching = options_.detach;
    if (!detaching && control.interrupted && control.interrupted()) {
      if (ConfirmCancel()) {
        CancelAll(record, active);
        return SweepEnd::kCancelled;
      }
      detaching = true;
    }
    // One save per batch of submissions and per poll: a record of N runs is
    // rewritten O(N) times, not once per state change.
    if (SubmitPending(record, plans, detaching, parallel, &active)) Save(*record);
    if (!dispatcher_.AnyAlive()) return Abandon(record);
    // Refused with nothing going on: a failure to report, not a detach.
    if (detaching && submit_refused_ && active.empty()) return Summarize(*record);
    if (detaching) {
      console_->Info(
          absl::StrFormat("detached: %d runs go on; see them with: mlcube-remote runs %s",
                          active.size(), record->id));
      return SweepEnd::kDetached;
    }
    if (active.empty() && (pending_.empty() || submit_refused_)) break;
    std::this_thread::sleep_for(options_.poll);
    Poll(record, plans, &active);
  }
  return Summarize(*record);
}

bool SweepRunner::SubmitPending(SweepRecord* record, const std::vector<RunPlan>& plans,
                                bool detaching, size_t parallel, std::vector<size_t>* active) {
  bool tried = false;
  while (!submit_refused_ && !pending_.empty() && (detaching || active->size() < parallel)) {
    const int lane = dispatcher_.Pick(detaching);
    if (lane < 0) break;
    const size_t index = pending_.front();
    pending_.pop_front();
    tried = true;
    if (Submit(record, index, plans[index], lane, active) == Submission::kHostLost) {
      pending_.push_front(index);  // never taken: it goes to another host
    }
  }
  return tried;
}

bool SweepRunner::ConfirmCancel() {
  const SweepHooks& control = lanes_.front().hooks;
  if (!control.confirm_cancel) return false;
  for (const SweepLane& lane : lanes_) {
    if (!lane.hooks.cancel) return false;
  }
  lines_drawn_ = 0;  // the status block is redrawn below the message
  console_->Info(
      "interrupted: press Ctrl-C again within 3 s to cancel every run, or wait to detach");
  return control.confirm_cancel();
}

void SweepRunner::Poll(SweepRecord* record, const std::vector<RunPlan>& plans,
                       std::vector<size_t>* active) {
  bool changed = false;
  std::map<int, std::string> lost;  // lane -> the last error
  // One failed query per host and round: a host that does not answer at
  // all costs one deadline per poll, not one per run it holds.
  std::set<int> silent;
  bool metrics_changed = false;
  for (auto it = active->begin(); it != active->end();) {
    const size_t index = *it;
    const int lane = lane_of_.at(index);
    RunRecord& run = record->runs[index];
    if (silent.count(lane) != 0) {
      ++it;
      continue;
    }
    absl::StatusOr<Job> job = lanes_[lane].hooks.get(run.job_id);
    if (!job.ok()) {
      console_->Verbose(absl::StrCat("run ", run.id, ": ", job.status().message()));
      silent.insert(lane);
      if (dispatcher_.QueryFailed(lane, HostDispatcher::Clock::now())) {
        lost[lane] = std::string(job.status().message());
      }
      ++it;
      continue;
    }
    dispatcher_.QueryAnswered(lane);
    const std::string before = run.state;
    Update(&run, *job);
    // Live values are worth a save, but do not redraw the status lines.
    if (LiveMetrics::Apply(*job, &run)) metrics_changed = true;
    if (run.state != "QUEUED") dispatcher_.Started(lane, index);
    if (options_.interactive && lanes_[lane].hooks.tail && run.state != "QUEUED") {
      FollowTail(run, index);
    }
    if (run.finished()) {
      Finish(record, index, plans[index]);
      dispatcher_.Ended(lane, index);
    }
    if (run.state != before) {
      changed = true;
      Show(*record, index);
    }
    it = run.finished() ? active->erase(it) : it + 1;
  }
  for (const auto& [lane, message] : lost) LoseHost(record, lane, message, active);
  if (changed || metrics_changed) Save(*record);
  if (options_.interactive) Show(*record, record->runs.size());  // elapsed times move on
}

void SweepRunner::LoseHost(SweepRecord* record, int lane, const std::string& message,
                           std::vector<size_t>* active) {
  const std::string& host = lanes_[lane].host.empty() ? "the agent" : lanes_[lane].host;
  std::vector<std::string> lost;
  for (size_t index : dispatcher_.Drop(lane)) {
    RunRecord& run = record->runs[index];
    run.state = "LOST";
    run.reason = absl::StrCat("host ", host, " unreachable: ", message);
    lost.push_back(run.id);
    active->erase(std::remove(active->begin(), active->end(), index), active->end());
  }
  lines_drawn_ = 0;
  console_->Error(absl::StrCat(
      "lost ", host, " (", message, ")",
      lost.empty() ? ""
                   : absl::StrCat("; its runs ", absl::StrJoin(lost, ", "),
                                  " are LOST (not re-run: they may still be going there)"),
      dispatcher_.AnyAlive() && !pending_.empty() ? "; the runs not yet started go to the others"
                                                  : ""));
  Save(*record);
}

SweepEnd SweepRunner::Abandon(SweepRecord* record) {
  for (size_t index : pending_) {
    record->runs[index].reason = "not submitted: every host was lost";
  }
  Save(*record);
  std::vector<std::string> lost;
  for (const RunRecord& run : record->runs) {
    if (run.state == "LOST") lost.push_back(run.id);
  }
  console_->Error(absl::StrFormat(
      "sweep %s: every host was lost; LOST: %s; not submitted: %d; table: mlcube-remote runs "
      "%s --refresh",
      record->id, lost.empty() ? "none" : absl::StrJoin(lost, ", "), pending_.size(), record->id));
  return SweepEnd::kAgentError;
}

void SweepRunner::CancelAll(SweepRecord* record, const std::vector<size_t>& active) {
  for (size_t index : active) {
    RunRecord& run = record->runs[index];
    absl::StatusOr<Job> job = HooksOf(index).cancel(run.job_id);
    if (job.ok()) {
      Update(&run, *job);
    } else {
      console_->Error(absl::StrCat("cancelling run ", run.id, ": ", job.status().message()));
    }
  }
  for (size_t index : pending_) {
    record->runs[index].state = "CANCELLED";
    record->runs[index].reason = "cancelled before it was submitted";
  }
  Save(*record);
  console_->Info(absl::StrFormat("cancelled sweep %s: %d runs were going, %d not yet submitted",
                                 record->id, active.size(), pending_.size()));
}

SweepRunner::Submission SweepRunner::Submit(SweepRecord* record, size_t index, const RunPlan& plan,
                                            int lane, std::vector<size_t>* active) {
  RunRecord& run = record->runs[index];
  if (!lanes_[lane].host.empty()) run.host = lanes_[lane].host;
  run.submitted_unix_ms = NowUnixMs();
  absl::StatusOr<Job> job = lanes_[lane].hooks.submit(run, plan);
  if (!job.ok() && lanes_.size() > 1 && absl::IsUnavailable(job.status())) {
    run.submitted_unix_ms = 0;
    run.host.clear();
    LoseHost(record, lane, std::string(job.status().message()), active);
    return Submission::kHostLost;
  }
  if (!job.ok() && lanes_.size() > 1 && absl::IsDeadlineExceeded(job.status())) {
    // No answer: the host may have taken it. It is that host's, LOST with
    // it, so it can never run twice.
    lane_of_[index] = lane;
    dispatcher_.Submitted(lane, index);
    active->push_back(index);
    LoseHost(record, lane, std::string(job.status().message()), active);
    return Submission::kLost;
  }
  if (!job.ok()) {
    // What the agent refuses for one run it refuses for the others: they
    // stay PENDING, the runs already going are still followed.
    submit_refused_ = true;
    run.state = "FAILED";
    run.reason = absl::StrCat("not submitted: ", job.status().message());
    run.exit_code = 0;
    lines_drawn_ = 0;
    console_->Error(absl::StrCat("run ", run.id, " ", run.reason,
                                 pending_.empty() ? "" : "; the runs after it are not submitted"));
    Save(*record);
    return Submission::kRefused;
  }
  run.job_id = job->id();
  lane_of_[index] = lane;
  dispatcher_.Submitted(lane, index);
  active->push_back(index);
  Update(&run, *job);
  if (run.state != "QUEUED") dispatcher_.Started(lane, index);
  Show(*record, index);
  return Submission::kAccepted;
}

bool SweepRunner::SubmitAll(SweepRecord* record, const std::vector<RunPlan>& plans, size_t total,
                            std::vector<size_t>* active) {
  const int64_t now = NowUnixMs();
  std::vector<RunRecord> runs(record->runs.begin(), record->runs.begin() + total);
  std::vector<RunPlan> batch(plans.begin(), plans.begin() + total);
  absl::StatusOr<std::vector<Job>> jobs =
      lanes_.front().hooks.submit_all(runs, batch, std::max(0, options_.parallel));
  if (!jobs.ok() && absl::IsUnimplemented(jobs.status())) return false;
  for (size_t i = 0; i < total; ++i) {
    RunRecord& run = record->runs[i];
    run.submitted_unix_ms = now;
    if (!jobs.ok()) {
      // All or nothing: the agent queued none of them.
      run.state = "FAILED";
      run.reason = absl::StrCat("not submitted: ", jobs.status().message());
      continue;
    }
    if (!lanes_.front().host.empty()) run.host = lanes_.front().host;
    run.job_id = (*jobs)[i].id();
    lane_of_[i] = 0;
    dispatcher_.Submitted(0, i);
    Update(&run, (*jobs)[i]);
    if (run.state != "QUEUED") dispatcher_.Started(0, i);
    active->push_back(i);
    Show(*record, i);
  }
  if (!jobs.ok()) {
    submit_refused_ = true;
    lines_drawn_ = 0;
    console_->Error(absl::StrCat("sweep ", record->id,
                                 " not submitted (no run was queued): ", jobs.status().message()));
  }
  Save(*record);
  return true;
}

void SweepRunner::Update(RunRecord* run, const Job& job) {
  run->state = JobStateName(job.state());
  run->started_unix_ms = job.started_unix_ms();
  run->finished_unix_ms = job.finished_unix_ms();
  run->exit_code = job.exit_code();
  run->reason = job.reason();
}

void SweepRunner::Finish(SweepRecord* record, size_t index, const RunPlan& plan) {
  RunRecord& run = record->runs[index];
  if (run.state == "CANCELLED") return;
  const SweepHooks& hooks = HooksOf(index);
  if (hooks.pull) {
    if (absl::Status pulled = hooks.pull(run, plan); !pulled.ok()) {
      lines_drawn_ = 0;  // a message ends the status block; the next one starts below
      console_->Warning(absl::StrCat("run ", run.id, ": pulling its outputs: ", pulled.message()));
      unpulled_.emplace_back(run.id, run.host);
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
  absl::StatusOr<std::string> line = HooksOf(index).tail(run.job_id, &tail.offset);
  if (line.ok() && !line->empty()) tail.last_line = PrintableExcerpt(*line, 200);
}

std::string SweepRunner::StatusLine(const RunRecord& run, size_t index) const {
  std::string elapsed;
  if (run.started_unix_ms > 0) {
    const int64_t end = run.finished_unix_ms > 0 ? run.finished_unix_ms : NowUnixMs();
    elapsed = absl::StrFormat("%.1fs", std::max<int64_t>(0, end - run.started_unix_ms) / 1000.0);
  }
  // With several hosts each line names the run's host.
  std::string line = lanes_.size() > 1
                         ? absl::StrFormat("%s %-9s %-10s %-8s %6s  %s", run.id, run.state,
                                           run.host, run.job_id, elapsed, Values(run))
                         : absl::StrFormat("%s %-9s %-8s %6s  %s", run.id, run.state, run.job_id,
                                           elapsed, Values(run));
  if (const std::string metrics = MetricsSummary(run); !metrics.empty()) {
    absl::StrAppend(&line, "  ", metrics);
  }
  if (run.state == "FAILED" && run.exit_code != 0) {
    absl::StrAppend(&line, "  (exit ", run.exit_code, ")");
  } else if ((run.state == "FAILED" || run.state == "LOST") && !run.reason.empty()) {
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
    if (run.state == "LOST") {
      failed.push_back(absl::StrCat(run.id, " (LOST: host ", run.host, " unreachable)"));
      continue;
    }
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
  // Outputs that stayed on the agent: named, with the command that fetches them.
  std::string missing;
  if (!unpulled_.empty()) {
    std::vector<std::string> ids;
    for (const auto& [id, host] : unpulled_) ids.push_back(id);
    const auto& [first, host] = unpulled_.front();
    missing = absl::StrCat("; outputs not pulled: ", absl::StrJoin(ids, ", "),
                           " (fetch them with: mlcube-remote sync pull",
                           host.empty() ? "" : absl::StrCat(" --host=", host), " --path=",
                           record.runs[0].run_dir.substr(0, record.runs[0].run_dir.rfind('/')), "/",
                           ids.size() == 1 ? first : "RUN", ")");
  }
  if (failed.empty() && missing.empty()) {
    console_->Info(absl::StrFormat("sweep %s: all %d runs succeeded; table: %s", record.id,
                                   record.runs.size(), table));
    return SweepEnd::kAllSucceeded;
  }
  if (failed.empty()) {
    console_->Error(absl::StrFormat("sweep %s: all %d runs succeeded%s; table: %s", record.id,
                                    record.runs.size(), missing, table));
    return SweepEnd::kOutputsMissing;
  }
  console_->Error(absl::StrFormat("sweep %s: %d of %d runs succeeded; failed: %s%s; table: %s",
                                  record.id, succeeded, record.runs.size(),
                                  absl::StrJoin(failed, ", "), missing, table));
  return SweepEnd::kSomeFailed;
}

}  // namespace mlcube
