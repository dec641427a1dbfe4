#include "agent/workspaces/workspace_snapshotter.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>
#include <memory>
#include <string>

#include "agent/cas/blob_access.h"
#include "agent/cas/blob_grants.h"
#include "agent/cas/chunk_locations.h"
#include "agent/cas/chunk_splicer.h"
#include "agent/workspaces/snapshot_digest_cache.h"
#include "agent/workspaces/snapshot_walker.h"
#include "common/content_chunker.h"
#include "common/file_util.h"
#include "tests/support/wait_until.h"
#include "tests/unit/sync_test_util.h"

namespace mlcube {
namespace {

namespace v1 = ::mlcube_remote::v1;
using sync_testing::WriteFile;

SnapshotDigestCache::FileKey Key(int64_t ctime_ns, int64_t size = 5) {
  SnapshotDigestCache::FileKey key;
  key.dev = 1;
  key.ino = 2;
  key.size = size;
  key.mtime_ns = 100;
  key.ctime_ns = ctime_ns;
  return key;
}

SnapshotDigestCache::Digests DigestsOf(const std::string& data) {
  SnapshotDigestCache::Digests digests;
  digests.whole = DigestOf(data);
  return digests;
}

TEST(SnapshotDigestCacheTest, RemembersOnlyFilesThatCannotChangeUnseen) {
  SnapshotDigestCache cache;
  // Changed before the clock tick the hash started in: remembered, and
  // found only under the same stat.
  cache.Put("/w/a", Key(1000), Key(1000), /*clock_before_ns=*/2000, DigestsOf("alpha"));
  ASSERT_TRUE(cache.Find("/w/a", Key(1000)).has_value());
  EXPECT_TRUE(SameDigest(cache.Find("/w/a", Key(1000))->whole, DigestOf("alpha")));
  EXPECT_FALSE(cache.Find("/w/a", Key(1001)).has_value());     // changed since
  EXPECT_FALSE(cache.Find("/w/a", Key(1000, 6)).has_value());  // another size
  EXPECT_FALSE(cache.Find("/w/b", Key(1000)).has_value());     // another file

  // Changed within the tick: a later write could keep its change time.
  cache.Put("/w/c", Key(2000), Key(2000), /*clock_before_ns=*/2000, DigestsOf("c"));
  EXPECT_FALSE(cache.Find("/w/c", Key(2000)).has_value());
  // Changed while it was hashed: what was read may be a mix.
  cache.Put("/w/d", Key(1000), Key(1500), 2000, DigestsOf("d"));
  EXPECT_FALSE(cache.Find("/w/d", Key(1000)).has_value());
  EXPECT_FALSE(cache.Find("/w/d", Key(1500)).has_value());
  // A hash that cannot be trusted also drops what was known of the file.
  cache.Put("/w/a", Key(1000), Key(1700), 2000, DigestsOf("alpha"));
  EXPECT_FALSE(cache.Find("/w/a", Key(1000)).has_value());
  EXPECT_EQ(cache.size(), 0u);
}

// Memory stays bounded: past kMaxFiles files the cache starts over.
TEST(SnapshotDigestCacheTest, StartsOverPastItsBound) {
  SnapshotDigestCache cache;
  for (size_t i = 0; i < SnapshotDigestCache::kMaxFiles; ++i) {
    cache.Put("/w/f" + std::to_string(i), Key(1000), Key(1000), 2000, DigestsOf("x"));
  }
  EXPECT_EQ(cache.size(), SnapshotDigestCache::kMaxFiles);
  cache.Put("/w/f0", Key(1000), Key(1000), 2000, DigestsOf("y"));  // a file it has
  EXPECT_EQ(cache.size(), SnapshotDigestCache::kMaxFiles);
  cache.Put("/w/new", Key(1000), Key(1000), 2000, DigestsOf("z"));
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_TRUE(cache.Find("/w/new", Key(1000)).has_value());
}

class WorkspaceSnapshotterTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(MakeDirs(workspace_).ok()); }

