#include "agent/runtimes/apptainer_recipe_check.h"

#include <fcntl.h>

#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/runtimes/container_runtime.h"
#include "common/safe_path.h"

namespace mlcube {
namespace {

// Characters /bin/sh leaves alone in Apptainer's `for n in SOURCE` (glob
// characters included): no quotes, spaces, '$', '`', ';', '~', braces ...
bool IsPlainGlobChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("._/+@=,-*?[]").find(c) != std::string_view::npos;
}

// The path components of `source` before the first one with a glob
// character ("." when the first one has one).
std::string LiteralPrefix(const std::string& source) {
  std::vector<std::string> kept;
  for (absl::string_view part : absl::StrSplit(source, '/', absl::SkipEmpty())) {
    if (part.find_first_of("*?[]") != absl::string_view::npos) break;
    kept.emplace_back(part);
  }
  return kept.empty() ? std::string(".") : absl::StrJoin(kept, "/");
}

std::string FirstWord(absl::string_view line) {
  std::vector<absl::string_view> words =
      absl::StrSplit(line, absl::ByAnyChar(" \t\r\v\f"), absl::SkipEmpty());
  return words.empty() ? std::string() : std::string(words[0]);
}

}  // namespace

ApptainerRecipeCheck::ApptainerRecipeCheck(absl::string_view recipe, std::string name)
    : name_(std::move(name)) {
  Parse(recipe);
}

void ApptainerRecipeCheck::ParseHeaderLine(absl::string_view line, int number) {
  absl::string_view text = absl::StripAsciiWhitespace(line);
  if (text.empty() || text[0] == '#') return;
  text = text.substr(0, text.find('#'));
  const size_t colon = text.find(':');
  if (colon == absl::string_view::npos) return;  // apptainer refuses it itself
  const std::string key = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text.substr(0, colon)));
  const std::string value(absl::StripAsciiWhitespace(text.substr(colon + 1)));
  if (key != "bootstrap" && key != "from") return;
  if (absl::EndsWith(value, "\\")) header_continuation_line_ = number;
  if (stages_.empty()) stages_.push_back(Stage{number, "", ""});
  if (key == "bootstrap") {
    stages_.back().bootstrap = absl::AsciiStrToLower(value);
  } else {
    stages_.back().from = value;
  }
}

void ApptainerRecipeCheck::Parse(absl::string_view recipe) {
  if (absl::StrContains(recipe, "{{")) {
    template_line_ = 1;
    for (absl::string_view line : absl::StrSplit(recipe, '\n')) {
      if (absl::StrContains(line, "{{")) break;
      ++template_line_;
    }
  }
  bool in_header = true;
  std::string section;
  bool from_stage = false;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(recipe, '\n')) {
    ++number;
    line = absl::StripSuffix(line, "\r");
    if (line.size() >= 10 && absl::AsciiStrToLower(line.substr(0, 10)) == "bootstrap:") {
      stages_.push_back(Stage{number, "", ""});
      in_header = true;
      section.clear();
    }
    const std::string word = FirstWord(line);
    if (!word.empty() && word[0] == '%') {
      in_header = false;
      const size_t name_at = word.find_first_not_of('%');
      section = absl::AsciiStrToLower(name_at == std::string::npos ? "" : word.substr(name_at));
      if (section == "setup" || section == "pre") host_sections_.emplace_back(number, section);
      std::vector<std::string> words =
          absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
      from_stage = section == "files" && words.size() >= 2 && words[1] == "from";
      continue;
    }
    if (in_header) {
      ParseHeaderLine(line, number);
    } else if (section == "files" || section == "appfiles") {
      const std::string source = FirstWord(line);
      if (source.empty() || source[0] == '#') continue;
      copy_sources_.push_back(CopySource{number, section, source, from_stage});
    }
  }
}

absl::Status ApptainerRecipeCheck::Refused(int line, absl::string_view why) const {
  return absl::InvalidArgumentError(absl::StrCat(name_, " line ", line, ": ", why));
}

absl::Status ApptainerRecipeCheck::CheckStage(const Stage& stage,
                                              const BuildContext& context) const {
  static const std::set<std::string> kRegistries = {"scratch", "docker", "docker-daemon",
                                                    "library", "oras",   "shub"};
  static const std::set<std::string> kHostFiles = {"localimage", "docker-archive", "oci-archive"};
  if (stage.bootstrap == "docker" || stage.bootstrap == "docker-daemon") {
    // docker-daemon reads the local Docker engine: never another
    // identity's build, by name or by image ID.
    return CheckCubeImageName(stage.from,
                              absl::StrCat(name_, " line ", stage.line, ": From").c_str());
  }
  if (kRegistries.count(stage.bootstrap) > 0) return absl::OkStatus();
  if (kHostFiles.count(stage.bootstrap) == 0) {
    return Refused(stage.line,
                   absl::StrCat("Bootstrap: '", PrintableExcerpt(stage.bootstrap),
                                "' is refused (the agent builds from scratch, docker, "
                                "docker-daemon, library, oras, shub or a localimage, "
                                "docker-archive or oci-archive file in the build context)"));
  }
  // A host path: a file of the build context.
  auto fd =
      context.OpenBeneath(stage.from, absl::StrCat(name_, " line ", stage.line, ": From"), O_PATH);
  return fd.ok() ? absl::OkStatus() : fd.status();
}

absl::Status ApptainerRecipeCheck::CheckCopySource(const CopySource& copy,
                                                   const BuildContext& context) const {
  for (char c : copy.source) {
    if (!IsPlainGlobChar(c)) {
      return Refused(copy.line,
                     absl::StrCat("%", copy.section, " source '", PrintableExcerpt(copy.source),
                                  "' has a character the agent does not pass to the "
                                  "host's shell (allowed: letters, digits, ._/+@=,- "
                                  "and the globs *?[])"));
    }
  }
  if (copy.from_stage) return absl::OkStatus();  // inside an earlier stage's image
  const std::string key = absl::StrCat(name_, " line ", copy.line, ": %", copy.section, " source");
  if (copy.source[0] == '/') {
    return Refused(copy.line,
                   absl::StrCat("%", copy.section, " source '", PrintableExcerpt(copy.source),
                                "' is outside the build context (builds see only "
                                "their build context; name a file inside it)"));
  }
  auto clean = BuildContext::CleanRelative(copy.source, key);
  if (!clean.ok()) return clean.status();
  return context.CheckCopySource(LiteralPrefix(*clean), key);
}

absl::Status ApptainerRecipeCheck::Check(const BuildContext& context) const {
  if (!host_sections_.empty()) {
    const auto& [line, section] = host_sections_.front();
    return Refused(line,
                   absl::StrCat("%", section,
                                " runs on the agent's host, outside any container, and is "
                                "refused (copy files in with %files, run commands in %post)"));
  }
  if (template_line_ > 0) {
    return Refused(template_line_,
                   "template variables ({{ ... }}) are refused: the agent checks the recipe as "
                   "written");
  }
  if (header_continuation_line_ > 0) {
    return Refused(header_continuation_line_,
                   "a Bootstrap:/From: value continued with '\\' is refused");
  }
  for (const Stage& stage : stages_) {
    if (absl::Status s = CheckStage(stage, context); !s.ok()) return s;
  }
  for (const CopySource& copy : copy_sources_) {
    if (absl::Status s = CheckCopySource(copy, context); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace mlcube
