#ifndef MLCUBE_REMOTE_AGENT_ACCESS_TASK_USER_RESOLVER_H_
#define MLCUBE_REMOTE_AGENT_ACCESS_TASK_USER_RESOLVER_H_

// Which uid an identity's tasks run as, so that a task never has the
// agent's own power (the agent can read every identity's workspace):
//
// - "uid-N" (unix socket, SSH): uid N; gid the primary gid of N's passwd
//   entry, else N.
// - "cn-NAME" (mutual TLS): task_users.map in the agent config (never the
//   agent's uid, another entry's or a real account's: see CheckMap), else a uid
//   from task_users.pool given on first use and kept in
//   STATE/task_users.list (written atomically), so it survives restarts.
//   A pool uid is never one a passwd entry (a real account) has, never one
//   the map names, never the agent's. gid = uid.
// - The agent's owner: a cn- identity listed in task_users.owners, or an
//   identity whose uid is the agent's own euid (a
//   per-user agent called by its user, root calling a root agent), or root
//   calling an unprivileged agent (root can be the agent's user anyway).
//   Its tasks run as the agent's uid, as before.
//
// A cn- identity with no map entry and no pool has no uid: FAILED_PRECONDITION
// naming task_users and pointing to per-user agents. Thread-safe.

#include <sys/types.h>

#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "agent/config/agent_config.h"

namespace mlcube {

struct TaskUser {
  uid_t uid = 0;
  gid_t gid = 0;
  // True for the agent's owner: tasks run as the agent's uid.
  bool agent_owner = false;
};

class TaskUserResolver {
 public:
  // `agent_uid`/`agent_gid`: the agent's euid and egid. Checks the map
  // (CheckMap), then reads `pool_file` (missing = empty); a line it cannot
  // parse is an error naming the file.
  static absl::StatusOr<std::unique_ptr<TaskUserResolver>> Create(TaskUsersConfig config,
                                                                  std::string pool_file,
                                                                  uid_t agent_uid, gid_t agent_gid);

  // Resolves (and for a pool, assigns and records) the task user of
  // `identity`. RESOURCE_EXHAUSTED when the pool is used up.
  absl::StatusOr<TaskUser> Resolve(const std::string& identity);

  uid_t agent_uid() const { return agent_uid_; }

  // INVALID_ARGUMENT naming the first task_users.map entry whose uid is
  // the agent's own, another entry's, or a real account's: one with a
  // passwd entry that is a system account (below 1000) or has a login shell
  // (accounts made for task identities have a nologin or false shell).
  static absl::Status CheckMap(const TaskUsersConfig& config, uid_t agent_uid);

 private:
  TaskUserResolver(TaskUsersConfig config, std::string pool_file, uid_t agent_uid, gid_t agent_gid)
      : config_(std::move(config)),
        pool_file_(std::move(pool_file)),
        agent_uid_(agent_uid),
        agent_gid_(agent_gid) {}

  absl::StatusOr<TaskUser> ForUid(uid_t uid, bool with_passwd_gid) const;
  absl::StatusOr<uid_t> AssignFromPool(const std::string& identity)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool UidTaken(uid_t uid) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const TaskUsersConfig config_;
  const std::string pool_file_;
  const uid_t agent_uid_;
  const gid_t agent_gid_;
  absl::Mutex mu_;
  std::map<std::string, uid_t> assigned_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_ACCESS_TASK_USER_RESOLVER_H_
