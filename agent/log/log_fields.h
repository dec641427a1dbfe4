#ifndef MLCUBE_REMOTE_AGENT_LOG_LOG_FIELDS_H_
#define MLCUBE_REMOTE_AGENT_LOG_LOG_FIELDS_H_

// What a line of the agent's log is about, beside its message: the gRPC
// request it was written for, the identity that made it and the job. Empty
// means "none". A LogScope sets them for every line its thread writes while
// it lives (an RPC handler, a job's thread), so code deep in a call does
// not pass them down.

#include <string>

namespace mlcube {

struct LogFields {
  std::string request_id;
  std::string identity;
  std::string job_id;

  // These fields, with each empty one taken from `outer`.
  LogFields Over(const LogFields& outer) const;
  bool empty() const { return request_id.empty() && identity.empty() && job_id.empty(); }
};

// Sets the fields of this thread's lines until destroyed; those of an
// enclosing scope come back then. Lives and dies on one thread.
class LogScope {
 public:
  enum class Outer { kInherit, kIgnore };
  // kInherit: fields left empty here keep the enclosing scope's values.
  // kIgnore: exactly `fields` (an RPC on a pooled thread starts afresh).
  explicit LogScope(const LogFields& fields, Outer outer = Outer::kInherit);
  ~LogScope();
  LogScope(const LogScope&) = delete;
  LogScope& operator=(const LogScope&) = delete;

  // The fields in force on the calling thread.
  static const LogFields& Current();

 private:
  LogFields saved_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_LOG_LOG_FIELDS_H_
