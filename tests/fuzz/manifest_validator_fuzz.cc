// libFuzzer target over ManifestValidator: any input either is refused or
// yields a manifest whose every path stays below the root, in canonical order,
// with symlinks that resolve inside the tree.
//
// The input is tried two ways: as a serialized Manifest, and as text where
// each line "f PATH", "d PATH" or "l PATH TARGET" adds an entry (so the
// fuzzer reaches path edge cases without learning protobuf framing).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/str_split.h"
#include "common/digest.h"
#include "common/manifest_validator.h"
#include "common/safe_path.h"
#include "mlcube_remote/v1/manifest.pb.h"

namespace {

using ::mlcube_remote::v1::Manifest;

void CheckAccepted(const Manifest& m) {
  const std::string root = "/fuzz/root";
  const std::string* previous = nullptr;
  for (const auto& e : m.entries()) {
    if (previous != nullptr && !(*previous < e.path())) abort();  // sorted, unique
    previous = &e.path();
    auto joined = mlcube::JoinConfined(root, e.path());
    if (!joined.ok() || !mlcube::IsWithin(*joined, root) || *joined == root) abort();
    if (e.type() == mlcube_remote::v1::ENTRY_TYPE_SYMLINK) {
      const std::string link_dir = joined->substr(0, joined->rfind('/'));
      if (!mlcube::IsWithin(mlcube::NormalizePath(link_dir + "/" + e.symlink_target()), root)) {
        abort();
      }
    }
  }
}

void Try(const Manifest& m) {
  if (mlcube::ManifestValidator::Validate(m).ok()) CheckAccepted(m);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  Manifest parsed;
  if (parsed.ParseFromString(input)) Try(parsed);

  Manifest text;
  for (absl::string_view line : absl::StrSplit(input, '\n')) {
    if (line.size() < 2 || text.entries_size() > 1000) continue;
    std::vector<absl::string_view> parts = absl::StrSplit(line.substr(2), absl::MaxSplits(' ', 1));
    auto* e = text.add_entries();
    e->set_path(std::string(parts[0].data(), parts[0].size()));
    switch (line[0]) {
      case 'f':
        e->set_type(mlcube_remote::v1::ENTRY_TYPE_FILE);
        *e->mutable_digest() = mlcube::DigestOf(line);
        e->set_mode(0644);
        break;
      case 'd':
        e->set_type(mlcube_remote::v1::ENTRY_TYPE_DIRECTORY);
        break;
      default:
        e->set_type(mlcube_remote::v1::ENTRY_TYPE_SYMLINK);
        if (parts.size() > 1) e->set_symlink_target(std::string(parts[1].data(), parts[1].size()));
    }
  }
  Try(text);
  return 0;
}
