#ifndef MLCUBE_REMOTE_TESTS_UNIT_REAL_CUBE_CORPUS_H_
#define MLCUBE_REMOTE_TESTS_UNIT_REAL_CUBE_CORPUS_H_

// The real-cube corpus (MLCUBE_REALCUBES_DIR: cases/ and expected/) as test
// parameters: one per platform and one per task of every expected/ file, so
// a cube added there is tested with no code change.

#include <yaml-cpp/yaml.h>

#include <ostream>
#include <string>
#include <vector>

namespace mlcube {

struct TaskCase {
  std::string cube;
  std::string platform;  // "docker", "singularity" or an older layout's platform file
  std::string task;      // a task name or an older layout's run file
};

struct PlatformCase {
  std::string cube;
  std::string platform;
};

void PrintTo(const TaskCase& c, std::ostream* os);
void PrintTo(const PlatformCase& c, std::ostream* os);

// The corpus directory, resolved.
std::string CorpusDir();
std::vector<std::string> CaseNames();
// expected/CUBE.json (JSON is YAML); undefined when missing.
YAML::Node Expected(const std::string& cube);
std::vector<PlatformCase> PlatformCases();
std::vector<TaskCase> TaskCases();
bool IsOlderLayout(const std::string& cube);
// "docker" or "singularity": what runs a platform of an expected file.
std::string RunnerOf(const YAML::Node& platform);
// A gtest-safe name made of `parts`.
std::string TestName(std::vector<std::string> parts);
// The parameter MLCube's refusal names ("... param=NAME, type=...").
std::string RefusedParameter(const std::string& error);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_TESTS_UNIT_REAL_CUBE_CORPUS_H_
