#ifndef MLCUBE_REMOTE_AGENT_SERVER_CONNECTION_LIMITER_H_
#define MLCUBE_REMOTE_AGENT_SERVER_CONNECTION_LIMITER_H_

// Counts the live unix-socket connections of every uid, so that one uid
// cannot take all of the agent's file descriptors (limits.connections).
//
// The fds are owned by gRPC once admitted, and gRPC does not say when it
// closes one. The limiter remembers each admitted fd with the inode of its
// socket; an fd that no longer refers to that socket (closed, or its number
// reused) is a connection that ended. It re-checks a uid's fds when the uid
// reaches its cap, all of them when the total budget is reached (at most
// every 100 ms, so a flood past the budget costs no full sweep per
// connection), and all of them in Sweep(). One fstat per remembered fd:
// about a microsecond each.
//
// Not thread-safe: one thread (the accept loop) calls every method.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <set>

#include "absl/status/status.h"

namespace mlcube {

struct ConnectionBudget {
  // Live connections per uid; 0 = no per-uid cap.
  int per_uid = 256;
  // Live connections of all uids together; past it only a uid with fewer
  // than `reserve_per_uid` connections is admitted, up to `hard_total`.
  int total = 0;
  int hard_total = 0;
  int reserve_per_uid = 4;
};

// The budget for a process that may open `max_fds` descriptors: 1/8 of them
// (at least 64) stay for files, job logs and subprocesses; half of that
// reserve is for uids that hold next to no connections yet.
ConnectionBudget BudgetForDescriptors(int per_uid, long max_fds);

// Raises this process's soft RLIMIT_NOFILE to its hard limit (descriptor
// headroom for connections) and returns the soft limit now in effect.
long RaiseOpenFileLimit();

class ConnectionLimiter {
 public:
  explicit ConnectionLimiter(ConnectionBudget budget) : budget_(budget) {}

  // Admits `fd`, a connected socket of `uid`, and remembers it; or says why
  // not (RESOURCE_EXHAUSTED naming the limit). On refusal nothing is
  // remembered and the caller closes the fd.
  absl::Status Admit(uid_t uid, int fd);

  // Forgets every connection that has ended; returns how many.
  int Sweep();

  int live(uid_t uid) const;
  int total() const { return static_cast<int>(by_fd_.size()); }

 private:
  struct Entry {
    uid_t uid;
    dev_t dev;
    ino_t ino;
  };
  bool Ended(int fd, const Entry& entry) const;
  void Forget(int fd);
  int SweepUid(uid_t uid);
  int SweepAtMostEvery100Ms();

  ConnectionBudget budget_;
  std::chrono::steady_clock::time_point last_full_sweep_;
  std::map<int, Entry> by_fd_;
  std::map<uid_t, std::set<int>> fds_of_uid_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SERVER_CONNECTION_LIMITER_H_
