#include "agent/schedulers/slurm_array_batch.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"

namespace mlcube {
namespace {

constexpr absl::Duration kAbortCheck = absl::Milliseconds(200);

}  // namespace

SlurmArrayBatch::SlurmArrayBatch(std::string record_file, std::set<int> members, SubmitFn submit)
    : record_file_(std::move(record_file)),
      members_(std::move(members)),
      submit_(std::move(submit)) {}

std::string SlurmArrayBatch::array_id() const {
  absl::MutexLock lock(&mu_);
  return array_id_;
}

void SlurmArrayBatch::LoadRecordLocked() {
  if (loaded_) return;
  loaded_ = true;
  auto text = ReadSmallFile(record_file_);
  if (!text.ok()) return;  // not submitted yet
  std::vector<std::string> words = absl::StrSplit(*text, absl::ByAnyChar(" \n"), absl::SkipEmpty());
  uint64_t id = 0;
  if (words.size() != 2 || !absl::SimpleAtoi(words[0], &id)) {
    decided_ = true;
    error_ = absl::DataLossError(absl::StrCat(record_file_, " is malformed"));
    return;
  }
  for (absl::string_view item : absl::StrSplit(words[1], ',', absl::SkipEmpty())) {
    int index = 0;
    if (absl::SimpleAtoi(item, &index)) submitted_.insert(index);
  }
  decided_ = true;
  array_id_ = words[0];
}

absl::StatusOr<std::string> SlurmArrayBatch::ElementLocked(int index) const {
  if (!error_.ok()) return error_;
  if (submitted_.count(index) == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "run ", index, " is not part of the Slurm job array ", array_id_, " of its batch"));
  }
  return absl::StrCat(array_id_, "_", index);
}

void SlurmArrayBatch::MaybeSubmitLocked() {
  if (decided_ || joined_.size() + withdrawn_.size() < members_.size() || joined_.empty()) return;
  std::vector<SlurmStep> steps;
  std::vector<int> indices;
  for (const auto& [index, step] : joined_) {
    indices.push_back(index);
    steps.push_back(step);
  }
  decided_ = true;
  auto id = submit_(steps, indices);
  if (!id.ok()) {
    error_ = id.status();
    return;
  }
  array_id_ = *id;
  submitted_.insert(indices.begin(), indices.end());
  joined_.clear();  // the steps are in Slurm's hands now
  absl::Status saved =
      WriteFileAtomically(record_file_, absl::StrCat(*id, " ", absl::StrJoin(indices, ","), "\n"));
  if (!saved.ok()) {
    error_ = absl::InternalError(
        absl::StrCat("Slurm job array ", *id, " submitted but not recorded: ", saved.message()));
  }
}

absl::StatusOr<std::string> SlurmArrayBatch::Join(int index, const SlurmStep& step,
                                                  const std::function<bool()>& abort) {
  absl::MutexLock lock(&mu_);
  LoadRecordLocked();
  if (decided_) return ElementLocked(index);
  withdrawn_.erase(index);
  joined_[index] = step;
  MaybeSubmitLocked();
  while (!decided_) {
    mu_.AwaitWithTimeout(absl::Condition(&decided_), kAbortCheck);
    if (decided_ || !abort) continue;
    mu_.Unlock();  // `abort` may take its owner's locks
    const bool aborting = abort();
    mu_.Lock();
    if (aborting && !decided_) {
      joined_.erase(index);
      withdrawn_.insert(index);
      MaybeSubmitLocked();  // the others may be complete without this one
      return absl::CancelledError("cancelled before its Slurm job array was submitted");
    }
  }
  return ElementLocked(index);
}

void SlurmArrayBatch::Withdraw(int index) {
  absl::MutexLock lock(&mu_);
  LoadRecordLocked();
  if (decided_ || joined_.count(index) > 0 || members_.count(index) == 0) return;
  withdrawn_.insert(index);
  MaybeSubmitLocked();
}

}  // namespace mlcube
