#ifndef MLCUBE_REMOTE_TESTS_UNIT_SYNC_TEST_UTIL_H_
#define MLCUBE_REMOTE_TESTS_UNIT_SYNC_TEST_UTIL_H_

// Small helpers for the sync unit tests: the tests' TempDir and file
// read/write shortcuts.

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/temp_dir.h"

namespace mlcube::sync_testing {

using ::mlcube::testing::TempDir;

inline void WriteFile(const std::string& path, const std::string& data) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

inline bool Exists(const std::string& path) { return std::filesystem::exists(path); }

inline std::string ReadFile(const std::string& path) {
  return ::mlcube::testing::ReadFileContent(path);
}

}  // namespace mlcube::sync_testing

#endif  // MLCUBE_REMOTE_TESTS_UNIT_SYNC_TEST_UTIL_H_
