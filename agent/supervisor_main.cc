// mlcube-agent-supervisor: `mlcube-agent supervise` as a program of its own
// (see agent/schedulers/task_supervisor.h). One runs beside every running
// step; linked against only what a supervisor uses, it costs a fraction of
// the memory the whole agent binary's libraries take in each process.

#include <string>
#include <vector>

#include "agent/schedulers/task_supervisor.h"

int main(int argc, char** argv) {
  return mlcube::TaskSupervisor::Main(std::vector<std::string>(argv + 1, argv + argc));
}
