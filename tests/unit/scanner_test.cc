#include "controller/sync/scanner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/content_chunker.h"
#include "common/digest.h"
#include "common/manifest_validator.h"
#include "tests/unit/sync_test_util.h"

namespace mlcube {
namespace {

using ::mlcube_remote::v1::ENTRY_TYPE_DIRECTORY;
using ::mlcube_remote::v1::ENTRY_TYPE_FILE;
using ::mlcube_remote::v1::ENTRY_TYPE_SYMLINK;
using ::mlcube_remote::v1::Manifest;
using sync_testing::WriteFile;
using ::testing::HasSubstr;

std::vector<std::string> Paths(const Manifest& m) {
  std::vector<std::string> out;
  for (const auto& e : m.entries()) out.push_back(e.path());
  return out;
}

class ScannerTest : public ::testing::Test {
 protected:
  ScanOptions Options() {
    ScanOptions o;
    o.root = cube_.path();
    o.rules = *IgnoreRules::ForCube(cube_.path());
    return o;
  }
  sync_testing::TempDir cube_;
};

TEST_F(ScannerTest, CanonicalSortedManifestSkippingImages) {
  WriteFile(cube_ / "mlcube.yaml", "name: x\n");
  WriteFile(cube_ / "workspace/data/b.txt", "bbb");
  WriteFile(cube_ / "workspace/data/a.txt", "aa");
  WriteFile(cube_ / "workspace/model.sif", "not really a sif");
  std::string sif(64, 'x');
  sif.replace(32, 9, "SIF_MAGIC");
  WriteFile(cube_ / "workspace/renamed-image", sif);
  WriteFile(cube_ / "images/cached", "image dir content");
  WriteFile(cube_ / ".mlcubeignore", "*.log\n");
  WriteFile(cube_ / "workspace/run.log", "log");
  ASSERT_EQ(symlink("data/a.txt", (cube_ / "workspace/link").c_str()), 0);

  ScanCache cache;
  Scanner scanner(&cache);
  ScanOptions options = Options();
  options.exclude_dirs.push_back(cube_ / "images");
  auto r = scanner.Scan(options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(
      Paths(r->manifest()),
      ::testing::ElementsAre(".mlcubeignore", "mlcube.yaml", "workspace", "workspace/data",
                             "workspace/data/a.txt", "workspace/data/b.txt", "workspace/link"));
  EXPECT_THAT(r->skipped_images, ::testing::ElementsAre("workspace/renamed-image"));
  EXPECT_TRUE(ManifestValidator::Validate(r->manifest()).ok());
  const auto& a = r->manifest().entries(4);
  EXPECT_EQ(a.type(), ENTRY_TYPE_FILE);
  EXPECT_TRUE(SameDigest(a.digest(), DigestOf("aa")));
  const auto& link = r->manifest().entries(6);
  EXPECT_EQ(link.type(), ENTRY_TYPE_SYMLINK);
  EXPECT_EQ(link.symlink_target(), "data/a.txt");
  EXPECT_EQ(r->files_hashed, 4);
}

TEST_F(ScannerTest, CacheAvoidsRehashing) {
  WriteFile(cube_ / "a", "one");
  WriteFile(cube_ / "b", "two");
  const std::string cache_file = cube_ / "../scan-cache-for-test.bin";
  {
    ScanCache cache = ScanCache::Load(cache_file);
    Scanner scanner(&cache);
    auto r = scanner.Scan(Options());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->files_hashed, 2);
    ASSERT_TRUE(cache.Save().ok());
  }
  ScanCache cache = ScanCache::Load(cache_file);
  Scanner scanner(&cache);
  auto again = scanner.Scan(Options());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->files_hashed, 0);
  WriteFile(cube_ / "b", "TWO!");
  auto changed = scanner.Scan(Options());
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed->files_hashed, 1);
  EXPECT_TRUE(SameDigest(changed->manifest().entries(1).digest(), DigestOf("TWO!")));
  unlink(cache_file.c_str());
}

