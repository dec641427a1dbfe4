#ifndef MLCUBE_REMOTE_COMMON_JSON_QUOTE_H_
#define MLCUBE_REMOTE_COMMON_JSON_QUOTE_H_

#include <string>

#include "absl/strings/string_view.h"

namespace mlcube {

// `value` as a JSON string literal, quotes included. Control characters
// are escaped; bytes that are not UTF-8 become U+FFFD, so the result is
// valid JSON whatever `value` holds (a path from a cube, a task's output).
std::string JsonQuote(absl::string_view value);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_JSON_QUOTE_H_
