#ifndef MLCUBE_REMOTE_TESTS_SUPPORT_TEMP_DIR_H_
#define MLCUBE_REMOTE_TESTS_SUPPORT_TEMP_DIR_H_

// A directory under $TMPDIR removed with its contents when the object dies.

#include <string>

namespace mlcube::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes `content` to path()/relative, creating parent directories.
  void WriteFile(const std::string& relative, const std::string& content) const;

 private:
  std::string path_;
};

}  // namespace mlcube::testing

#endif  // MLCUBE_REMOTE_TESTS_SUPPORT_TEMP_DIR_H_
