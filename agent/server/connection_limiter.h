#ifndef MLCUBE_REMOTE_AGENT_SERVER_CONNECTION_LIMITER_H_
#define MLCUBE_REMOTE_AGENT_SERVER_CONNECTION_LIMITER_H_

// Counts the live connections of every principal, so that no one caller
// can take all of the agent's file descriptors (limits.connections). A
// principal is whoever a connection is charged to: "uid N" for a unix-socket
// peer, "cn-NAME" for a mutual-TLS identity, "address A" for a TCP peer whose
// identity is not known yet (see TcpListener).
//
// The fds are owned by gRPC once admitted, and gRPC does not say when it
// closes one. The limiter remembers each admitted fd with the inode of its
// socket; an fd that no longer refers to that socket (closed, or its number
// reused) is a connection that ended. It re-checks a principal's fds when it
// reaches its cap, all of them when the total budget is reached (at most
// every 100 ms, so a flood past the budget costs no full sweep per
// connection), and all of them in Sweep(). One fstat per remembered fd:
// about a microsecond each.
//
// Thread-safe: one limiter is shared by every listener of the agent (unix
// sockets and TCP), so that together they keep the descriptor reserve.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace mlcube {

struct ConnectionBudget {
  // Live connections per principal; 0 = no per-principal cap.
  int per_uid = 256;
  // Live connections of all principals together; past it only a principal
  // with fewer than `reserve_per_uid` connections is admitted, up to
  // `hard_total`.
  int total = 0;
  int hard_total = 0;
  int reserve_per_uid = 4;
};

// The budget for a process that may open `max_fds` descriptors: 1/8 of them
// (at least 64) stay for files, job logs and subprocesses; half of that
// reserve is for principals that hold next to no connections yet.
ConnectionBudget BudgetForDescriptors(int per_uid, long max_fds);

// Raises this process's soft RLIMIT_NOFILE to its hard limit (descriptor
// headroom for connections) and returns the soft limit now in effect.
long RaiseOpenFileLimit();

class ConnectionLimiter {
 public:
  explicit ConnectionLimiter(ConnectionBudget budget) : budget_(budget) {}

  // Admits `fd`, a connected socket of `principal`, and remembers it; or
  // says why not (RESOURCE_EXHAUSTED naming the limit). On refusal nothing
  // is remembered and the caller closes the fd.
  absl::Status Admit(const std::string& principal, int fd);
  absl::Status Admit(uid_t uid, int fd) { return Admit(UidPrincipal(uid), fd); }

  // Charges the admitted, still open `fd` to `principal` from now on (its
  // identity became known), within that principal's cap: on refusal
  // (RESOURCE_EXHAUSTED naming the limit) `fd` is forgotten and the caller
  // ends the connection. NOT_FOUND when `fd` is not remembered.
  absl::Status Reassign(int fd, const std::string& principal);

  // Forgets `fd` (the caller ends its connection).
  void Forget(int fd);

  // Forgets every connection that has ended; returns how many.
  int Sweep();

  // True while `fd` is remembered (admitted, not forgotten or swept).
  bool Remembers(int fd) const;

  int live(const std::string& principal) const;
  int live(uid_t uid) const { return live(UidPrincipal(uid)); }
  int total() const;

 private:
  struct Entry {
    std::string principal;
    dev_t dev;
    ino_t ino;
  };
  static std::string UidPrincipal(uid_t uid);
  static bool Ended(int fd, const Entry& entry);
  void ForgetLocked(int fd) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int SweepLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int SweepPrincipal(const std::string& principal) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int SweepAtMostEvery100Ms() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int LiveLocked(const std::string& principal) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // OK when one more connection of `principal` fits its cap and the total.
  absl::Status Fits(const std::string& principal) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ConnectionBudget budget_;
  mutable absl::Mutex mu_;
  std::chrono::steady_clock::time_point last_full_sweep_ ABSL_GUARDED_BY(mu_);
  std::map<int, Entry> by_fd_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::set<int>> fds_of_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SERVER_CONNECTION_LIMITER_H_
