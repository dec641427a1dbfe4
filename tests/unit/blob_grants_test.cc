#include "agent/cas/blob_grants.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <vector>

#include "agent/cas/blob_access.h"
#include "agent/cas/chunk_splicer.h"
#include "agent/cas/storage_quota.h"
#include "agent/server/stream_limiter.h"
#include "tests/unit/sync_test_util.h"

namespace mlcube {
namespace {

TEST(BlobGrantsTest, GrantsAreKeptPerOwnerAcrossRestarts) {
  sync_testing::TempDir dir;
  const v1Digest a = DigestOf("a"), b = DigestOf("b");
  {
    auto grants = *BlobGrants::Open(dir / "grants");
    grants->Grant("uid-1", a);
    grants->Grant("uid-1", a);  // once on disk
    grants->Grant("cn-bob", b);
    EXPECT_TRUE(grants->Granted("uid-1", a));
    EXPECT_FALSE(grants->Granted("uid-1", b));
    EXPECT_FALSE(grants->Granted("cn-bob", a));
  }
  // A torn last line (power cut mid-append) is not a grant.
  { std::ofstream(dir / "grants/uid-1.list", std::ios::app) << DigestOf("c").hash().substr(0, 40); }
  auto reopened = *BlobGrants::Open(dir / "grants");
  EXPECT_TRUE(reopened->Granted("uid-1", a));
  EXPECT_TRUE(reopened->Granted("cn-bob", b));
  EXPECT_FALSE(reopened->Granted("uid-1", b));
  EXPECT_EQ(reopened->GrantsOf("uid-1").size(), 1u);
  // Same hash, another size: not the granted blob.
  v1Digest wrong_size = a;
  wrong_size.set_size_bytes(a.size_bytes() + 1);
  EXPECT_FALSE(reopened->Granted("uid-1", wrong_size));
}

TEST(BlobAccessTest, AnIdentitySeesWhatItUploadedOrHoldsInItsOwnWorkspaces) {
  sync_testing::TempDir dir;
  BlobStore store = *BlobStore::Open(dir / "blobs");
  auto grants = *BlobGrants::Open(dir / "grants");
  WorkspaceBlobIndex index;
  BlobAccess access(&store, &index, grants.get(), dir / "cubes");
  const v1Digest uploaded = DigestOf("uploaded");
  ASSERT_TRUE(store.Put(uploaded, "uploaded").ok());
  EXPECT_FALSE(access.Visible("uid-1", uploaded));  // stored, but not by uid-1
  access.Grant("uid-1", uploaded);
  EXPECT_TRUE(access.Visible("uid-1", uploaded));
  EXPECT_FALSE(access.Visible("uid-2", uploaded));
  EXPECT_EQ(access.Open("uid-2", uploaded).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*access.ReadSmall("uid-1", uploaded), "uploaded");

  // A task output in uid-2's workspace: visible to uid-2 only.
  sync_testing::WriteFile(dir / "cubes/uid-2/c/workspace/out.txt", "output");
  const std::string path = dir / "cubes/uid-2/c/workspace/out.txt";
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  const v1Digest output = DigestOf("output");
  index.Add(output, path,
            static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec);
  EXPECT_TRUE(access.Visible("uid-2", output));
  EXPECT_FALSE(access.Visible("uid-1", output));
  EXPECT_EQ(*access.ReadSmall("uid-2", output), "output");
  // A cube root that merely starts like another owner's is not it.
  EXPECT_FALSE(access.Visible("uid-", output));
}

// A content store whose chunk locations are known, and the whole files
// uid-1 uploaded with their chunk lists.
class ChunkAccessTest : public ::testing::Test {
 protected:
  // Stores `data` as uid-1's and records `chunks_of_it` as its parts.
  v1Digest AddWhole(const std::string& data, const std::vector<std::string>& chunks_of_it) {
    const v1Digest whole = DigestOf(data);
    EXPECT_TRUE(store_.Put(whole, data).ok());
    access_.Grant("uid-1", whole);
    ::mlcube_remote::v1::ChunkList list;
    for (const std::string& chunk : chunks_of_it) *list.add_chunks() = DigestOf(chunk);
    access_.AddChunkList(whole, list);
    return whole;
  }

