#include "common/copied_variables.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace mlcube {
namespace {

bool IsVariableName(const std::string& name) {
  if (name.empty() || absl::ascii_isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

void AddCopies(const std::string& text, std::vector<std::string>* names) {
  const std::vector<std::string> words =
      absl::StrSplit(text, absl::ByAnyChar(" \t\n"), absl::SkipEmpty());
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i];
    std::string name;
    if ((word == "-e" || word == "--env") && i + 1 < words.size()) {
      name = words[++i];
    } else if (absl::StartsWith(word, "--env=")) {
      name = word.substr(6);
    } else if (absl::StartsWith(word, "-e") && !absl::StartsWith(word, "--")) {
      name = word.substr(2);
    }
    if (IsVariableName(name) && std::find(names->begin(), names->end(), name) == names->end()) {
      names->push_back(name);
    }
  }
}

}  // namespace

std::vector<std::string> CopiedVariableNames(const Cube& cube) {
  std::vector<std::string> names;
  for (const std::string* text : {&cube.docker.cpu_args, &cube.docker.gpu_args,
                                  &cube.docker.env_args, &cube.singularity.run_args}) {
    AddCopies(*text, &names);
  }
  return names;
}

}  // namespace mlcube
