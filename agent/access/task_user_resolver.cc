#include "agent/access/task_user_resolver.h"

#include <pwd.h>

#include <algorithm>
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

// A login shell: a person (or a service) that signs in with this uid.
bool HasLoginShell(const struct passwd& entry) {
  const absl::string_view shell = entry.pw_shell == nullptr ? "" : entry.pw_shell;
  return !shell.empty() && !absl::EndsWith(shell, "/nologin") && !absl::EndsWith(shell, "/false");
}

// Uids below this are the system's own accounts, which own host files.
constexpr uid_t kFirstPersonUid = 1000;

// Why `uid` (of map entry `key`) may not be an identity's task uid, or "".
std::string WhyNotATaskUid(uid_t uid, uid_t agent_uid) {
  if (uid == agent_uid) {
    return absl::StrCat("uid ", uid,
                        " is the agent's own: the identity's tasks would have the agent's access "
                        "to every identity's data (if that is meant, list the identity in "
                        "task_users.owners instead)");
  }
  struct passwd entry;
  struct passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
    return "";
  }
  if (uid >= kFirstPersonUid && !HasLoginShell(entry)) return "";  // made for this
  return absl::StrCat("uid ", uid, " is the account '", entry.pw_name, "' (",
                      uid < kFirstPersonUid ? "a system account" : "it has a login shell",
                      "): the identity's tasks could read and change its files; give the "
                      "identity a uid of its own (no passwd entry, or an account made for it "
                      "with a nologin shell)");
}

}  // namespace

absl::Status TaskUserResolver::CheckMap(const TaskUsersConfig& config, uid_t agent_uid) {
  for (const std::string& owner : config.owners) {
    if (config.map.count(owner) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("task_users.map.", owner, ": also in task_users.owners (one or the other)"));
    }
  }
  std::map<uid_t, std::string> seen;
  for (const auto& [identity, uid] : config.map) {
    const std::string key = absl::StrCat("task_users.map.", identity);
    std::string why = WhyNotATaskUid(uid, agent_uid);
    auto [other, inserted] = seen.emplace(uid, identity);
    if (why.empty() && !inserted) {
      why = absl::StrCat("uid ", uid, " is also ", other->second,
                         "'s: the two identities would share their files");
    }
    if (!why.empty()) return absl::InvalidArgumentError(absl::StrCat(key, ": ", why));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<TaskUserResolver>> TaskUserResolver::Create(TaskUsersConfig config,
                                                                           std::string pool_file,
                                                                           uid_t agent_uid,
                                                                           gid_t agent_gid) {
  if (absl::Status s = CheckMap(config, agent_uid); !s.ok()) return s;
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
  if (std::find(config_.owners.begin(), config_.owners.end(), identity) != config_.owners.end()) {
    return TaskUser{agent_uid_, agent_gid_, true};
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