  sync_testing::TempDir dir_;
  BlobStore store_ = *BlobStore::Open(dir_ / "blobs");
  std::unique_ptr<BlobGrants> grants_ = *BlobGrants::Open(dir_ / "grants");
  WorkspaceBlobIndex index_;
  ChunkLocations chunks_;
  BlobAccess access_{&store_, &index_, grants_.get(), dir_ / "cubes", &chunks_};
};

// Chunks known only as parts of a whole file: seen by identities that see
// the whole, read from inside it and verified; a location that lies is
// forgotten, never served.
TEST_F(ChunkAccessTest, ChunksInsideWholeFilesAreVerifiedAndLyingLocationsForgotten) {
  // A lie: the last two bytes are "CC".
  const v1Digest whole = AddWhole("AAAABBBBBBCC", {"AAAA", "BBBBBB", "XY"});

  EXPECT_TRUE(access_.ChunkVisible("uid-1", DigestOf("BBBBBB")));
  EXPECT_FALSE(access_.Visible("uid-1", DigestOf("BBBBBB")));       // not a blob of its own
  EXPECT_FALSE(access_.ChunkVisible("uid-2", DigestOf("BBBBBB")));  // uid-2 cannot see the whole
  EXPECT_EQ(*access_.ReadChunk("uid-1", DigestOf("BBBBBB")), "BBBBBB");
  EXPECT_EQ(access_.ReadChunk("uid-2", DigestOf("BBBBBB")).status().code(),
            absl::StatusCode::kNotFound);

  EXPECT_TRUE(access_.ChunkVisible("uid-1", DigestOf("XY")));
  EXPECT_EQ(access_.ReadChunk("uid-1", DigestOf("XY")).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(access_.ChunkVisible("uid-1", DigestOf("XY")));  // forgotten

  // A list whose chunks do not add up to the whole's size is ignored.
  ChunkLocations other;
  ::mlcube_remote::v1::ChunkList short_list;
  *short_list.add_chunks() = DigestOf("AAAA");
  other.AddList(whole, short_list);
  EXPECT_EQ(other.size(), 0u);
}

// A chunk inside two versions of a file is found in the newer one first; a
// version no longer there is passed over (and not opened again for the next
// chunk); a per-request memo of wholes gives the answers given without it.
TEST_F(ChunkAccessTest, ChunksAreReadFromTheNewestVersionStillThere) {
  const v1Digest older = AddWhole("AAAABBBB", {"AAAA", "BBBB"});
  const v1Digest newer = AddWhole("AAAACCCC", {"AAAA", "CCCC"});
  EXPECT_TRUE(access_.ChunksOfKnown(older));
  EXPECT_TRUE(access_.ChunksOfKnown(newer));
  EXPECT_FALSE(access_.ChunksOfKnown(DigestOf("AAAA")));
  std::vector<ChunkLocations::Location> found = chunks_.Find(DigestOf("AAAA"));
  ASSERT_EQ(found.size(), 2u);
  EXPECT_TRUE(SameDigest(found[0].whole, newer));
  EXPECT_TRUE(SameDigest(found[1].whole, older));

  ASSERT_EQ(unlink(store_.PathOf(newer).c_str()), 0);  // collected, or a task removed it
  BlobAccess::OpenWhole open;
  EXPECT_EQ(*access_.ReadChunk("uid-1", DigestOf("AAAA"), &open), "AAAA");
  EXPECT_EQ(open.hash, older.hash());
  EXPECT_TRUE(open.unavailable.contains(newer.hash()));
  EXPECT_EQ(access_.ReadChunk("uid-1", DigestOf("CCCC"), &open).status().code(),
            absl::StatusCode::kNotFound);

  BlobAccess::SeenWholes seen_by_1, seen_by_2;
  for (const char* chunk : {"AAAA", "BBBB", "CCCC", "DDDD"}) {
    EXPECT_EQ(access_.ChunkVisible("uid-1", DigestOf(chunk), &seen_by_1),
              access_.ChunkVisible("uid-1", DigestOf(chunk)))
        << chunk;
    EXPECT_FALSE(access_.ChunkVisible("uid-2", DigestOf(chunk), &seen_by_2)) << chunk;
  }
  EXPECT_TRUE(access_.ChunkVisible("uid-1", DigestOf("BBBB"), &seen_by_1));
  EXPECT_FALSE(access_.ChunkVisible("uid-1", DigestOf("CCCC"), &seen_by_1));
}

// For a splice's runs: a chunk is located without reading it, in the file
// already open first and at the offset that continues a run; a whole file
// the identity cannot see is never opened for it.
TEST_F(ChunkAccessTest, ChunksAreLocatedInTheOpenWholeFirst) {
  const v1Digest older = AddWhole("AAAABBBBAAAA", {"AAAA", "BBBB", "AAAA"});
  const v1Digest newer = AddWhole("CCCCAAAA", {"CCCC", "AAAA"});
  BlobAccess::OpenWhole open;
  EXPECT_FALSE(access_.OffsetInOpen(DigestOf("AAAA"), open, 0).has_value());  // nothing open
  EXPECT_EQ(*access_.LocateChunk("uid-1", DigestOf("BBBB"), &open), 4);
  EXPECT_EQ(open.hash, older.hash());
  EXPECT_EQ(access_.OffsetInOpen(DigestOf("AAAA"), open, 8), 8);
  const std::optional<int64_t> elsewhere = access_.OffsetInOpen(DigestOf("AAAA"), open, 5);
  ASSERT_TRUE(elsewhere.has_value());  // no run there: one of its places
  EXPECT_TRUE(*elsewhere == 0 || *elsewhere == 8) << *elsewhere;
  EXPECT_FALSE(access_.OffsetInOpen(DigestOf("CCCC"), open, 0).has_value());
  EXPECT_EQ(*access_.LocateChunk("uid-1", DigestOf("CCCC"), &open), 0);
  EXPECT_EQ(open.hash, newer.hash());
  BlobAccess::OpenWhole other;
  EXPECT_EQ(access_.LocateChunk("uid-2", DigestOf("CCCC"), &other).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(other.fd);
}

// A splice copies chunks that follow each other inside a whole file as one
// range, chunks of their own from their blobs, and checks the result against
// the file's digest; a whole file that got shorter since is never spliced in.
TEST_F(ChunkAccessTest, SpliceCopiesRunsOfChunksAndRefusesAShortenedSource) {
  const v1Digest older = AddWhole("AAAABBBBEEEE", {"AAAA", "BBBB", "EEEE"});
  ASSERT_TRUE(store_.Put(DigestOf("DDDD"), "DDDD").ok());
  access_.Grant("uid-1", DigestOf("DDDD"));
  ChunkSplicer splicer(&store_, &access_);
  auto entry_of = [&](const std::vector<std::string>& chunks) {
    ::mlcube_remote::v1::ChunkList list;
    std::string content;
    for (const std::string& chunk : chunks) {
      *list.add_chunks() = DigestOf(chunk);
      content += chunk;
    }
    const std::string list_bytes = list.SerializeAsString();
    EXPECT_TRUE(store_.Put(DigestOf(list_bytes), list_bytes).ok());
    access_.Grant("uid-1", DigestOf(list_bytes));
    ::mlcube_remote::v1::ManifestEntry entry;
    entry.set_path("data/f.bin");
    entry.set_type(::mlcube_remote::v1::ENTRY_TYPE_FILE);
    *entry.mutable_digest() = DigestOf(content);
    *entry.mutable_chunk_list() = DigestOf(list_bytes);
    return std::make_pair(entry, content);
  };

  auto [entry, content] = entry_of({"AAAA", "BBBB", "DDDD", "EEEE", "AAAA"});
  ASSERT_TRUE(splicer.Splice("uid-1", entry).ok());
  EXPECT_EQ(*store_.Read(entry.digest()), content);
  EXPECT_TRUE(access_.Visible("uid-1", entry.digest()));

  ASSERT_EQ(truncate(store_.PathOf(older).c_str(), 6), 0);  // rewritten in place, shorter
  auto [second, second_content] = entry_of({"DDDD", "AAAA", "BBBB"});
  absl::Status s = splicer.Splice("uid-1", second);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_FALSE(store_.Has(second.digest()));
}

TEST(StorageQuotaTest, CountsTreesPartialUploadsAndUncommittedBlobs) {
  sync_testing::TempDir dir;
  BlobStore store = *BlobStore::Open(dir / "blobs");
  auto grants = *BlobGrants::Open(dir / "grants");
  auto uploads = *UploadManager::Create(dir / "uploads", &store);
  sync_testing::WriteFile(dir / "cubes/uid-1/c1/a.txt", std::string(1000, 'a'));
  sync_testing::WriteFile(dir / "cubes/uid-1/c2/sub/b.txt", std::string(500, 'b'));
  sync_testing::WriteFile(dir / "cubes/uid-2/c1/a.txt", std::string(7000, 'a'));
  const std::string blob(300, 'z');
  ASSERT_TRUE(store.Put(DigestOf(blob), blob).ok());
  grants->Grant("uid-1", DigestOf(blob));
  {
    auto session = *uploads->Begin("uid-1", DigestOf(std::string(900, 'p')), 0, false);
    ASSERT_TRUE(session->Write(0, std::string(200, 'p')).ok());
  }
  StorageQuota quota(3000, dir / "cubes", &store, grants.get(), uploads.get());
  EXPECT_EQ(quota.BytesOf("uid-1"), 1000 + 500 + 300 + 200);
  EXPECT_TRUE(quota.CheckRoom("uid-1", 1000).ok());
  absl::Status over = quota.CheckRoom("uid-1", 1001);
  EXPECT_EQ(over.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(std::string(over.message()).find("limits.stored_bytes"), std::string::npos) << over;
  // Replacing c1 (1000 bytes) by 2500 bytes: c2 500 + 2500 = 3000, at the limit.
  EXPECT_TRUE(quota.CheckCommit("uid-1", "c1", 2500).ok());
  EXPECT_FALSE(quota.CheckCommit("uid-1", "c3", 2600).ok());
  StorageQuota unlimited(0, dir / "cubes", &store, grants.get(), uploads.get());
  EXPECT_TRUE(unlimited.CheckRoom("uid-2", int64_t{1} << 50).ok());
}

TEST(StreamLimiterTest, SlotsAreCountedPerIdentityAndReleased) {
  StreamLimiter limiter(2);
  auto a = limiter.Acquire("uid-1");
  auto b = limiter.Acquire("uid-1");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(limiter.Acquire("uid-1").status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(limiter.Acquire("uid-2").ok());
  { auto moved = std::move(*a); }
  EXPECT_EQ(limiter.OpenStreams("uid-1"), 1);
  EXPECT_TRUE(limiter.Acquire("uid-1").ok());
}

}  // namespace
}  // namespace mlcube
