#include "agent/access/tree_acl.h"

#include <acl/libacl.h>
#include <fcntl.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/safe_path.h"
#include "common/tree_walker.h"
#include "common/unique_fd.h"

namespace mlcube {
namespace {

std::string Perms(mode_t bits) {
  return {(bits & 4) ? 'r' : '-', (bits & 2) ? 'w' : '-', (bits & 1) ? 'x' : '-'};
}

std::string ProcPath(int fd) { return absl::StrCat("/proc/self/fd/", fd); }

// Owns an acl_t.
class Acl {
 public:
  explicit Acl(acl_t acl) : acl_(acl) {}
  ~Acl() {
    if (acl_ != nullptr) acl_free(acl_);
  }
  Acl(const Acl&) = delete;
  Acl& operator=(const Acl&) = delete;
  acl_t get() const { return acl_; }

 private:
  acl_t acl_;
};

absl::Status AclError(const std::string& shown) {
  return absl::PermissionDeniedError(
      absl::StrCat("setting the access list of ", shown, ": ", strerror(errno)));
}

absl::Status SetAcl(int fd, acl_type_t type, const std::string& text, const std::string& shown) {
  Acl acl(acl_from_text(text.c_str()));
  if (acl.get() == nullptr) return absl::InternalError(absl::StrCat("bad ACL text ", text));
  if (acl_set_file(ProcPath(fd).c_str(), type, acl.get()) != 0) return AclError(shown);
  return absl::OkStatus();
}

}  // namespace

std::string TreeAcl::AccessText(mode_t mode) const {
  std::string text = absl::StrCat("u::", Perms(mode >> 6), ",u:", agent_uid_, ":rwx");
  if (task_uid_ != agent_uid_) absl::StrAppend(&text, ",u:", task_uid_, ":rwx");
  absl::StrAppend(&text, ",g::---,m::", Perms(mode >> 3), ",o::---");
  return text;
}

std::string TreeAcl::DefaultText() const { return AccessText(0770); }

bool TreeAcl::HasDefault(int dir_fd) const {
  Acl present(acl_get_file(ProcPath(dir_fd).c_str(), ACL_TYPE_DEFAULT));
  Acl wanted(acl_from_text(DefaultText().c_str()));
  return present.get() != nullptr && wanted.get() != nullptr &&
         acl_cmp(present.get(), wanted.get()) == 0;
}

absl::Status TreeAcl::ApplyToEntry(int dir_fd, const std::string& name, const struct stat& st,
                                   const std::string& shown) const {
  if (st.st_uid != agent_uid_) return absl::OkStatus();  // the task's own: not ours to change
  if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) return absl::OkStatus();
  UniqueFd fd(openat(dir_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  struct stat now;
  if (!fd || fstat(fd.get(), &now) != 0) {
    return absl::FailedPreconditionError(absl::StrCat("opening ", shown, ": ", strerror(errno)));
  }
  if (now.st_ino != st.st_ino || now.st_dev != st.st_dev) {
    return absl::FailedPreconditionError(absl::StrCat(shown, " changed while its access was set"));
  }
  if (absl::Status s = SetAcl(fd.get(), ACL_TYPE_ACCESS, AccessText(now.st_mode), shown); !s.ok()) {
    return s;
  }
  if (!S_ISDIR(now.st_mode)) return absl::OkStatus();
  return SetAcl(fd.get(), ACL_TYPE_DEFAULT, DefaultText(), shown);
}

absl::Status TreeAcl::ApplyToTree(const std::string& root) const {
  UniqueFd root_fd(open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root_fd) {
    return absl::FailedPreconditionError(absl::StrCat("opening ", root, ": ", strerror(errno)));
  }
  if (HasDefault(root_fd.get())) return absl::OkStatus();
  struct stat st;
  if (fstat(root_fd.get(), &st) != 0) return absl::InternalError(strerror(errno));
  if (st.st_uid == agent_uid_) {
    if (absl::Status s = SetAcl(root_fd.get(), ACL_TYPE_ACCESS, AccessText(st.st_mode), root);
        !s.ok()) {
      return s;
    }
  }
  TreeWalker walker(TreeLimits{});
  absl::Status walked = walker.Walk(
      root_fd.get(), root,
      [this, &root](const TreeWalker::Entry& entry) -> absl::StatusOr<TreeWalker::Next> {
        const std::string shown = absl::StrCat(root, "/", PrintableExcerpt(entry.rel));
        if (absl::Status s = ApplyToEntry(entry.dir_fd, entry.name, entry.st, shown); !s.ok()) {
          return s;
        }
        return TreeWalker::Next::kDescend;
      });
  if (!walked.ok()) return walked;
  // Last, so that an interrupted walk is done again next time.
  if (st.st_uid != agent_uid_) return absl::OkStatus();
  return SetAcl(root_fd.get(), ACL_TYPE_DEFAULT, DefaultText(), root);
}

absl::Status TreeAcl::ApplyToDirectory(const std::string& path) const {
  if (absl::Status s = MakeDirs(path, 0700); !s.ok()) return s;
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  struct stat st;
  if (!fd || fstat(fd.get(), &st) != 0) {
    return absl::FailedPreconditionError(absl::StrCat("opening ", path, ": ", strerror(errno)));
  }
  if (HasDefault(fd.get())) return absl::OkStatus();
  if (absl::Status s = SetAcl(fd.get(), ACL_TYPE_ACCESS, AccessText(st.st_mode & 0700), path);
      !s.ok()) {
    return s;
  }
  return SetAcl(fd.get(), ACL_TYPE_DEFAULT, DefaultText(), path);
}

absl::Status TreeAcl::InheritFromParent(int parent_fd, const std::string& name, mode_t mode) {
  return InheritableAcl(parent_fd).GiveTo(parent_fd, name, mode);
}

InheritableAcl::InheritableAcl(int dir_fd)
    : acl_(acl_get_file(ProcPath(dir_fd).c_str(), ACL_TYPE_DEFAULT)) {
  if (acl_ != nullptr && acl_entries(acl_) <= 0) {
    acl_free(acl_);
    acl_ = nullptr;
  }
}

InheritableAcl::~InheritableAcl() {
  if (acl_ != nullptr) acl_free(acl_);
}

absl::Status InheritableAcl::GiveTo(int dir_fd, const std::string& name, mode_t mode) const {
  UniqueFd fd(openat(dir_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  struct stat st;
  if (!fd || fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("opening ", PrintableExcerpt(name), ": ", strerror(errno)));
  }
  if (acl_ == nullptr) {
    if (fchmodat(dir_fd, name.c_str(), mode, 0) != 0) {
      return absl::PermissionDeniedError(
          absl::StrCat("chmod ", PrintableExcerpt(name), ": ", strerror(errno)));
    }
    return absl::OkStatus();
  }
  Acl inherited(acl_dup(acl_));
  if (inherited.get() == nullptr) return AclError(PrintableExcerpt(name));
  acl_entry_t entry;
  for (int which = ACL_FIRST_ENTRY; acl_get_entry(inherited.get(), which, &entry) == 1;
       which = ACL_NEXT_ENTRY) {
    acl_tag_t tag;
    acl_permset_t permset;
    if (acl_get_tag_type(entry, &tag) != 0 || acl_get_permset(entry, &permset) != 0) continue;
    const int shift = tag == ACL_USER_OBJ ? 6 : tag == ACL_MASK ? 3 : tag == ACL_OTHER ? 0 : -1;
    if (shift < 0) continue;
    acl_clear_perms(permset);
    if ((mode >> shift) & 4) acl_add_perm(permset, ACL_READ);
    if ((mode >> shift) & 2) acl_add_perm(permset, ACL_WRITE);
    if ((mode >> shift) & 1) acl_add_perm(permset, ACL_EXECUTE);
    acl_set_permset(entry, permset);
  }
  if (acl_set_file(ProcPath(fd.get()).c_str(), ACL_TYPE_ACCESS, inherited.get()) != 0) {
    return AclError(PrintableExcerpt(name));
  }
  return absl::OkStatus();
}

}  // namespace mlcube
