#include "controller/ui/job_event_stream.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "controller/ui/dashboard_json.h"

namespace mlcube {
namespace {

// How long one wait lasts before the server's `stopping` is looked at.
constexpr absl::Duration kWaitSlice = absl::Milliseconds(200);

std::string SseEvent(const mlcube_remote::v1::JobEvent& event) {
  return absl::StrCat("id: ", event.next_offset(), "\nevent: ", event.has_log() ? "log" : "state",
                      "\ndata: ", DumpJson(JobEventJson(event)), "\n\n");
}

}  // namespace

JobEventStream::JobEventStream(std::shared_ptr<AgentConnection> agent, std::string job_id,
                               int64_t from_offset, const std::atomic<bool>* stopping)
    : agent_(std::move(agent)), job_id_(std::move(job_id)), stopping_(stopping) {
  thread_ = std::thread([this, from_offset] { Follow(from_offset); });
}

JobEventStream::~JobEventStream() {
  {
    absl::MutexLock lock(&mutex_);
    cancelled_ = true;
  }
  context_.TryCancel();
  thread_.join();
}

void JobEventStream::Follow(int64_t from_offset) {
  mlcube_remote::v1::WatchJobRequest request;
  request.set_job_id(job_id_);
  request.set_from_offset(from_offset);
  request.set_follow(true);
  std::unique_ptr<grpc::ClientReader<mlcube_remote::v1::JobEvent>> reader =
      agent_->jobs().WatchJob(&context_, request);
  // A reconnecting browser waits a second, not the default three.
  bool open = Push("retry: 1000\n\n");
  mlcube_remote::v1::JobEvent event;
  while (open && reader->Read(&event)) open = Push(SseEvent(event));
  const grpc::Status status = reader->Finish();
  if (open && status.ok()) {
    Push("event: end\ndata: {}\n\n");
  } else if (open && status.error_code() != grpc::StatusCode::UNAVAILABLE &&
             status.error_code() != grpc::StatusCode::CANCELLED) {
    // Not a dropped link: the browser should not retry (unknown job...).
    Push(absl::StrCat("event: failed\ndata: ", DumpJson({{"error", status.error_message()}}),
                      "\n\n"));
  }
  absl::MutexLock lock(&mutex_);
  finished_ = true;
}

bool JobEventStream::Push(std::string text) {
  absl::MutexLock lock(&mutex_);
  auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    return cancelled_ || queue_.size() < kMaxQueued;
  };
  while (!mutex_.AwaitWithTimeout(absl::Condition(&room), kWaitSlice)) {
    if (stopping_->load()) return false;
  }
  if (cancelled_) return false;
  queue_.push_back(std::move(text));
  return true;
}

std::optional<std::string> JobEventStream::Next(std::chrono::milliseconds idle) {
  const absl::Time deadline = absl::Now() + absl::FromChrono(idle);
  absl::MutexLock lock(&mutex_);
  auto ready = [this]()
                   ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return !queue_.empty() || finished_; };
  while (!mutex_.AwaitWithTimeout(absl::Condition(&ready), kWaitSlice)) {
    if (stopping_->load()) return std::nullopt;
    if (absl::Now() >= deadline) return std::string(": keep-alive\n\n");
  }
  if (queue_.empty()) return std::nullopt;
  std::string text;
  // What is queued goes out in one write, up to about a MiB.
  while (!queue_.empty() && text.size() < (1u << 20)) {
    absl::StrAppend(&text, queue_.front());
    queue_.pop_front();
  }
  return text;
}

}  // namespace mlcube
