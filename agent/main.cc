// mlcube-agent: the daemon that runs cube tasks on a compute host.

#include <CLI/CLI.hpp>
#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"mlcube-agent: runs MLCube tasks on this host for mlcube-remote controllers"};
  app.set_version_flag("--version", std::string("mlcube-agent ") + MLCUBE_REMOTE_VERSION);
  app.require_subcommand(0, 1);
  CLI11_PARSE(app, argc, argv);
  std::cout << app.help();
  return 0;
}
