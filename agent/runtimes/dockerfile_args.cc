#include "agent/runtimes/dockerfile_args.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace mlcube {
namespace {

bool IsNameChar(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// A default written in quotes ("x", 'x') is the text inside them.
std::string Unquote(absl::string_view value) {
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
      value.back() == value.front()) {
    value = value.substr(1, value.size() - 2);
  }
  return std::string(value);
}

absl::Status CannotExpand(absl::string_view word, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(why, " in '", word, "'"));
}

}  // namespace

void DockerfileArgs::Declare(const std::vector<std::string>& words) {
  std::map<std::string, std::string>& scope = in_stage_ ? stage_ : global_;
  for (const std::string& word : words) {
    const size_t eq = word.find('=');
    const std::string name = word.substr(0, eq);
    std::optional<std::string> value;
    if (auto given = build_args_.find(name); given != build_args_.end()) {
      value = given->second;
    } else if (eq != std::string::npos) {
      // A default may use earlier arguments; one it cannot expand leaves
      // the argument unset (the image it names is then refused).
      absl::StatusOr<std::string> expanded = Expand(Unquote(word.substr(eq + 1)), !in_stage_);
      if (expanded.ok()) value = *expanded;
    } else if (in_stage_ && global_.count(name) > 0) {
      value = global_.at(name);
    }
    if (value.has_value()) {
      scope[name] = *value;
    } else {
      scope.erase(name);
    }
  }
}

void DockerfileArgs::StartStage() {
  in_stage_ = true;
  stage_.clear();
}

std::optional<std::string> DockerfileArgs::Lookup(const std::string& name, bool global) const {
  const std::map<std::string, std::string>& scope = global ? global_ : stage_;
  auto it = scope.find(name);
  if (it == scope.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::string> DockerfileArgs::Expand(absl::string_view word, bool for_from) const {
  const bool global = for_from || !in_stage_;
  std::string out;
  size_t i = 0;
  while (i < word.size()) {
    const char c = word[i];
    if (c == '\\') return CannotExpand(word, "an escape");
    if (c != '$') {
      out.push_back(c);
      ++i;
      continue;
    }
    ++i;
    std::string name, modifier, alternative;
    if (i < word.size() && word[i] == '{') {
      const size_t close = word.find('}', i);
      if (close == absl::string_view::npos) return CannotExpand(word, "an unclosed '${'");
      absl::string_view inner = word.substr(i + 1, close - i - 1);
      size_t n = 0;
      while (n < inner.size() && IsNameChar(inner[n])) ++n;
      name = std::string(inner.substr(0, n));
      absl::string_view rest = inner.substr(n);
      if (!rest.empty() && !absl::StartsWith(rest, ":-") && !absl::StartsWith(rest, ":+")) {
        return CannotExpand(word, "a substitution other than ${NAME:-word} and ${NAME:+word}");
      }
      if (!rest.empty()) {
        modifier = std::string(rest.substr(0, 2));
        alternative = std::string(rest.substr(2));
        if (alternative.find('$') != std::string::npos) {
          return CannotExpand(word, "a substitution inside a substitution");
        }
      }
      i = close + 1;
    } else {
      while (i < word.size() && IsNameChar(word[i])) name.push_back(word[i++]);
    }
    if (name.empty()) return CannotExpand(word, "a '$' without an argument name");
    const std::optional<std::string> value = Lookup(name, global);
    const bool set = value.has_value() && !value->empty();
    if (modifier == ":-") {
      out += set ? *value : alternative;
    } else if (modifier == ":+") {
      out += set ? alternative : "";
    } else {
      out += value.value_or("");
    }
  }
  return out;
}

}  // namespace mlcube
