#include "controller/cli.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

namespace mlcube {

int RunCli(int argc, char** argv) {
  CLI::App app{"mlcube-remote: run MLCube tasks on remote hosts"};
  app.set_version_flag("--version", std::string("mlcube-remote ") + MLCUBE_REMOTE_VERSION);
  app.require_subcommand(1);
  CLI11_PARSE(app, argc, argv);
  return 0;
}

}  // namespace mlcube
