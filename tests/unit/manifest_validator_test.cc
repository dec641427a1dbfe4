#include "common/manifest_validator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/digest.h"

namespace mlcube {
namespace {

using ::mlcube_remote::v1::ENTRY_TYPE_DIRECTORY;
using ::mlcube_remote::v1::ENTRY_TYPE_FILE;
using ::mlcube_remote::v1::ENTRY_TYPE_SYMLINK;
using ::mlcube_remote::v1::Manifest;
using ::testing::HasSubstr;

void AddFile(Manifest* m, const std::string& path) {
  auto* e = m->add_entries();
  e->set_path(path);
  e->set_type(ENTRY_TYPE_FILE);
  *e->mutable_digest() = DigestOf(path);
  e->set_mode(0644);
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

void ExpectInvalid(const Manifest& m, const std::string& names) {
  absl::Status s = ManifestValidator::Validate(m);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(names));
}

TEST(ManifestValidatorTest, AcceptsGoodManifest) {
  Manifest m;
  AddDir(&m, "a");
  AddFile(&m, "a-x");
  AddFile(&m, "a/b");
  AddLink(&m, "a/link", "../a-x");
  AddLink(&m, "a/link2", "b");
  AddFile(&m, "mlcube.yaml");
  EXPECT_TRUE(ManifestValidator::Validate(m).ok()) << ManifestValidator::Validate(m);
  EXPECT_TRUE(ManifestValidator::Validate(Manifest()).ok());
}

TEST(ManifestValidatorTest, RefusesDotDot) {
  Manifest m;
  AddFile(&m, "a/../../etc/passwd");
  ExpectInvalid(m, "a/../../etc/passwd");
}

TEST(ManifestValidatorTest, RefusesAbsolute) {
  Manifest m;
  AddFile(&m, "/etc/passwd");
  ExpectInvalid(m, "/etc/passwd");
}

TEST(ManifestValidatorTest, RefusesNul) {
  Manifest m;
  AddFile(&m, std::string("a\0b", 3));
  ExpectInvalid(m, "a\\x00b");
}

TEST(ManifestValidatorTest, RefusesEmptyComponent) {
  Manifest m;
  AddFile(&m, "a//b");
  ExpectInvalid(m, "a//b");
  Manifest m2;
  AddFile(&m2, "");
  ExpectInvalid(m2, "empty");
  Manifest m3;
  AddFile(&m3, "a/./b");
  ExpectInvalid(m3, "a/./b");
}

TEST(ManifestValidatorTest, RefusesDuplicate) {
  Manifest m;
  AddFile(&m, "a");
  AddFile(&m, "a");
  ExpectInvalid(m, "'a': duplicate");
}

TEST(ManifestValidatorTest, RefusesUnsorted) {
  Manifest m;
  AddFile(&m, "b");
  AddFile(&m, "a");
  ExpectInvalid(m, "'a': not sorted");
}

TEST(ManifestValidatorTest, RefusesEscapingSymlink) {
  Manifest m;
  AddLink(&m, "a/link", "../../outside");
  ExpectInvalid(m, "a/link");
  Manifest abs;
  AddLink(&abs, "link", "/etc/passwd");
  ExpectInvalid(abs, "'link'");
  // "s/.." is not normalised: unsafe when s is itself a symlink.
  Manifest chain;
  AddLink(&chain, "a/b/l", "s/../..");
  ExpectInvalid(chain, "a/b/l");
}

TEST(ManifestValidatorTest, RefusesEntryBelowFileOrSymlink) {
  Manifest m;
  AddLink(&m, "a", "b");
  AddFile(&m, "a-x");
  AddFile(&m, "a/c");
  ExpectInvalid(m, "a/c");
  Manifest f;
  AddFile(&f, "x");
  AddFile(&f, "x/y");
  ExpectInvalid(f, "x/y");
}

TEST(ManifestValidatorTest, RefusesBadDigestAndType) {
  Manifest m;
  AddFile(&m, "f");
  m.mutable_entries(0)->mutable_digest()->set_hash("nothex");
  ExpectInvalid(m, "'f'");
  Manifest t;
  AddFile(&t, "f");
  t.mutable_entries(0)->set_type(mlcube_remote::v1::ENTRY_TYPE_UNSPECIFIED);
  ExpectInvalid(t, "'f': unknown entry type");
  Manifest mode;
  AddFile(&mode, "f");
  mode.mutable_entries(0)->set_mode(0100644);
  ExpectInvalid(mode, "'f': mode");
}

}  // namespace
}  // namespace mlcube
