#include "controller/cli.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "controller/console.h"
#include "controller/cube_options.h"
#include "controller/describe_command.h"
#include "controller/exit_codes.h"
#include "controller/sync_command.h"

namespace mlcube {
namespace {

struct GlobalOptions {
  bool quiet = false;
  bool verbose = false;
};

Verbosity ToVerbosity(const GlobalOptions& global) {
  if (global.quiet) return Verbosity::kQuiet;
  if (global.verbose) return Verbosity::kVerbose;
  return Verbosity::kNormal;
}

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app{"mlcube-remote: run MLCube tasks on remote mlcube-agent hosts"};
  app.set_version_flag("--version", std::string("mlcube-remote ") + MLCUBE_REMOTE_VERSION);
  app.require_subcommand(1);
  GlobalOptions global;
  app.add_flag("-q,--quiet", global.quiet, "Only errors from mlcube-remote itself");
  app.add_flag("-v,--verbose", global.verbose, "More detail from mlcube-remote itself");

  CubeOptions describe_options;
  CLI::App* describe = app.add_subcommand(
      "describe", "Show a cube's name, tasks and parameters with resolved host paths");
  AddCubeOptions(describe, &describe_options);

  CubeOptions show_config_options;
  CLI::App* show_config =
      app.add_subcommand("show-config", "Print the effective, fully interpolated configuration");
  AddCubeOptions(show_config, &show_config_options);

  SyncCommandOptions sync_options;  // sync (issue 4)
  CLI::App* sync = AddSyncCommand(&app, &sync_options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitBadInput;
  }

  const Console console = Console::ForStderr(ToVerbosity(global));
  if (describe->parsed()) return RunDescribeCommand(describe_options, console, std::cout);
  if (show_config->parsed()) return RunShowConfigCommand(show_config_options, console, std::cout);
  if (sync->parsed()) return RunSyncCommand(sync_options, console, std::cout);
  return kExitBadInput;
}

}  // namespace mlcube
