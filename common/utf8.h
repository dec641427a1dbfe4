#ifndef MLCUBE_REMOTE_COMMON_UTF8_H_
#define MLCUBE_REMOTE_COMMON_UTF8_H_

// UTF-8 as Go's unicode/utf8 decides it (the runtimes we hand paths to are
// written in Go): no overlong forms, no surrogates, nothing above U+10FFFF.

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace mlcube {

// Decodes the code point at text[*pos] and advances *pos past it; false
// (and *pos unchanged) for a malformed or truncated sequence. *pos must be
// below text.size().
bool DecodeUtf8(absl::string_view text, size_t* pos, uint32_t* code_point);

// True when all of `text` is well-formed UTF-8.
bool IsValidUtf8(absl::string_view text);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_UTF8_H_
