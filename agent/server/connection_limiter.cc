#include "agent/server/connection_limiter.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"

namespace mlcube {

ConnectionBudget BudgetForDescriptors(int per_uid, long max_fds) {
  const long reserve = std::max<long>(64, max_fds / 8);
  ConnectionBudget budget;
  budget.per_uid = per_uid;
  budget.total = static_cast<int>(std::clamp<long>(max_fds - reserve, 1, 1 << 30));
  budget.hard_total = static_cast<int>(std::clamp<long>(max_fds - reserve / 2, 1, 1 << 30));
  return budget;
}

long RaiseOpenFileLimit() {
  struct rlimit limit {};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    struct rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return limit.rlim_cur == RLIM_INFINITY ? (1L << 20) : static_cast<long>(limit.rlim_cur);
}

std::string ConnectionLimiter::UidPrincipal(uid_t uid) { return absl::StrCat("uid ", uid); }

bool ConnectionLimiter::Ended(int fd, const Entry& entry) {
  struct stat st {};
  return fstat(fd, &st) != 0 || st.st_dev != entry.dev || st.st_ino != entry.ino;
}

void ConnectionLimiter::ForgetLocked(int fd) {
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end()) return;
  auto of = fds_of_.find(it->second.principal);
  of->second.erase(fd);
  if (of->second.empty()) fds_of_.erase(of);
  by_fd_.erase(it);
}

void ConnectionLimiter::Forget(int fd) {
  absl::MutexLock lock(&mu_);
  ForgetLocked(fd);
}

int ConnectionLimiter::SweepPrincipal(const std::string& principal) {
  auto it = fds_of_.find(principal);
  if (it == fds_of_.end()) return 0;
  std::vector<int> ended;
  for (int fd : it->second) {
    if (Ended(fd, by_fd_.at(fd))) ended.push_back(fd);
  }
  for (int fd : ended) ForgetLocked(fd);
  return static_cast<int>(ended.size());
}

int ConnectionLimiter::SweepLocked() {
  std::vector<int> ended;
  for (const auto& [fd, entry] : by_fd_) {
    if (Ended(fd, entry)) ended.push_back(fd);
  }
  for (int fd : ended) ForgetLocked(fd);
  return static_cast<int>(ended.size());
}

int ConnectionLimiter::Sweep() {
  absl::MutexLock lock(&mu_);
  return SweepLocked();
}

int ConnectionLimiter::SweepAtMostEvery100Ms() {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_full_sweep_ < std::chrono::milliseconds(100)) return 0;
  last_full_sweep_ = now;
  return SweepLocked();
}

int ConnectionLimiter::LiveLocked(const std::string& principal) const {
  auto it = fds_of_.find(principal);
  return it == fds_of_.end() ? 0 : static_cast<int>(it->second.size());
}

int ConnectionLimiter::live(const std::string& principal) const {
  absl::MutexLock lock(&mu_);
  return LiveLocked(principal);
}

int ConnectionLimiter::total() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(by_fd_.size());
}

bool ConnectionLimiter::Remembers(int fd) const {
  absl::MutexLock lock(&mu_);
  return by_fd_.count(fd) > 0;
}

absl::Status ConnectionLimiter::Fits(const std::string& principal) {
  if (budget_.per_uid > 0 && LiveLocked(principal) >= budget_.per_uid &&
      SweepPrincipal(principal) == 0) {
    return absl::ResourceExhaustedError(absl::StrCat(
        principal, " already has ", LiveLocked(principal), " connections open to this agent (",
        "limits.connections in the agent config); close some, e.g. finished clients"));
  }
  const int total = static_cast<int>(by_fd_.size());
  if (budget_.total > 0 && total >= budget_.total && SweepAtMostEvery100Ms() == 0) {
    const bool reserve_open =
        LiveLocked(principal) < budget_.reserve_per_uid && total < budget_.hard_total;
    if (!reserve_open) {
      return absl::ResourceExhaustedError(
          absl::StrCat("the agent has ", total,
                       " connections open, all it keeps descriptors for; try again later"));
    }
  }
  return absl::OkStatus();
}

absl::Status ConnectionLimiter::Admit(const std::string& principal, int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return absl::InvalidArgumentError("not an open descriptor");
  absl::MutexLock lock(&mu_);
  // The number is ours now, so whatever was remembered under it has ended.
  ForgetLocked(fd);
  if (absl::Status fits = Fits(principal); !fits.ok()) return fits;
  by_fd_[fd] = Entry{principal, st.st_dev, st.st_ino};
  fds_of_[principal].insert(fd);
  return absl::OkStatus();
}

absl::Status ConnectionLimiter::Reassign(int fd, const std::string& principal) {
  absl::MutexLock lock(&mu_);
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end() || Ended(fd, it->second)) {
    ForgetLocked(fd);
    return absl::NotFoundError(absl::StrCat("no connection on descriptor ", fd));
  }
  if (it->second.principal == principal) return absl::OkStatus();
  const Entry entry = it->second;
  // Not counted twice while checked: the connection leaves its old charge.
  ForgetLocked(fd);
  if (absl::Status fits = Fits(principal); !fits.ok()) return fits;
  by_fd_[fd] = Entry{principal, entry.dev, entry.ino};
  fds_of_[principal].insert(fd);
  return absl::OkStatus();
}

}  // namespace mlcube
