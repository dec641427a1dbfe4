#include "agent/workspaces/workspace_materializer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/unique_fd.h"
#include "tests/unit/sync_test_util.h"

namespace mlcube {
namespace {

using ::mlcube_remote::v1::ENTRY_TYPE_DIRECTORY;
using ::mlcube_remote::v1::ENTRY_TYPE_FILE;
using ::mlcube_remote::v1::ENTRY_TYPE_SYMLINK;
using ::mlcube_remote::v1::Manifest;
using sync_testing::ReadFile;
using sync_testing::WriteFile;

class WorkspaceMaterializerTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = std::make_unique<BlobStore>(*BlobStore::Open(dir_ / "blobs")); }

  void AddFile(Manifest* m, const std::string& path, const std::string& data, bool store = true) {
    auto* e = m->add_entries();
    e->set_path(path);
    e->set_type(ENTRY_TYPE_FILE);
    *e->mutable_digest() = DigestOf(data);
    e->set_mode(0640);
    e->set_mtime_ns(1'600'000'000'123'456'789);
    if (store) {
      ASSERT_TRUE(store_->Put(DigestOf(data), data).ok());
    }
  }
  void AddDir(Manifest* m, const std::string& path) {
    auto* e = m->add_entries();
    e->set_path(path);
    e->set_type(ENTRY_TYPE_DIRECTORY);
    e->set_mode(0755);
  }
  void AddLink(Manifest* m, const std::string& path, const std::string& target) {
    auto* e = m->add_entries();
    e->set_path(path);
    e->set_type(ENTRY_TYPE_SYMLINK);
    e->set_symlink_target(target);
  }

  sync_testing::TempDir dir_;
  std::unique_ptr<BlobStore> store_;
  WorkspaceBlobIndex index_;
};

// Large commits are staged on two threads: content used in both halves is
// copied by each (neither moves it away from the other), a failure in one
// half rolls back both, and the store keeps what was not moved.
TEST_F(WorkspaceMaterializerTest, LargeCommitsStagedInParallelStayConsistent) {
  Manifest m;
  AddDir(&m, "a");
  AddDir(&m, "b");
  // Manifests are sorted: a/ (first half) then b/ (second half).
  for (int i = 0; i < 300; ++i) {
    AddFile(&m, "a/" + std::to_string(1000 + i), i % 50 == 0 ? "shared" : "a" + std::to_string(i));
  }
  for (int i = 0; i < 300; ++i) {
    AddFile(&m, "b/" + std::to_string(1000 + i), i % 50 == 0 ? "shared" : "b" + std::to_string(i));
  }
  // Late in the second half, a blob that only a workspace file seems to hold
  // (same size and mtime), but whose content was rewritten: staging fails
  // there, after both halves staged much, and everything is rolled back.
  const std::string decoy = dir_ / "elsewhere/decoy";
  WriteFile(decoy, "tampered");
  struct stat decoy_st;
  ASSERT_EQ(stat(decoy.c_str(), &decoy_st), 0);
  index_.Add(DigestOf("original"), decoy,
             static_cast<int64_t>(decoy_st.st_mtim.tv_sec) * 1000000000 + decoy_st.st_mtim.tv_nsec);
  Manifest broken = m;
  broken.mutable_entries(broken.entries_size() - 1)
      ->mutable_digest()
      ->CopyFrom(DigestOf("original"));
  WorkspaceMaterializer mat(store_.get(), &index_);
  const std::string root = dir_ / "cubes/uid-1/big";
  auto failed = mat.Apply(root, nullptr, broken, true, false);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kFailedPrecondition) << failed.status();
  EXPECT_FALSE(sync_testing::Exists(root + "/a/1001"));
  EXPECT_FALSE(sync_testing::Exists(root + "/b/1001"));
  EXPECT_TRUE(store_->Has(DigestOf("a1")));  // moved back by the rollback
  EXPECT_TRUE(store_->Has(DigestOf("b1")));

  auto r = mat.Apply(root, nullptr, m, true, false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->files_written, 600);
  for (int i = 0; i < 300; i += 7) {
    EXPECT_EQ(ReadFile(root + "/a/" + std::to_string(1000 + i)),
              i % 50 == 0 ? "shared" : "a" + std::to_string(i));
    EXPECT_EQ(ReadFile(root + "/b/" + std::to_string(1000 + i)),
              i % 50 == 0 ? "shared" : "b" + std::to_string(i));
  }
  EXPECT_EQ(ReadFile(root + "/a/1000"), "shared");
  EXPECT_EQ(ReadFile(root + "/b/1250"), "shared");
  EXPECT_FALSE(store_->Has(DigestOf("a1")));     // moved, written once
  EXPECT_TRUE(store_->Has(DigestOf("shared")));  // used by both halves: copied
}

