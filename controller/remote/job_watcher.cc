#include "controller/remote/job_watcher.h"

#include <unistd.h>

#include <cerrno>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "controller/terminal/exit_codes.h"

namespace mlcube {
namespace {

using mlcube_remote::v1::Job;
using mlcube_remote::v1::JobEvent;
using mlcube_remote::v1::JobState;

bool WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

void WriteLocked(int fd, const std::string& data, std::mutex* write_mutex) {
  if (data.empty()) return;
  std::unique_lock<std::mutex> lock;
  if (write_mutex != nullptr) lock = std::unique_lock<std::mutex>(*write_mutex);
  WriteAll(fd, data);
}

bool IsFinal(JobState state) {
  return state == mlcube_remote::v1::JOB_STATE_SUCCEEDED ||
         state == mlcube_remote::v1::JOB_STATE_FAILED ||
         state == mlcube_remote::v1::JOB_STATE_CANCELLED;
}

}  // namespace

bool IsTransient(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::CANCELLED:
      return true;
    default:
      return false;
  }
}

int ExitStatusForJob(const Job& job) {
  switch (job.state()) {
    case mlcube_remote::v1::JOB_STATE_SUCCEEDED:
      return kExitOk;
    case mlcube_remote::v1::JOB_STATE_CANCELLED:
      return kExitCancelled;
    case mlcube_remote::v1::JOB_STATE_FAILED:
      // A process exit status keeps the low 8 bits: a code such as 256
      // would read as success.
      return (job.exit_code() & 0xff) != 0 ? job.exit_code() & 0xff : 1;
    default:
      return kExitAgentError;
  }
}

JobWatcher::JobWatcher(AgentConnection* connection, const Console* console,
                       InterruptMonitor* interrupts)
    : connection_(connection), console_(console), interrupts_(interrupts) {}

absl::StatusOr<Job> JobWatcher::GetJob(const std::string& job_id) {
  mlcube_remote::v1::GetJobRequest request;
  request.set_job_id(job_id);
  Job job;
  auto context = AgentConnection::Context(std::chrono::seconds(10));
  grpc::Status status = connection_->jobs().GetJob(context.get(), request, &job);
  if (!status.ok()) {
    return FromGrpcStatus(status, absl::StrCat("job ", job_id, " on ", connection_->Describe()));
  }
  return job;
}

grpc::Status JobWatcher::StreamOnce(const std::string& job_id, const WatchOptions& options,
                                    int64_t* offset,
                                    std::optional<mlcube_remote::v1::StateChange>* final_state) {
  grpc::ClientContext context;
  if (interrupts_ != nullptr) {
    interrupts_->SetCallback([&context](int) { context.TryCancel(); });
    // An interrupt that came before the callback was set must still stop us.
    if (interrupts_->count() > interrupt_baseline_) context.TryCancel();
  }
  mlcube_remote::v1::WatchJobRequest request;
  request.set_job_id(job_id);
  request.set_from_offset(*offset);
  request.set_follow(options.follow);
  {
    std::lock_guard<std::mutex> lock(stop_mutex_);
    streaming_ = &context;
    if (stopped_) context.TryCancel();  // the stream ends at once, as after Stop()
  }
  std::unique_ptr<grpc::ClientReader<JobEvent>> reader =
      connection_->jobs().WatchJob(&context, request);
  JobEvent event;
  while (reader->Read(&event)) {
    if (event.has_log()) {
      const auto& log = event.log();
      switch (log.stream()) {
        case mlcube_remote::v1::LOG_STREAM_STDOUT:
          Print(log.stream(), options.stdout_fd, log.data(), options.write_mutex);
          break;
        case mlcube_remote::v1::LOG_STREAM_STDERR:
          Print(log.stream(), options.stderr_fd, log.data(), options.write_mutex);
          break;
        default: {
          std::string text = log.data();
          while (!text.empty() && text.back() == '\n') text.pop_back();
          console_->Info(absl::StrCat("[", connection_->host().name, "] ", text));
        }
      }
    } else if (event.has_state()) {
      const auto& state = event.state();
      console_->Verbose(absl::StrCat("job ", job_id, ": ", JobStateName(state.state()),
                                     state.reason().empty() ? "" : ": ", state.reason()));
      if (IsFinal(state.state())) *final_state = state;
    }
    *offset = event.next_offset();
  }
  grpc::Status status = reader->Finish();
  {
    std::lock_guard<std::mutex> lock(stop_mutex_);
    streaming_ = nullptr;
  }
  if (interrupts_ != nullptr) interrupts_->SetCallback(nullptr);
  return status;
}

