#include "agent/log/log_fields.h"

#include <utility>

namespace mlcube {
namespace {

// Per thread, and only ever touched by LogScope's stack discipline.
LogFields& ThreadFields() {
  thread_local LogFields fields;
  return fields;
}

}  // namespace

LogFields LogFields::Over(const LogFields& outer) const {
  LogFields merged = *this;
  if (merged.request_id.empty()) merged.request_id = outer.request_id;
  if (merged.identity.empty()) merged.identity = outer.identity;
  if (merged.job_id.empty()) merged.job_id = outer.job_id;
  return merged;
}

LogScope::LogScope(const LogFields& fields, Outer outer) : saved_(ThreadFields()) {
  ThreadFields() = outer == Outer::kInherit ? fields.Over(saved_) : fields;
}

LogScope::~LogScope() { ThreadFields() = std::move(saved_); }

const LogFields& LogScope::Current() { return ThreadFields(); }

}  // namespace mlcube
