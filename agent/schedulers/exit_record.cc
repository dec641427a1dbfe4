#include "agent/schedulers/exit_record.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"

namespace mlcube {
namespace {

// More than any record needs ("signal 15\n"), and one block of any
// filesystem.
constexpr off_t kReservedBytes = 4096;

}  // namespace

ExitRecord ExitRecord::Reserve(const std::string& step_prefix) {
  const std::string path = step_prefix + ".exit.reserved";
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640));
  if (fd && ::posix_fallocate(fd.get(), 0, kReservedBytes) != 0) {
    fd = UniqueFd(-1);
    ::unlink(path.c_str());
  }
  return ExitRecord(step_prefix, std::move(fd));
}

absl::Status ExitRecord::CommitReserved(absl::string_view text) {
  const std::string reserved = step_prefix_ + ".exit.reserved";
  const std::string path = step_prefix_ + ".exit";
  if (absl::Status written = WriteAllAt(reserved_.get(), text, 0, reserved); !written.ok()) {
    return written;
  }
  // Shrinking frees blocks; it never needs one.
  if (::ftruncate(reserved_.get(), static_cast<off_t>(text.size())) != 0 ||
      ::fsync(reserved_.get()) != 0) {
    return WriteErrorStatus(errno, absl::StrCat("syncing ", reserved));
  }
  if (::rename(reserved.c_str(), path.c_str()) != 0) {
    return WriteErrorStatus(errno, absl::StrCat("renaming ", reserved));
  }
  return absl::OkStatus();
}

absl::Status ExitRecord::Commit(absl::string_view text) {
  if (reserved_) {
    absl::Status committed = CommitReserved(text);
    reserved_ = UniqueFd(-1);
    if (committed.ok()) return committed;
    ::unlink((step_prefix_ + ".exit.reserved").c_str());
  }
  return WriteFileAtomically(step_prefix_ + ".exit", text);
}

}  // namespace mlcube