void JobWatcher::Print(int stream, int fd, const std::string& data, std::mutex* write_mutex) {
  // The common case (no rank filter, no prefix) writes the chunk as it came,
  // without a copy.
  if (filter_.PassesAll()) return WriteLocked(fd, data, write_mutex);
  WriteLocked(fd, filter_.Filter(stream, data), write_mutex);
}

void JobWatcher::Stop() {
  std::lock_guard<std::mutex> lock(stop_mutex_);
  stopped_ = true;
  if (streaming_ != nullptr) streaming_->TryCancel();
}

bool JobWatcher::Stopped() {
  std::lock_guard<std::mutex> lock(stop_mutex_);
  return stopped_;
}

absl::StatusOr<WatchOutcome> JobWatcher::Watch(const std::string& job_id,
                                               const WatchOptions& options) {
  filter_ = RankFilter(options.ranks, options.line_prefix);
  absl::StatusOr<WatchOutcome> outcome = WatchStreams(job_id, options);
  WriteLocked(options.stdout_fd, filter_.Flush(mlcube_remote::v1::LOG_STREAM_STDOUT),
              options.write_mutex);
  WriteLocked(options.stderr_fd, filter_.Flush(mlcube_remote::v1::LOG_STREAM_STDERR),
              options.write_mutex);
  return outcome;
}

absl::StatusOr<WatchOutcome> JobWatcher::WatchStreams(const std::string& job_id,
                                                      const WatchOptions& options) {
  WatchOutcome outcome;
  int64_t offset = options.from_offset;
  const int interrupts_before = interrupts_ != nullptr ? interrupts_->count() : 0;
  interrupt_baseline_ = interrupts_before;
  const auto give_up_at = std::chrono::steady_clock::now() + options.reconnect_window;
  std::chrono::milliseconds backoff(200);
  bool reported_loss = false;
  for (;;) {
    std::optional<mlcube_remote::v1::StateChange> final_state;
    grpc::Status status = StreamOnce(job_id, options, &offset, &final_state);
    outcome.next_offset = offset;
    if ((interrupts_ != nullptr && interrupts_->count() > interrupts_before) || Stopped()) {
      outcome.interrupted = true;
      absl::StatusOr<Job> job = GetJob(job_id);
      if (job.ok()) outcome.job = *job;
      return outcome;
    }
    if (status.ok()) {
      absl::StatusOr<Job> job = GetJob(job_id);
      if (!job.ok() &&
          !IsTransient(grpc::Status(static_cast<grpc::StatusCode>(job.status().code()), ""))) {
        return job.status();
      }
      if (job.ok()) {
        outcome.job = *job;
        // The agent logs a final state just before its job record shows it:
        // what the stream said is the newer word.
        if (final_state.has_value() && !IsFinal(job->state())) {
          outcome.job.set_state(final_state->state());
          outcome.job.set_exit_code(final_state->exit_code());
          outcome.job.set_reason(final_state->reason());
        }
        if (reported_loss) console_->Info(absl::StrCat("reconnected to ", connection_->Describe()));
        // A follow stream that ended before the final state (agent shutting
        // down gracefully) is resumed like a dropped one.
        if (!options.follow || IsFinal(outcome.job.state())) return outcome;
      }
    } else if (!IsTransient(status)) {
      return FromGrpcStatus(status,
                            absl::StrCat("watching job ", job_id, " on ", connection_->Describe()));
    } else {
      if (!reported_loss) {
        console_->Warning(absl::StrCat("lost the connection to ", connection_->Describe(), " (",
                                       status.error_message(),
                                       "); the job keeps running, reconnecting..."));
        reported_loss = true;
      }
      if (std::chrono::steady_clock::now() > give_up_at) {
        return absl::UnavailableError(absl::StrCat(
            "gave up reconnecting to ", connection_->Describe(), " for job ", job_id,
            "; re-attach later with: mlcube-remote logs -f --host=", connection_->host().name, " ",
            job_id));
      }
    }
    if (interrupts_ != nullptr) {
      if (interrupts_->WaitForMore(interrupts_before, backoff)) continue;
    } else {
      std::this_thread::sleep_for(backoff);
    }
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    if (status.ok()) backoff = std::chrono::milliseconds(200);
  }
}

}  // namespace mlcube
