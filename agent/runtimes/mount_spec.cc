#include "agent/runtimes/mount_spec.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "common/safe_path.h"
#include "common/utf8.h"

namespace mlcube {
namespace {

// C0, DEL and C1: a newline ends pflag's CSV record, and none of them
// belongs in a path anyone means.
bool IsControl(uint32_t c) { return c < 0x20 || (c >= 0x7F && c <= 0x9F); }

// Go's unicode.IsSpace beyond the controls: what strings.TrimSpace removes.
bool IsGoSpace(uint32_t c) {
  return c == ' ' || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

absl::Status Refuse(absl::string_view path, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("'", PrintableExcerpt(path), "' cannot be mounted: ", why));
}

const char* GrammarName(MountGrammar grammar) {
  return grammar == MountGrammar::kApptainerBind ? "apptainer --bind" : "docker --volume";
}

// The characters `grammar` splits or unquotes on, with what it does.
absl::Status CheckSeparators(MountGrammar grammar, absl::string_view path) {
  for (const char c : path) {
    const char* why = nullptr;
    if (c == ':') {
      why = "separates a mount's source, destination and options";
    } else if (c == ',') {
      why = grammar == MountGrammar::kApptainerBind ? "separates mounts" : "separates options";
    } else if (grammar == MountGrammar::kApptainerBind && c == '^') {
      why = "separates mounts";
    } else if (grammar == MountGrammar::kApptainerBind && c == '\\') {
      why = "escapes the next separator";
    } else if (grammar == MountGrammar::kApptainerBind && c == '"') {
      why = "quotes a list entry";
    }
    if (why != nullptr) {
      return Refuse(path,
                    absl::StrCat("'", std::string(1, c), "' ", why, " for ", GrammarName(grammar)));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status MountSpec::CheckPath(MountGrammar grammar, absl::string_view path) {
  if (path.empty() || path.front() != '/') return Refuse(path, "not an absolute path");
  size_t pos = 0;
  uint32_t last = 0;
  while (pos < path.size()) {
    if (!DecodeUtf8(path, &pos, &last)) {
      return Refuse(path, "not UTF-8 (the runtime would mount another path)");
    }
    if (IsControl(last)) return Refuse(path, "control character");
  }
  if (absl::Status s = CheckSeparators(grammar, path); !s.ok()) return s;
  if (grammar == MountGrammar::kApptainerBind && IsGoSpace(last)) {
    return Refuse(path, "ends in white space, which apptainer --bind trims");
  }
  return absl::OkStatus();
}

absl::Status MountSpec::CheckPathForEveryRuntime(absl::string_view path) {
  for (const MountGrammar grammar : {MountGrammar::kApptainerBind, MountGrammar::kDockerVolume}) {
    if (absl::Status s = CheckPath(grammar, path); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> MountSpec::Render(MountGrammar grammar, absl::string_view host,
                                              absl::string_view dest, bool read_only) {
  for (const absl::string_view path : {host, dest}) {
    if (absl::Status s = CheckPath(grammar, path); !s.ok()) return s;
  }
  return absl::StrCat(host, ":", dest, read_only ? ":ro" : "");
}

}  // namespace mlcube
