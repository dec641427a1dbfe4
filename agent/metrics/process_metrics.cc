#include "agent/metrics/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace mlcube {
namespace {

// Fields of /proc/self/stat after the command name (field 3 onwards).
std::vector<std::string> StatFields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  const size_t close = line.rfind(')');
  std::vector<std::string> fields;
  if (close == std::string::npos) return fields;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  while (rest >> field) fields.push_back(field);
  return fields;
}

double BootTimeSeconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime") {
      in >> value;
      return value;
    }
    in.ignore(1 << 16, '\n');
  }
  return 0;
}

int OpenDescriptors() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int count = 0;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count - 1;  // the directory's own descriptor
}

}  // namespace

void WriteProcessMetrics(PrometheusText* out) {
  const std::vector<std::string> f = StatFields();
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  // utime, stime: fields 14, 15; starttime: 22; rss (pages): 24 (1-based).
  if (f.size() > 21) {
    out->Family("process_cpu_seconds_total", "counter", "User and system CPU time spent.");
    out->Sample("process_cpu_seconds_total", (std::stod(f[11]) + std::stod(f[12])) / ticks);
    out->Family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    out->Sample("process_resident_memory_bytes", std::stod(f[21]) * page);
    out->Family("process_start_time_seconds", "gauge",
                "Start time of the process since the Unix epoch in seconds.");
    out->Sample("process_start_time_seconds", BootTimeSeconds() + std::stod(f[19]) / ticks);
  }
  out->Family("process_open_fds", "gauge", "Number of open file descriptors.");
  out->Sample("process_open_fds", OpenDescriptors());
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    out->Family("process_max_fds", "gauge", "Maximum number of open file descriptors.");
    out->Sample("process_max_fds", static_cast<double>(limit.rlim_cur));
  }
}

}  // namespace mlcube
