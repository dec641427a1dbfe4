#ifndef MLCUBE_REMOTE_CONTROLLER_COMMANDS_UI_COMMAND_H_
#define MLCUBE_REMOTE_CONTROLLER_COMMANDS_UI_COMMAND_H_

// `mlcube-remote ui`: the dashboard (controller/ui/) on 127.0.0.1 until
// Ctrl-C. Prints one line with its address and token on stdout.

#include <ostream>

#include "controller/commands/cube_options.h"
#include "controller/hosts/hosts_file.h"
#include "controller/terminal/console.h"

namespace CLI {
class App;
}

namespace mlcube {

struct UiCommandOptions {
  HostsLookup hosts_lookup;
  // The cube whose sweeps the sweeps page shows (default: the current
  // directory, when it is a cube).
  CubeOptions cube;
  bool cube_given = false;
  int port = 0;  // 0: any free port
  bool open = false;
};

CLI::App* AddUiCommand(CLI::App* app, UiCommandOptions* options);
int RunUiCommand(const UiCommandOptions& options, const Console& console, std::ostream& out);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_COMMANDS_UI_COMMAND_H_
