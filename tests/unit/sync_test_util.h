#ifndef MLCUBE_REMOTE_TESTS_UNIT_SYNC_TEST_UTIL_H_
#define MLCUBE_REMOTE_TESTS_UNIT_SYNC_TEST_UTIL_H_

// Small helpers for the sync unit tests: a temp dir that removes itself and
// file read/write shortcuts.

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace mlcube::sync_testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "mlcube-sync-test.XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

inline void WriteFile(const std::string& path, const std::string& data) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

inline bool Exists(const std::string& path) { return std::filesystem::exists(path); }

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace mlcube::sync_testing

#endif  // MLCUBE_REMOTE_TESTS_UNIT_SYNC_TEST_UTIL_H_