  // Waits until a write to `path` would get a later change time than it has.
  static void WaitForClockPast(const std::string& path) {
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    const int64_t ctime = TimespecNs(st.st_ctim);
    ASSERT_TRUE(testing::WaitUntil([&] { return WorkspaceBlobIndex::CoarseClockNs() > ctime; }, 5,
                                   /*poll_ms=*/1));
  }

  WorkspaceSnapshotter::Result Take(bool chunk_big_files) {
    WorkspaceSnapshotter::Request request;
    request.cube_id = "cube-a";
    request.chunk_big_files = chunk_big_files;
    absl::StatusOr<WorkspaceSnapshotter::Result> result = snapshotter_.Take("uid-1", request);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : WorkspaceSnapshotter::Result{};
  }

  v1::Manifest ManifestOf(const WorkspaceSnapshotter::Result& result) {
    v1::Manifest manifest;
    absl::StatusOr<std::string> bytes = store_.Read(result.manifest);
    EXPECT_TRUE(bytes.ok() && manifest.ParseFromString(*bytes));
    return manifest;
  }

  sync_testing::TempDir dir_;
  StateLayout layout_{dir_ / "state", dir_ / "images"};
  std::string workspace_ = layout_.CubeDir("uid-1", "cube-a") + "/workspace";
  BlobStore store_ = *BlobStore::Open(dir_ / "blobs");
  std::unique_ptr<BlobGrants> grants_ = *BlobGrants::Open(dir_ / "grants");
  WorkspaceBlobIndex index_;
  ChunkLocations chunks_;
  BlobAccess access_{&store_, &index_, grants_.get(), layout_.CubesDir(), &chunks_};
  ChunkSplicer splicer_{&store_, &access_};
  WorkspaceSnapshotter snapshotter_{&layout_, &store_, &index_, &access_, &splicer_};
};

// A pull after each run snapshots the same outputs again: files unchanged
// since are not read again, and the manifest is the same.
TEST_F(WorkspaceSnapshotterTest, UnchangedFilesAreNotHashedAgain) {
  std::string big(static_cast<size_t>(ContentChunker::kChunkedFileMin) + 4096, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 7919) >> 5);
  WriteFile(workspace_ + "/out/model.bin", big);
  WriteFile(workspace_ + "/out/metrics.json", "{\"loss\": 1}");
  WaitForClockPast(workspace_ + "/out/model.bin");
  WaitForClockPast(workspace_ + "/out/metrics.json");

  const WorkspaceSnapshotter::Result first = Take(/*chunk_big_files=*/true);
  EXPECT_EQ(first.file_count, 2);
  EXPECT_EQ(first.files_hashed, 2);
  const WorkspaceSnapshotter::Result second = Take(/*chunk_big_files=*/true);
  EXPECT_EQ(second.files_hashed, 0);
  EXPECT_TRUE(SameDigest(second.manifest, first.manifest));
  bool has_chunk_list = false;
  const v1::Manifest manifest = ManifestOf(second);
  for (const v1::ManifestEntry& e : manifest.entries()) {
    if (e.path() == "out/model.bin") has_chunk_list = e.has_chunk_list();
  }
  EXPECT_TRUE(has_chunk_list);
}

// A task that rewrites an output with the same size and puts its mtime back
// does not get the old digest reported.
TEST_F(WorkspaceSnapshotterTest, RewrittenFileWithItsOldSizeAndMtimeIsHashedAgain) {
  const std::string path = workspace_ + "/out/result.txt";
  WriteFile(path, "alpha");
  WaitForClockPast(path);
  const WorkspaceSnapshotter::Result first = Take(/*chunk_big_files=*/false);
  EXPECT_EQ(first.files_hashed, 1);

  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  WriteFile(path, "bravo");
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0);

  const WorkspaceSnapshotter::Result second = Take(/*chunk_big_files=*/false);
  EXPECT_EQ(second.files_hashed, 1);
  const v1::Manifest manifest = ManifestOf(second);
  ASSERT_EQ(manifest.entries_size(), 2);  // out/ and out/result.txt
  EXPECT_TRUE(SameDigest(manifest.entries(1).digest(), DigestOf("bravo")));
}

