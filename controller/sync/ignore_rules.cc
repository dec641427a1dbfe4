#include "controller/sync/ignore_rules.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace mlcube {

IgnoreRules::IgnoreRules() {
  AddPattern("*.sif");
  AddPattern("*.simg");
}

absl::StatusOr<IgnoreRules> IgnoreRules::ForCube(const std::string& root) {
  IgnoreRules rules;
  std::ifstream in(root + "/.mlcubeignore", std::ios::binary);
  if (in) {
    std::stringstream text;
    text << in.rdbuf();
    rules.AddPatterns(text.str());
  }
  return rules;
}

absl::StatusOr<IgnoreRules> IgnoreRules::ForBuildContext(const std::string& root) {
  absl::StatusOr<IgnoreRules> rules = ForCube(root);
  if (!rules.ok()) return rules;
  std::ifstream in(root + "/.dockerignore", std::ios::binary);
  if (!in) return rules;
  std::stringstream text;
  text << in.rdbuf();
  for (absl::string_view line : absl::StrSplit(text.str(), '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    const bool negate = absl::ConsumePrefix(&line, "!");
    while (absl::ConsumePrefix(&line, "/") || absl::ConsumePrefix(&line, "./")) {
    }
    if (line.empty()) continue;
    rules->AddPattern(absl::StrCat(negate ? "!/" : "/", line));
  }
  return rules;
}

void IgnoreRules::AddPatterns(absl::string_view text) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) AddPattern(line);
}

void IgnoreRules::AddPattern(absl::string_view line) {
  absl::ConsumeSuffix(&line, "\r");
  // Trailing unescaped spaces are ignored, as in git.
  while (!line.empty() && line.back() == ' ' &&
         !(line.size() > 1 && line[line.size() - 2] == '\\')) {
    line.remove_suffix(1);
  }
  if (line.empty() || line.front() == '#') return;
  Rule rule;
  if (line.front() == '!') {
    rule.negate = true;
    line.remove_prefix(1);
  } else if (line.front() == '\\') {
    line.remove_prefix(1);  // "\#x" or "\!x"
  }
  if (!line.empty() && line.back() == '/') {
    rule.dir_only = true;
    line.remove_suffix(1);
  }
  if (line.empty()) return;
  if (line.find('/') != absl::string_view::npos) rule.anchored = true;
  absl::ConsumePrefix(&line, "/");
  if (line.empty()) return;
  rule.glob = std::string(line.data(), line.size());
  rules_.push_back(std::move(rule));
}

bool IgnoreRules::IsIgnored(absl::string_view path, bool is_dir) const {
  absl::string_view base = path;
  if (size_t slash = path.rfind('/'); slash != absl::string_view::npos) {
    base = path.substr(slash + 1);
  }
  bool ignored = false;
  for (const Rule& rule : rules_) {
    if (rule.dir_only && !is_dir) continue;
    if (ignored != rule.negate) continue;  // cannot change the outcome
    if (GlobMatch(rule.glob, rule.anchored ? path : base)) ignored = !rule.negate;
  }
  return ignored;
}

namespace {

// Matches a bracket expression at pattern[0] == '['; sets `consumed` to its
// length. Returns false for a malformed class (then '[' is literal).
bool MatchClass(absl::string_view pattern, char c, size_t* consumed, bool* matched) {
  size_t i = 1;
  bool negate = false;
  if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
    negate = true;
    ++i;
  }
  bool hit = false;
  bool first = true;
  for (; i < pattern.size(); ++i) {
    char p = pattern[i];
    if (p == ']' && !first) {
      *consumed = i + 1;
      *matched = (hit != negate) && c != '/';
      return true;
    }
    first = false;
    if (p == '\\' && i + 1 < pattern.size()) p = pattern[++i];
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      char hi = pattern[i + 2];
      if (c >= p && c <= hi) hit = true;
      i += 2;
    } else if (c == p) {
      hit = true;
    }
  }
  return false;
}

}  // namespace

bool IgnoreRules::GlobMatch(absl::string_view pattern, absl::string_view text) {
  while (!pattern.empty()) {
    char p = pattern.front();
    if (p == '*') {
      if (pattern.size() >= 2 && pattern[1] == '*') {
        // "**": any run of characters, '/' included; "**/" also matches
        // zero directories.
        absl::string_view rest = pattern.substr(2);
        if (absl::ConsumePrefix(&rest, "/") && GlobMatch(rest, text)) return true;
        rest = pattern.substr(2);
        for (size_t i = 0; i <= text.size(); ++i) {
          if (GlobMatch(rest, text.substr(i))) return true;
        }
        return false;
      }
      absl::string_view rest = pattern.substr(1);
      for (size_t i = 0; i <= text.size(); ++i) {
        if (GlobMatch(rest, text.substr(i))) return true;
        if (i < text.size() && text[i] == '/') break;
      }
      return false;
    }
    if (text.empty()) return false;
    if (p == '?') {
      if (text.front() == '/') return false;
      pattern.remove_prefix(1);
      text.remove_prefix(1);
      continue;
    }
    if (p == '[') {
      size_t consumed = 0;
      bool matched = false;
      if (MatchClass(pattern, text.front(), &consumed, &matched)) {
        if (!matched) return false;
        pattern.remove_prefix(consumed);
        text.remove_prefix(1);
        continue;
      }
    }
    if (p == '\\' && pattern.size() > 1) {
      pattern.remove_prefix(1);
      p = pattern.front();
    }
    if (p != text.front()) return false;
    pattern.remove_prefix(1);
    text.remove_prefix(1);
  }
  return text.empty();
}

}  // namespace mlcube
