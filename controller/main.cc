// mlcube-remote: runs MLCube tasks on remote mlcube-agent hosts.

#include "controller/cli.h"

int main(int argc, char** argv) { return mlcube::RunCli(argc, argv); }
