#include "tests/support/hello_cube.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <system_error>
#include <thread>

#include "tests/support/wait_until.h"

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

bool AddGreetGates(const std::string& cube_dir) {
  const std::string script = cube_dir + "/build/hello.sh";
  std::ifstream in(script);
  std::stringstream text;
  text << in.rdbuf();
  std::string body = text.str();
  const std::string pace = "    sleep \"$delay\"\n";
  const size_t at = body.find(pace);
  if (at == std::string::npos) {
    ADD_FAILURE() << script << " has no line `" << pace << "` to gate";
    return false;
  }
  body.insert(at + pace.size(),
              "    [ -z \"$GREET_GATE\" ] || until [ -e \"$GREET_GATE$count\" ]; do sleep 0.1; "
              "done\n");
  std::ofstream(script, std::ios::trunc) << body;
  // An image of its own: a hello image some other test built is not gated.
  const std::string yaml_path = cube_dir + "/mlcube.yaml";
  std::ifstream yaml_in(yaml_path);
  std::stringstream yaml_text;
  yaml_text << yaml_in.rdbuf();
  std::string yaml = yaml_text.str();
  const std::string image = "image: mlcube/hello:0.1";
  const size_t image_at = yaml.find(image);
  if (image_at == std::string::npos) {
    ADD_FAILURE() << yaml_path << " has no `" << image << "`";
    return false;
  }
  yaml.replace(image_at, image.size(), "image: mlcube/hello-gated:0.1");
  std::ofstream(yaml_path, std::ios::trunc) << yaml;
  return true;
}

void OpenGate(const std::string& path) {
  std::ofstream gate(path);
  EXPECT_TRUE(gate.good()) << "cannot create " << path;
}

bool WaitForFile(const std::string& path, int timeout_s) {
  return WaitUntil([&path] { return access(path.c_str(), F_OK) == 0; }, timeout_s);
}

}  // namespace mlcube::testing
