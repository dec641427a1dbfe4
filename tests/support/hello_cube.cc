#include "tests/support/hello_cube.h"

#include <filesystem>
#include <iostream>
#include <system_error>

namespace mlcube::testing {

bool CopyHelloCube(const std::string& dest) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::copy(MLCUBE_EXAMPLES_DIR "/hello", dest,
           fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
  if (ec) {
    std::cerr << "copy examples/hello to " << dest << ": " << ec.message() << "\n";
    return false;
  }
  for (const char* output : {"/workspace/greetings", "/workspace/runs"}) {
    fs::remove_all(dest + output, ec);
    if (ec) {
      std::cerr << "remove " << dest << output << ": " << ec.message() << "\n";
      return false;
    }
  }
  return true;
}

}  // namespace mlcube::testing
