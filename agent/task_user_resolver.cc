#include "agent/task_user_resolver.h"

#include <pwd.h>

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"

namespace mlcube {
namespace {

// The primary gid of `uid`'s passwd entry, if it has one.
bool PasswdGid(uid_t uid, gid_t* gid) {
  struct passwd entry;
  struct passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
    return false;
  }
  *gid = found->pw_gid;
  return true;
}

absl::StatusOr<std::map<std::string, uid_t>> ParsePoolFile(const std::string& path,
                                                           const std::string& text) {
  std::map<std::string, uid_t> assigned;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    ++line_number;
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    uint32_t uid = 0;
    if (fields.size() != 2 || !absl::StartsWith(fields[0], "cn-") ||
        !absl::SimpleAtoi(fields[1], &uid) || uid == 0) {
      return absl::DataLossError(absl::StrCat(path, ":", line_number,
                                              ": expected 'cn-NAME UID' (remove the line to "
                                              "give the identity a new uid)"));
    }
    assigned[fields[0]] = uid;
  }
  return assigned;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TaskUserResolver>> TaskUserResolver::Create(TaskUsersConfig config,
                                                                           std::string pool_file,
                                                                           uid_t agent_uid,
                                                                           gid_t agent_gid) {
  std::unique_ptr<TaskUserResolver> resolver(
      new TaskUserResolver(std::move(config), std::move(pool_file), agent_uid, agent_gid));
  auto text = ReadSmallFile(resolver->pool_file_);
  if (!text.ok() && !absl::IsNotFound(text.status())) return text.status();
  if (text.ok()) {
    auto assigned = ParsePoolFile(resolver->pool_file_, *text);
    if (!assigned.ok()) return assigned.status();
    absl::MutexLock lock(&resolver->mu_);
    resolver->assigned_ = std::move(*assigned);
  }
  return resolver;
}

absl::StatusOr<TaskUser> TaskUserResolver::ForUid(uid_t uid, bool with_passwd_gid) const {
  TaskUser user;
  // Root calling an unprivileged agent can become the agent's user anyway:
  // it is the agent's owner too.
  if (uid == agent_uid_ || uid == 0) {
    return TaskUser{agent_uid_, agent_gid_, true};
  }
  user.uid = uid;
  user.gid = uid;
  if (with_passwd_gid) PasswdGid(uid, &user.gid);
  // A primary group of root is not a task's (it would own root's files).
  if (user.gid == 0) user.gid = uid;
  return user;
}

absl::StatusOr<TaskUser> TaskUserResolver::Resolve(const std::string& identity) {
  if (absl::StartsWith(identity, "uid-")) {
    uint32_t uid = 0;
    if (!absl::SimpleAtoi(identity.substr(4), &uid)) {
      return absl::InvalidArgumentError(absl::StrCat("identity ", identity, " is not a uid"));
    }
    return ForUid(uid, true);
  }
  auto mapped = config_.map.find(identity);
  if (mapped != config_.map.end()) return ForUid(mapped->second, false);
  if (!absl::StartsWith(identity, "cn-") || !config_.has_pool()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "identity ", identity,
        " has no uid to run tasks as on this shared agent: its admin can add it to task_users "
        "(map or pool) in the agent config, or run your own agent there "
        "(mlcube-remote agent install --host=H)"));
  }
  absl::MutexLock lock(&mu_);
  auto it = assigned_.find(identity);
  if (it != assigned_.end()) return ForUid(it->second, false);
  auto uid = AssignFromPool(identity);
  if (!uid.ok()) return uid.status();
  return ForUid(*uid, false);
}

bool TaskUserResolver::UidTaken(uid_t uid) const {
  if (uid == agent_uid_) return true;
  for (const auto& [name, mapped] : config_.map) {
    if (mapped == uid) return true;
  }
  for (const auto& [name, given] : assigned_) {
    if (given == uid) return true;
  }
  gid_t unused;
  return PasswdGid(uid, &unused);  // a real account's uid
}

absl::StatusOr<uid_t> TaskUserResolver::AssignFromPool(const std::string& identity) {
  for (uint64_t uid = config_.pool_first; uid <= config_.pool_last; ++uid) {
    if (UidTaken(static_cast<uid_t>(uid))) continue;
    std::string text;
    assigned_[identity] = static_cast<uid_t>(uid);
    for (const auto& [name, given] : assigned_) absl::StrAppend(&text, name, " ", given, "\n");
    if (absl::Status s = WriteFileAtomically(pool_file_, text, 0600); !s.ok()) {
      assigned_.erase(identity);
      return absl::Status(s.code(),
                          absl::StrCat("recording the task uid of ", identity, ": ", s.message()));
    }
    return static_cast<uid_t>(uid);
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("task_users.pool ", config_.pool_first, "-", config_.pool_last,
                   " is used up: no uid left for ", identity, " (widen it in the agent config)"));
}

}  // namespace mlcube