TEST_F(WorkspaceMaterializerTest, WritesTreeAndSkipsUnchanged) {
  Manifest m;
  AddDir(&m, "d");
  AddFile(&m, "d/a", "alpha");
  AddLink(&m, "d/l", "a");
  AddFile(&m, "top", "top");
  WorkspaceMaterializer mat(store_.get(), &index_);
  const std::string root = dir_ / "cubes/uid-1/c1";
  auto r = mat.Apply(root, nullptr, m, true, false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->files_written, 3);
  EXPECT_EQ(r->bytes_written, 8);
  EXPECT_EQ(ReadFile(root + "/d/a"), "alpha");
  EXPECT_EQ(ReadFile(root + "/d/l"), "alpha");
  struct stat st;
  ASSERT_EQ(stat((root + "/d/a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  EXPECT_EQ(st.st_mtim.tv_nsec, 123456789);
  EXPECT_EQ(st.st_nlink, 1u);  // a copy, never a hard link to the blob

  auto again = mat.Apply(root, &m, m, true, false);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->files_written, 0);
  EXPECT_EQ(again->files_unchanged, 3);
}

// With the tree known to be what the previous commit wrote, entries listed
// as before are taken as they are without a look at the disk (a file gone
// from it stays gone: it proves nothing was looked at), while changed and
// new entries are written as always. Without that knowledge the same
// commit looks and restores.
TEST_F(WorkspaceMaterializerTest, AnUntouchedTreeIsNotWalkedForUnchangedEntries) {
  Manifest m;
  AddDir(&m, "d");
  AddFile(&m, "d/a", "alpha");
  AddFile(&m, "d/b", "beta");
  AddLink(&m, "d/l", "a");
  WorkspaceMaterializer mat(store_.get(), &index_);
  const std::string root = dir_ / "cubes/uid-1/c1";
  ASSERT_TRUE(mat.Apply(root, nullptr, m, true, false).ok());
  ASSERT_EQ(unlink((root + "/d/a").c_str()), 0);

  Manifest next = m;
  AddFile(&next, "d/c", "gamma");  // new
  for (auto& e : *next.mutable_entries()) {
    if (e.path() == "d/b") *e.mutable_digest() = DigestOf("beta 2");  // changed
  }
  ASSERT_TRUE(store_->Put(DigestOf("beta 2"), "beta 2").ok());
  auto trusted = mat.Apply(root, &m, next, true, false, nullptr,
                           WorkspaceMaterializer::PreviousOnDisk::kAsCommitted);
  ASSERT_TRUE(trusted.ok()) << trusted.status();
  EXPECT_EQ(trusted->files_written, 2);    // d/b and d/c
  EXPECT_EQ(trusted->files_unchanged, 2);  // d/a and d/l, not looked at
  EXPECT_EQ(ReadFile(root + "/d/b"), "beta 2");
  EXPECT_EQ(ReadFile(root + "/d/c"), "gamma");
  EXPECT_NE(access((root + "/d/a").c_str(), F_OK), 0);

  ASSERT_TRUE(store_->Put(DigestOf("alpha"), "alpha").ok());  // moved out by the first commit
  auto checked = mat.Apply(root, &next, next, true, false, nullptr,
                           WorkspaceMaterializer::PreviousOnDisk::kCheck);
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(checked->files_written, 1);
  EXPECT_EQ(ReadFile(root + "/d/a"), "alpha");
}

// Tasks mount the workspace: its files and directories get no other bits
// on disk (TreeAcl); the cube's other files keep the laptop's modes (builds
// copy them into images). Moved and copied files alike.
TEST_F(WorkspaceMaterializerTest, WorkspaceEntriesLoseOtherBitsAndTheRestKeepThem) {
  Manifest m;
  AddFile(&m, "build/run.sh", "#!/bin/sh");
  AddDir(&m, "workspace");
  AddFile(&m, "workspace/copied.txt", "copied");
  AddFile(&m, "workspace/moved.txt", "moved");
  for (auto& e : *m.mutable_entries()) {
    if (e.type() == ENTRY_TYPE_FILE) e.set_mode(e.path() == "build/run.sh" ? 0755 : 0644);
  }
  WorkspaceMaterializer mat(store_.get(), &index_);
  const std::string root = dir_ / "cubes/uid-1/c1";
  auto r = mat.Apply(root, nullptr, m, true, false);
  ASSERT_TRUE(r.ok()) << r.status();
  auto mode = [](const std::string& path) {
    struct stat st;
    return lstat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 07777;
  };
  EXPECT_EQ(mode(root + "/build/run.sh"), 0755u);
  EXPECT_EQ(mode(root + "/workspace"), 0750u);
  EXPECT_EQ(mode(root + "/workspace/copied.txt"), 0640u);
  EXPECT_EQ(mode(root + "/workspace/moved.txt"), 0640u);
}

// A task was let write its output directory and the files an earlier run
// left there (group bits: the task uid's). Pushing the same tree again, as
// `run` does while a job of the cube still runs, must not take that away;
// what the laptop changed (a file made read-only) still wins.
TEST_F(WorkspaceMaterializerTest, PushOfUnchangedTreeKeepsWhatATaskWasLetWrite) {
  Manifest m;
  AddDir(&m, "workspace");
  AddDir(&m, "workspace/out");
  AddFile(&m, "workspace/out/old.txt", "old result");
  AddFile(&m, "workspace/out/frozen.txt", "frozen");
  WorkspaceMaterializer mat(store_.get(), &index_);
  const std::string root = dir_ / "cubes/uid-1/c1";
  ASSERT_TRUE(mat.Apply(root, nullptr, m, false, false).ok());
  auto mode = [](const std::string& path) {
    struct stat st;
    return lstat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 07777;
  };
  ASSERT_EQ(mode(root + "/workspace/out"), 0750u);
  ASSERT_EQ(mode(root + "/workspace/out/old.txt"), 0640u);
  // What the agent does when the task starts.
  ASSERT_EQ(chmod((root + "/workspace/out").c_str(), 0770), 0);
  ASSERT_EQ(chmod((root + "/workspace/out/old.txt").c_str(), 0660), 0);
  ASSERT_EQ(chmod((root + "/workspace/out/frozen.txt").c_str(), 0660), 0);
  Manifest next = m;
  for (auto& e : *next.mutable_entries()) {
    if (e.path() == "workspace/out/frozen.txt") e.set_mode(0440);
  }
  auto again = mat.Apply(root, &m, next, false, false);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->files_written, 0);
  EXPECT_EQ(mode(root + "/workspace/out"), 0770u);
  EXPECT_EQ(mode(root + "/workspace/out/old.txt"), 0660u);
  EXPECT_EQ(mode(root + "/workspace/out/frozen.txt"), 0440u);
}

TEST_F(WorkspaceMaterializerTest, BlobIsMovedNotCopiedAndTaskWritesCannotCorruptIt) {
  Manifest m;
  AddFile(&m, "in", "original");
  WorkspaceMaterializer mat(store_.get(), &index_);
  const std::string root = dir_ / "w";
  ASSERT_TRUE(mat.Apply(root, nullptr, m, true, false).ok());
  // The data was written once: the blob moved into the workspace.
  EXPECT_FALSE(store_->Has(DigestOf("original")));
  index_.AddManifest(root, m);
  EXPECT_TRUE(index_.Has(DigestOf("original"), ""));
  // A second cube gets a verified copy from the first one's file.
  const std::string twin = dir_ / "twin";
  ASSERT_TRUE(mat.Apply(twin, nullptr, m, true, false).ok());
  EXPECT_EQ(ReadFile(twin + "/in"), "original");
  struct stat a, b;
  ASSERT_EQ(stat((root + "/in").c_str(), &a), 0);
  ASSERT_EQ(stat((twin + "/in").c_str(), &b), 0);
  EXPECT_NE(a.st_ino, b.st_ino);

  // A task rewrites the input: the index stops vouching for that file.
  WriteFile(root + "/in", "scribbled by a task");
  WriteFile(twin + "/in", "scribbled, too");
  EXPECT_FALSE(index_.Has(DigestOf("original"), ""));
  auto r = mat.Apply(root, &m, m, true, false);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  // Once the blob is uploaded again, the next commit restores the input.
  ASSERT_TRUE(store_->Put(DigestOf("original"), "original").ok());
  r = mat.Apply(root, &m, m, true, false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->files_written, 1);
  EXPECT_EQ(ReadFile(root + "/in"), "original");
}

TEST_F(WorkspaceMaterializerTest, IndexRefusesContentRewrittenWithSameSizeAndMtime) {
  Manifest m;
  AddFile(&m, "in", "original");
  WorkspaceMaterializer mat(store_.get(), &index_);
  const std::string root = dir_ / "w";
  ASSERT_TRUE(mat.Apply(root, nullptr, m, true, false).ok());
  index_.AddManifest(root, m);
  // Same size, mtime restored: only the content check can tell.
  WriteFile(root + "/in", "ORIGINAL");
  struct timespec times[2] = {
      {0, UTIME_OMIT},
      {m.entries(0).mtime_ns() / 1000000000, m.entries(0).mtime_ns() % 1000000000}};
  ASSERT_EQ(utimensat(AT_FDCWD, (root + "/in").c_str(), times, 0), 0);
  EXPECT_TRUE(index_.Has(DigestOf("original"), ""));
  auto r = mat.Apply(dir_ / "twin", nullptr, m, true, false);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(index_.Has(DigestOf("original"), ""));  // forgotten after the failed check
}

// A sealed location is trusted without hashing, but only for the committing
// identity's own cubes, and only while the file keeps its inode and change
// time. The seal here vouches for content the file does not hold, which is
// the one way to see that no hash was taken.
TEST_F(WorkspaceMaterializerTest, SealedFilesAreCopiedUnhashedOnlyWithinTheirOwnersCubes) {
  Manifest m;
  AddFile(&m, "in", "original", /*store=*/false);
  const std::string owner = dir_ / "alice";
  ASSERT_EQ(mkdir(owner.c_str(), 0700), 0);
  const std::string source = owner + "/source";
  WriteFile(source, "ORIGINAL");  // same size, other content
  struct timespec times[2] = {
      {0, UTIME_OMIT},
      {m.entries(0).mtime_ns() / 1000000000, m.entries(0).mtime_ns() % 1000000000}};
  ASSERT_EQ(utimensat(AT_FDCWD, source.c_str(), times, 0), 0);
  struct stat st;
  ASSERT_EQ(stat(source.c_str(), &st), 0);
  const int64_t ctime_ns = st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
  WorkspaceBlobIndex::Seal seal{st.st_dev, st.st_ino, ctime_ns};
  index_.AddSealed(DigestOf("original"), source, m.entries(0).mtime_ns(), seal);

  WorkspaceMaterializer mat(store_.get(), &index_);
  auto own = mat.Apply(owner + "/twin", nullptr, m, true, false);
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(ReadFile(owner + "/twin/in"), "ORIGINAL");  // trusted, not hashed

  // Another identity's cube hashes what it copies: the lie is caught.
  const std::string other = dir_ / "bob";
  ASSERT_EQ(mkdir(other.c_str(), 0700), 0);
  index_.AddSealed(DigestOf("original"), source, m.entries(0).mtime_ns(), seal);
  EXPECT_EQ(mat.Apply(other + "/twin", nullptr, m, true, false).status().code(),
            absl::StatusCode::kFailedPrecondition);

  // Any change to the file (here only its mtime, set back) moves its change
  // time: the seal no longer holds, and the owner's own copy is hashed too.
  index_.AddSealed(DigestOf("original"), source, m.entries(0).mtime_ns(), seal);
  ASSERT_EQ(utimensat(AT_FDCWD, source.c_str(), times, 0), 0);
  ASSERT_EQ(stat(source.c_str(), &st), 0);
  ASSERT_NE(st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec, ctime_ns)
      << "the change time did not move (a filesystem without change times?)";
  EXPECT_EQ(mat.Apply(owner + "/third", nullptr, m, true, false).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// A seal is taken only once the clock has left the tick of the file's last
// change: a change within the same tick would not move the change time.
TEST_F(WorkspaceMaterializerTest, FilesChangedInTheCurrentClockTickGetNoSeal) {
  const std::string dir = dir_ / "d";
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
  UniqueFd dfd(open(dir.c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(dfd);
  const int64_t before_write = WorkspaceBlobIndex::CoarseClockNs();
  WriteFile(dir + "/f", "data");
  EXPECT_FALSE(WorkspaceBlobIndex::SealOf(dfd.get(), "f", before_write).has_value());
  struct stat st;
  ASSERT_EQ(stat((dir + "/f").c_str(), &st), 0);
  const int64_t changed = st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
  const int64_t deadline = changed + 5'000'000'000LL;
  int64_t now = WorkspaceBlobIndex::CoarseClockNs();
  while (now <= changed && now < deadline) now = WorkspaceBlobIndex::CoarseClockNs();
  ASSERT_GT(now, changed);
  std::optional<WorkspaceBlobIndex::Seal> seal = WorkspaceBlobIndex::SealOf(dfd.get(), "f", now);
  ASSERT_TRUE(seal.has_value());
  EXPECT_EQ(seal->ino, st.st_ino);
  EXPECT_EQ(seal->ctime_ns, changed);
}

TEST_F(WorkspaceMaterializerTest, PrunesOnlyPreviouslyListedFiles) {
  Manifest v1;
  AddDir(&v1, "d");
  AddFile(&v1, "d/gone", "gone");
  AddFile(&v1, "keep", "keep");
  WorkspaceMaterializer mat(store_.get(), &index_);
  const std::string root = dir_ / "w";
  ASSERT_TRUE(mat.Apply(root, nullptr, v1, true, false).ok());
  WriteFile(root + "/d/output", "task output");
  Manifest v2;
  AddFile(&v2, "keep", "keep");
  auto r = mat.Apply(root, &v1, v2, true, false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->files_removed, 1);
  EXPECT_FALSE(std::filesystem::exists(root + "/d/gone"));
  EXPECT_EQ(ReadFile(root + "/d/output"), "task output");
}

TEST_F(WorkspaceMaterializerTest, MissingBlobLeavesTreeUnchanged) {
  Manifest v1;
  AddFile(&v1, "a", "old a");
  WorkspaceMaterializer mat(store_.get(), &index_);
  const std::string root = dir_ / "w";
  ASSERT_TRUE(mat.Apply(root, nullptr, v1, true, false).ok());
  Manifest v2;
  AddFile(&v2, "a", "new a");
  AddDir(&v2, "newdir");
  AddFile(&v2, "newdir/b", "never uploaded", /*store=*/false);
  auto r = mat.Apply(root, &v1, v2, true, false);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(r.status().message()).find("newdir/b"), std::string::npos);
  EXPECT_EQ(ReadFile(root + "/a"), "old a");
  EXPECT_FALSE(std::filesystem::exists(root + "/newdir"));
  // No temp files left behind.
  int count = 0;
  for (auto& e : std::filesystem::directory_iterator(root)) {
    (void)e;
    ++count;
  }
  EXPECT_EQ(count, 1);
}

// Setuid, setgid and sticky bits in a manifest are stripped, for new files,
// unchanged files and directories alike.
TEST_F(WorkspaceMaterializerTest, SetuidSetgidAndStickyBitsAreStripped) {
  Manifest m;
  AddDir(&m, "d");
  m.mutable_entries(0)->set_mode(03777);
  AddFile(&m, "d/moved", "content one");
  m.mutable_entries(1)->set_mode(06755);
  AddFile(&m, "d/shared1", "shared");
  AddFile(&m, "d/shared2", "shared");
  m.mutable_entries(2)->set_mode(04711);
  m.mutable_entries(3)->set_mode(02755);
  WorkspaceMaterializer mat(store_.get(), &index_);
  const std::string root = dir_ / "w";
  ASSERT_TRUE(mat.Apply(root, nullptr, m, true, false).ok());
  auto mode_of = [&](const std::string& rel) {
    struct stat st;
    EXPECT_EQ(lstat((root + "/" + rel).c_str(), &st), 0) << rel;
    return st.st_mode & 07777;
  };
  EXPECT_EQ(mode_of("d"), 0777u);
  EXPECT_EQ(mode_of("d/moved"), 0755u);
  EXPECT_EQ(mode_of("d/shared1"), 0711u);
  EXPECT_EQ(mode_of("d/shared2"), 0755u);
  // A file left unchanged that someone made setuid loses the bit too.
  ASSERT_EQ(chmod((root + "/d/moved").c_str(), 04755), 0);
  ASSERT_TRUE(mat.Apply(root, &m, m, true, false).ok());
  EXPECT_EQ(mode_of("d/moved"), 0755u);
}

// A name with a newline or a terminal escape is shown escaped in errors.
TEST_F(WorkspaceMaterializerTest, ControlCharactersInNamesAreEscapedInErrors) {
  Manifest m;
  AddFile(&m, "evil\n\x1b[2Jname", "never uploaded", /*store=*/false);
  WorkspaceMaterializer mat(store_.get(), &index_);
  auto r = mat.Apply(dir_ / "w", nullptr, m, true, false);
  ASSERT_FALSE(r.ok());
  const std::string message(r.status().message());
  EXPECT_NE(message.find("evil\\x0a\\x1b[2Jname"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
  EXPECT_EQ(message.find('\x1b'), std::string::npos);
}

TEST_F(WorkspaceMaterializerTest, DoesNotWriteThroughPlantedSymlink) {
  Manifest v1;
  AddDir(&v1, "out");
  WorkspaceMaterializer mat(store_.get(), &index_);
  const std::string root = dir_ / "w";
  ASSERT_TRUE(mat.Apply(root, nullptr, v1, true, false).ok());
  // A task replaces the directory with a symlink to somewhere else.
  std::filesystem::create_directories(dir_ / "elsewhere");
  std::filesystem::remove(root + "/out");
  ASSERT_EQ(symlink((dir_ / "elsewhere").c_str(), (root + "/out").c_str()), 0);
  Manifest v2;
  AddDir(&v2, "out");
  AddFile(&v2, "out/f", "data");
  ASSERT_TRUE(mat.Apply(root, &v1, v2, true, false).ok());
  EXPECT_FALSE(std::filesystem::exists(dir_ / "elsewhere/f"));
  EXPECT_FALSE(std::filesystem::is_symlink(root + "/out"));
  EXPECT_EQ(ReadFile(root + "/out/f"), "data");
}

TEST_F(WorkspaceMaterializerTest, DryRunCountsWithoutWriting) {
  Manifest m;
  AddFile(&m, "a", "aaa");
  AddFile(&m, "b", "bb", /*store=*/false);
  WorkspaceMaterializer mat(store_.get(), &index_);
  const std::string root = dir_ / "w";
  auto r = mat.Apply(root, nullptr, m, true, true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->files_written, 2);
  EXPECT_EQ(r->bytes_written, 5);
  EXPECT_FALSE(std::filesystem::exists(root));
}

TEST_F(WorkspaceMaterializerTest, ReplacesFileByDirectoryAndBack) {
  Manifest v1;
  AddFile(&v1, "x", "file");
  WorkspaceMaterializer mat(store_.get(), &index_);
  const std::string root = dir_ / "w";
  ASSERT_TRUE(mat.Apply(root, nullptr, v1, true, false).ok());
  Manifest v2;
  AddDir(&v2, "x");
  AddFile(&v2, "x/y", "inner");
  ASSERT_TRUE(mat.Apply(root, &v1, v2, true, false).ok());
  EXPECT_EQ(ReadFile(root + "/x/y"), "inner");
  Manifest v3;
  AddFile(&v3, "x", "file again");
  auto r = mat.Apply(root, &v2, v3, true, false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(ReadFile(root + "/x"), "file again");
}

}  // namespace
}  // namespace mlcube
