#include "tests/unit/real_cube_corpus.h"

#include <dirent.h>
#include <limits.h>
#include <stdlib.h>

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace mlcube {

std::string CorpusDir() {
  char resolved[PATH_MAX];
  return realpath(MLCUBE_REALCUBES_DIR, resolved) ? resolved : MLCUBE_REALCUBES_DIR;
}

std::vector<std::string> CaseNames() {
  std::vector<std::string> names;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir((CorpusDir() + "/cases").c_str()), &closedir);
  if (!dir) return names;
  while (const dirent* entry = readdir(dir.get())) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// JSON is YAML: yaml-cpp reads expected/ as it is. Undefined when missing.
YAML::Node Expected(const std::string& cube) {
  try {
    return YAML::LoadFile(absl::StrCat(CorpusDir(), "/expected/", cube, ".json"));
  } catch (const YAML::Exception&) {
    return YAML::Node(YAML::NodeType::Undefined);
  }
}

void PrintTo(const TaskCase& c, std::ostream* os) {
  *os << c.cube << " " << c.platform << " " << c.task;
}

void PrintTo(const PlatformCase& c, std::ostream* os) { *os << c.cube << " " << c.platform; }

std::string TestName(std::vector<std::string> parts) {
  std::string name = absl::StrJoin(parts, "__");
  for (char& c : name) {
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

std::vector<PlatformCase> PlatformCases() {
  std::vector<PlatformCase> cases;
  for (const std::string& cube : CaseNames()) {
    YAML::Node expected = Expected(cube);
    if (!expected.IsMap() || !expected["platforms"].IsMap()) continue;
    for (auto it = expected["platforms"].begin(); it != expected["platforms"].end(); ++it) {
      cases.push_back({cube, it->first.as<std::string>()});
    }
  }
  return cases;
}

std::vector<TaskCase> TaskCases() {
  std::vector<TaskCase> cases;
  for (const PlatformCase& p : PlatformCases()) {
    YAML::Node tasks = Expected(p.cube)["platforms"][p.platform]["tasks"];
    for (auto it = tasks.begin(); it != tasks.end(); ++it) {
      cases.push_back({p.cube, p.platform, it->first.as<std::string>()});
    }
  }
  return cases;
}

bool IsOlderLayout(const std::string& cube) {
  return Expected(cube)["layout"].as<std::string>() == "older";
}

// "docker" or "singularity": what runs a platform of the expected file.
std::string RunnerOf(const YAML::Node& platform) {
  if (platform["runner"].IsDefined()) return platform["runner"].as<std::string>();
  return platform["config"]["runner"]["runner"].as<std::string>();
}

// The parameter MLCube's refusal names ("... param=NAME, type=...").
std::string RefusedParameter(const std::string& error) {
  const size_t at = error.find("param=");
  if (at == std::string::npos) return "";
  const size_t end = error.find_first_of(",)", at);
  return error.substr(at + 6, end - at - 6);
}

}  // namespace mlcube
