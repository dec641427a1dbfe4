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
  // path()/relative.
  std::string operator/(const std::string& relative) const { return path_ + "/" + relative; }
  // Writes `content` to path()/relative, creating parent directories.
  void WriteFile(const std::string& relative, const std::string& content) const;

 private:
  std::string path_;
};

// The whole content of a file; empty when it cannot be read.
std::string ReadFileContent(const std::string& path);

// How many times `needle` occurs in `haystack` (non-overlapping).
int CountOccurrences(const std::string& haystack, const std::string& needle);

}  // namespace mlcube::testing

#endif  // MLCUBE_REMOTE_TESTS_SUPPORT_TEMP_DIR_H_