// A big file is split the first time it is read, whether or not that pull
// asked for chunk lists: a later pull holding an older version gets its list
// without the file being read again; a pull that does not ask gets none.
TEST_F(WorkspaceSnapshotterTest, ABigFileIsReadOnceWhetherOrNotPullsAskForItsChunks) {
  const std::string path = workspace_ + "/big.bin";
  WriteFile(path, std::string(static_cast<size_t>(ContentChunker::kChunkedFileMin), 'x'));
  WaitForClockPast(path);
  const WorkspaceSnapshotter::Result whole = Take(/*chunk_big_files=*/false);
  EXPECT_EQ(whole.files_hashed, 1);
  const WorkspaceSnapshotter::Result split = Take(/*chunk_big_files=*/true);
  EXPECT_EQ(split.files_hashed, 0);
  const WorkspaceSnapshotter::Result again = Take(/*chunk_big_files=*/false);
  EXPECT_EQ(again.files_hashed, 0);
  EXPECT_TRUE(SameDigest(again.manifest, whole.manifest));

  const v1::Manifest listed = ManifestOf(split);
  ASSERT_EQ(listed.entries_size(), 1);
  EXPECT_TRUE(listed.entries(0).has_chunk_list());
  EXPECT_TRUE(store_.Has(listed.entries(0).chunk_list()));
  EXPECT_FALSE(ManifestOf(whole).entries(0).has_chunk_list());
}

// Files are hashed two at a time, in batches of at most kMaxOpenFiles: more
// files than a batch, of sizes big and small, each get their own digest (and
// a big one its chunk list), and every byte is read once.
TEST_F(WorkspaceSnapshotterTest, ManyFilesHashedInBatchesGetTheirOwnDigests) {
  const size_t count = SnapshotWalker::kMaxOpenFiles * 2 + 5;
  std::map<std::string, std::string> contents;
  for (size_t i = 0; i < count; ++i) {
    std::string data = "file " + std::to_string(i);
    if (i % 40 == 0) {
      data.resize(static_cast<size_t>(ContentChunker::kChunkedFileMin) + i * 1000);
      for (size_t j = 0; j < data.size(); ++j) data[j] = static_cast<char>((j * 7919 + i) >> 5);
    }
    const std::string rel = "out/" + std::to_string(i % 7) + "/f" + std::to_string(i);
    WriteFile(workspace_ + "/" + rel, data);
    contents[rel] = data;
  }
  const WorkspaceSnapshotter::Result result = Take(/*chunk_big_files=*/true);
  EXPECT_EQ(result.file_count, static_cast<int64_t>(count));
  EXPECT_EQ(result.files_hashed, static_cast<int64_t>(count));
  size_t files = 0;
  const v1::Manifest manifest = ManifestOf(result);
  for (const v1::ManifestEntry& e : manifest.entries()) {
    if (e.type() != v1::ENTRY_TYPE_FILE) continue;
    ++files;
    ASSERT_TRUE(contents.count(e.path())) << e.path();
    const std::string& data = contents[e.path()];
    EXPECT_TRUE(SameDigest(e.digest(), DigestOf(data))) << e.path();
    EXPECT_EQ(e.has_chunk_list(), data.size() >= ContentChunker::kChunkedFileMin) << e.path();
    if (e.has_chunk_list()) {
      EXPECT_TRUE(store_.Has(e.chunk_list())) << e.path();
    }
  }
  EXPECT_EQ(files, count);
}

}  // namespace
}  // namespace mlcube