// New files are hashed after the walk, changed ones during it (a big one with
// its whole digest beside its chunks): the manifest is the same whichever way
// a file was hashed, and a later scan hashes nothing again.
TEST_F(ScannerTest, BigFilesHashTheSameNewOrChanged) {
  std::string big(3 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 7919) >> 5);
  WriteFile(cube_ / "workspace/a.bin", big);
  WriteFile(cube_ / "workspace/b.bin", big.substr(1 << 20));
  WriteFile(cube_ / "workspace/small.txt", "small");
  ScanCache cache;
  Scanner scanner(&cache);
  auto expect_file = [](const ::mlcube_remote::v1::ManifestEntry& e, const std::string& data) {
    EXPECT_TRUE(SameDigest(e.digest(), DigestOf(data))) << e.path();
    int64_t offset = 0;
    ::mlcube_remote::v1::ChunkList list;
    while (offset < static_cast<int64_t>(data.size())) {
      const size_t len = ContentChunker::CutPoint(
          reinterpret_cast<const uint8_t*>(data.data()) + offset, data.size() - offset);
      *list.add_chunks() = DigestOf(data.substr(offset, len));
      offset += static_cast<int64_t>(len);
    }
    EXPECT_TRUE(SameDigest(e.chunk_list(), DigestOf(list.SerializeAsString()))) << e.path();
  };
  auto first = scanner.Scan(Options());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->files_hashed, 3);
  expect_file(first->manifest().entries(1), big);
  expect_file(first->manifest().entries(2), big.substr(1 << 20));

  const std::string appended = big + std::string(1 << 20, 'z');
  WriteFile(cube_ / "workspace/a.bin", appended);
  WriteFile(cube_ / "workspace/small.txt", "SMALL");
  auto second = scanner.Scan(Options());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->files_hashed, 2);
  EXPECT_TRUE(SameDigest(second->manifest().entries(3).digest(), DigestOf("SMALL")));
  expect_file(second->manifest().entries(1), appended);
  expect_file(second->manifest().entries(2), big.substr(1 << 20));
  auto third = scanner.Scan(Options());
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(third->files_hashed, 0);
  EXPECT_EQ(third->manifest().SerializeAsString(), second->manifest().SerializeAsString());
}

TEST_F(ScannerTest, SymlinkOutsideIsRefusedByName) {
  WriteFile(cube_ / "workspace/x", "x");
  ASSERT_EQ(symlink("/etc/passwd", (cube_ / "workspace/evil").c_str()), 0);
  ScanCache cache;
  Scanner scanner(&cache);
  auto r = scanner.Scan(Options());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("workspace/evil"));
  unlink((cube_ / "workspace/evil").c_str());
  ASSERT_EQ(symlink("../../outside", (cube_ / "workspace/evil2").c_str()), 0);
  r = scanner.Scan(Options());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("workspace/evil2"));
}

TEST_F(ScannerTest, AbsoluteSymlinkInsideBecomesRelative) {
  WriteFile(cube_ / "a/target", "t");
  ASSERT_EQ(symlink((cube_ / "a/target").c_str(), (cube_ / "b").c_str()), 0);
  ScanCache cache;
  Scanner scanner(&cache);
  auto r = scanner.Scan(Options());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->manifest().entries(2).path(), "b");
  EXPECT_EQ(r->manifest().entries(2).symlink_target(), "a/target");
}

TEST_F(ScannerTest, SocketSkippedWithWarning) {
  WriteFile(cube_ / "f", "f");
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = cube_ / "sock";
  ASSERT_LT(path.size(), sizeof(addr.sun_path));
  strcpy(addr.sun_path, path.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ScanCache cache;
  Scanner scanner(&cache);
  auto r = scanner.Scan(Options());
  close(fd);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(Paths(r->manifest()), ::testing::ElementsAre("f"));
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_THAT(r->warnings[0], HasSubstr("socket 'sock'"));
}

TEST_F(ScannerTest, DockerSaveArchiveDetected) {
  // A minimal tar with a top-level manifest.json member.
  std::string tar(1024, '\0');
  memcpy(tar.data(), "manifest.json", 13);
  memcpy(tar.data() + 124, "00000000000", 11);
  memcpy(tar.data() + 257, "ustar", 5);
  WriteFile(cube_ / "img.tar", tar);
  ScanCache cache;
  Scanner scanner(&cache);
  auto r = scanner.Scan(Options());
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->skipped_images, ::testing::ElementsAre("img.tar"));
  EXPECT_EQ(r->manifest().entries_size(), 0);
}

}  // namespace
}  // namespace mlcube
