// mlcube-remote: runs MLCube tasks on remote mlcube-agent hosts.

#include "controller/cli.h"

// The environment is read here, once (ReadControllerEnvironment), and
// passed down.
int main(int argc, char** argv) {
  return mlcube::RunCli(argc, argv, mlcube::ReadControllerEnvironment());
}
