#include "common/json_quote.h"

#include <cstdint>

#include "absl/strings/str_format.h"
#include "common/utf8.h"

namespace mlcube {
namespace {

// The escape for an ASCII character, or nullptr when it stands as it is.
const char* EscapeOf(char c) {
  switch (c) {
    case '"':
      return "\\\"";
    case '\\':
      return "\\\\";
    case '\n':
      return "\\n";
    case '\r':
      return "\\r";
    case '\t':
      return "\\t";
    default:
      return nullptr;
  }
}

}  // namespace

std::string JsonQuote(absl::string_view value) {
  std::string out = "\"";
  out.reserve(value.size() + 2);
  size_t pos = 0;
  while (pos < value.size()) {
    const size_t start = pos;
    uint32_t code_point = 0;
    if (!DecodeUtf8(value, &pos, &code_point)) {
      out += "\xEF\xBF\xBD";  // U+FFFD for the one byte that is not UTF-8
      ++pos;
      continue;
    }
    if (const char* escape = EscapeOf(value[start]); escape != nullptr && code_point < 0x80) {
      out += escape;
    } else if (code_point < 0x20 || code_point == 0x7F) {
      out += absl::StrFormat("\\u%04x", code_point);
    } else {
      out.append(value.data() + start, pos - start);
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace mlcube
