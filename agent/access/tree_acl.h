#ifndef MLCUBE_REMOTE_AGENT_ACCESS_TREE_ACL_H_
#define MLCUBE_REMOTE_AGENT_ACCESS_TREE_ACL_H_

// POSIX ACLs on an identity's cube trees, so that a tree is readable by the
// agent and by that identity's task uid and by no one else, even when it is
// bind-mounted straight into another identity's container (a raced mount
// bypasses the permissions of every parent directory):
//
//   user::(owner bits)  user:AGENT:rwx  user:TASK:rwx  group::---
//   mask::(group bits)  other::---
//
// and, on directories, the same as default ACL (mask rwx), so whatever the
// agent or the task creates below inherits it. The owning group gets
// nothing: a task's supplementary groups come from its image's /etc/group,
// which the cube's author writes. Other bits on disk are always clear; the
// group bits (the ACL mask) are what the task uid gets of the agent's files.
//
// Entries are opened relative to their directory with O_NOFOLLOW and
// changed through /proc/self/fd, so a symlink is never followed; trees are
// walked without recursion (TreeWalker). Entries the agent does not own
// (the task's own files) cannot be changed by it and are left alone: they
// were created under the default ACL.

#include <sys/acl.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <string>

#include "absl/status/status.h"

namespace mlcube {

class TreeAcl {
 public:
  // `task_uid` may equal `agent_uid` (the agent's owner's tasks).
  TreeAcl(uid_t agent_uid, uid_t task_uid) : agent_uid_(agent_uid), task_uid_(task_uid) {}

  // The mode the agent gives on disk to an entry a manifest says is
  // `mode`: other bits cleared.
  static mode_t DiskMode(uint32_t mode) { return mode & 0770; }
  // The mode reported for an entry whose st_mode is `st_mode`: other's read
  // and execute bits follow group's, so 0644 and 0755 pushed from a laptop
  // come back 0644 and 0755.
  static uint32_t ReportedMode(mode_t st_mode) { return (st_mode & 0770) | ((st_mode >> 3) & 05); }

  // What an entry of the agent's with `st_mode` gets in a task's writable
  // mount: group (the task uid's) read and write, and search for a
  // directory, as the task would have them on entries it made itself.
  static mode_t TaskWritableMode(mode_t st_mode) {
    return (st_mode | (S_ISDIR(st_mode) ? 0070 : 0060)) & 07777;
  }
  // The mode a push gives an unchanged workspace entry whose manifest mode
  // makes `disk_mode` and whose mode on disk is `existing`: `disk_mode`
  // plus the group bits a task was given (TaskWritableMode) where the owner
  // has them too, so a push never takes from a running task what it writes.
  static mode_t KeepingTaskGrant(mode_t disk_mode, mode_t existing) {
    return (disk_mode | (existing & ((disk_mode & 0700) >> 3))) & 07777;
  }

  // The ACL text for an entry of mode `mode` ("u::rw-,u:1000:rwx,...").
  std::string AccessText(mode_t mode) const;
  std::string DefaultText() const;

  // Gives `root` (a directory the agent owns; not followed if a link) and
  // every entry below it that the agent owns this ACL. Fast when `root`'s
  // default ACL already is this one (then the tree was made under it).
  // An error names the entry.
  absl::Status ApplyToTree(const std::string& root) const;

  // Gives the directory `path` alone (made if missing, mode 0700; nothing
  // below it is changed) this ACL: a new cube tree below it inherits it.
  absl::Status ApplyToDirectory(const std::string& path) const;

  // A file moved into the directory `parent_fd` (it did not inherit the
  // directory's default ACL when it was made): gives `name` an access ACL
  // copied from the directory's default ACL, with the owner, mask and
  // other entries from `mode`; without a default ACL just `mode`.
  static absl::Status InheritFromParent(int parent_fd, const std::string& name, mode_t mode);

 private:
  absl::Status ApplyToEntry(int dir_fd, const std::string& name, const struct stat& st,
                            const std::string& shown) const;
  bool HasDefault(int dir_fd) const;

  uid_t agent_uid_;
  uid_t task_uid_;
};

// A directory's default ACL, read once for the many files moved into that
// directory (InheritFromParent reads it again for each).
class InheritableAcl {
 public:
  // Reads the default ACL of the directory `dir_fd` (none is fine: the
  // files then get just their mode).
  explicit InheritableAcl(int dir_fd);
  ~InheritableAcl();
  InheritableAcl(const InheritableAcl&) = delete;
  InheritableAcl& operator=(const InheritableAcl&) = delete;

  // TreeAcl::InheritFromParent for `name` in that directory (`dir_fd`).
  absl::Status GiveTo(int dir_fd, const std::string& name, mode_t mode) const;

 private:
  acl_t acl_;  // null when the directory has no default ACL
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_ACCESS_TREE_ACL_H_
