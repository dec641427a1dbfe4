#include "agent/runtimes/dockerfile_check.h"

#include <cstring>
#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/runtimes/container_runtime.h"
#include "agent/runtimes/dockerfile_args.h"
#include "common/safe_path.h"

namespace mlcube {
namespace {

struct Instruction {
  int line = 0;
  std::vector<std::string> words;
};

// Instructions with continuation lines joined; comments dropped.
std::vector<Instruction> Instructions(absl::string_view text) {
  std::vector<Instruction> out;
  std::string pending;
  int start = 0, number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    line = absl::StripSuffix(line, "\r");
    absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(line);
    if (trimmed.empty() || trimmed[0] == '#') continue;
    if (pending.empty()) start = number;
    absl::string_view body = absl::StripTrailingAsciiWhitespace(line);
    const bool continued = absl::ConsumeSuffix(&body, "\\");
    absl::StrAppend(&pending, body, " ");
    if (continued) continue;
    out.push_back(
        Instruction{start, absl::StrSplit(pending, absl::ByAnyChar(" \t"), absl::SkipEmpty())});
    pending.clear();
  }
  if (!pending.empty()) {
    out.push_back(
        Instruction{start, absl::StrSplit(pending, absl::ByAnyChar(" \t"), absl::SkipEmpty())});
  }
  return out;
}

// The value of `from=` in a --mount=type=...,from=X,... flag ("" if none).
std::string MountFrom(absl::string_view flag) {
  for (absl::string_view part : absl::StrSplit(flag.substr(strlen("--mount=")), ',')) {
    if (absl::ConsumePrefix(&part, "from=")) return std::string(part);
  }
  return "";
}

}  // namespace

absl::Status DockerfileCheck::CheckImage(const std::string& where, const std::string& image,
                                         const absl::StatusOr<std::string>& resolved) const {
  if (image.find('$') == std::string::npos) return CheckCubeImageName(image, where.c_str());
  const std::string written = PrintableExcerpt(image);
  if (!resolved.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " '", written,
                                                   "': an image named by build arguments the "
                                                   "agent cannot resolve (",
                                                   resolved.status().message(), ")"));
  }
  if (resolved->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, " '", written,
        "': an image named by build arguments that have no value (give each an `ARG NAME=...` "
        "default before the first FROM, or set it in docker.build_args)"));
  }
  return CheckCubeImageName(
      *resolved, absl::StrCat(where, " '", written, "' = ", PrintableExcerpt(*resolved)).c_str());
}

absl::Status DockerfileCheck::Check(absl::string_view dockerfile) const {
  std::set<std::string> stages;
  DockerfileArgs args(build_args_);
  for (const Instruction& in : Instructions(dockerfile)) {
    if (in.words.empty()) continue;
    const std::string op = absl::AsciiStrToUpper(in.words[0]);
    std::vector<std::string> images;
    if (op == "ARG") {
      args.Declare(std::vector<std::string>(in.words.begin() + 1, in.words.end()));
    } else if (op == "FROM") {
      size_t i = 1;
      while (i < in.words.size() && absl::StartsWith(in.words[i], "--")) ++i;
      if (i < in.words.size()) images.push_back(in.words[i]);
      if (i + 2 < in.words.size() && absl::AsciiStrToLower(in.words[i + 1]) == "as") {
        stages.insert(absl::AsciiStrToLower(in.words[i + 2]));
      }
    } else if (op == "COPY" || op == "ADD" || op == "RUN") {
      for (size_t i = 1; i < in.words.size() && absl::StartsWith(in.words[i], "--"); ++i) {
        const std::string& flag = in.words[i];
        if (absl::StartsWith(flag, "--from=")) images.push_back(flag.substr(strlen("--from=")));
        if (absl::StartsWith(flag, "--mount=") && !MountFrom(flag).empty()) {
          images.push_back(MountFrom(flag));
        }
      }
    }
    for (const std::string& image : images) {
      const absl::StatusOr<std::string> resolved = args.Expand(image, op == "FROM");
      const std::string name = resolved.ok() ? *resolved : image;
      int index = 0;
      if (stages.count(absl::AsciiStrToLower(name)) > 0 || name == "scratch" ||
          (op != "FROM" && absl::SimpleAtoi(name, &index))) {
        continue;
      }
      const std::string where = absl::StrCat(name_, " line ", in.line, ": ", op);
      if (absl::Status s = CheckImage(where, image, resolved); !s.ok()) return s;
    }
    if (op == "FROM") args.StartStage();
  }
  return absl::OkStatus();
}

}  // namespace mlcube
