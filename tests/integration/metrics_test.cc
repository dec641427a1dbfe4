// The agent's Prometheus endpoint, read the way an admin reads it: a real
// Prometheus server (Debian's `prometheus`) scrapes a real agent that ran
// real jobs, and its HTTP API answers with the agent's series; the example
// alerting rules in docs/ load into it and pass `promtool check rules`.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/integration/agent_process.h"
#include "tests/support/command_runner.h"
#include "tests/support/hello_cube.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_until.h"

namespace mlcube_test {
namespace {

using ::mlcube::testing::BackgroundCommand;
using ::mlcube::testing::CommandResult;
using ::mlcube::testing::RunCommand;
using ::mlcube::testing::WaitUntil;
using ::testing::HasSubstr;

const std::string kAlerts = MLCUBE_SOURCE_DIR "/docs/mlcube-agent-alerts.yml";

// A loopback port nobody listens on now.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return -1;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

std::string HttpGet(const std::string& url) {
  std::string out;
  Shell("curl -s --max-time 5 '" + url + "'", &out);
  return out;
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(Shell("command -v prometheus promtool curl >/dev/null"), 0)
        << "install them: apt-get install prometheus curl";
    ASSERT_EQ(access(MLCUBE_EXAMPLES_DIR "/hello/build/busybox", X_OK), 0)
        << "run tools/prepare-examples.sh first";
    ASSERT_TRUE(::mlcube::testing::CopyHelloCube(dir_.path() + "/hello"));
    dir_.WriteFile("agent.yaml", "metrics: {listen: \"127.0.0.1:0\"}\n");
    ASSERT_EQ(
        Shell("chmod 755 '" + dir_.path() + "' && chmod 644 '" + dir_.path() + "/agent.yaml'"), 0);
    AgentProcessOptions options;
    options.user = "mlcube";
    options.extra_args = {"--config=" + dir_.path() + "/agent.yaml"};
    agent_ = std::make_unique<AgentProcess>(options);
    ASSERT_TRUE(agent_->Start()) << agent_->Stderr();
    std::smatch match;
    const std::string said = agent_->Stderr();
    ASSERT_TRUE(std::regex_search(said, match,
                                  std::regex("metrics at http://127\\.0\\.0\\.1:([0-9]+)/metrics")))
        << said;
    metrics_port_ = match[1];
    dir_.WriteFile("hosts.yaml", "default_host: local\nhosts:\n  local:\n    address: unix://" +
                                     agent_->socket_path() + "\n");
  }

  CommandResult Run(const std::vector<std::string>& args) {
    // mlcube-remote --hosts=... run --mlcube=... ARGS
    std::vector<std::string> argv = {MLCUBE_REMOTE_BINARY, "--hosts=" + dir_.path() + "/hosts.yaml",
                                     "run", "--mlcube=" + dir_.path() + "/hello"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, {"NO_COLOR=1", "HOME=" + dir_.path()}, 120);
  }

  // Starts Prometheus scraping the agent every second, with docs/' rules.
  void StartPrometheus() {
    prometheus_port_ = std::to_string(FreePort());
    Shell("cp '" + kAlerts + "' '" + dir_.path() + "/alerts.yml'");
    dir_.WriteFile("prometheus.yml",
                   "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                   "rule_files: [alerts.yml]\n"
                   "scrape_configs:\n  - job_name: mlcube-agent\n    static_configs:\n"
                   "      - targets: ['127.0.0.1:" +
                       metrics_port_ + "']\n");
    std::string binary;
    Shell("command -v prometheus | tr -d '\\n'", &binary);  // execve takes no PATH
    prometheus_ = std::make_unique<BackgroundCommand>(
        std::vector<std::string>{binary, "--config.file=" + dir_.path() + "/prometheus.yml",
                                 "--storage.tsdb.path=" + dir_.path() + "/tsdb",
                                 "--web.listen-address=127.0.0.1:" + prometheus_port_});
  }

  // The instant query's JSON answer.
  std::string Query(const std::string& promql) {
    std::string encoded;
    for (const char c : promql) {
      if (isalnum(static_cast<unsigned char>(c)) || c == '_') {
        encoded += c;
      } else {
        char hex[4];
        snprintf(hex, sizeof(hex), "%%%02X", static_cast<unsigned char>(c));
        encoded += hex;
      }
    }
    return HttpGet("http://127.0.0.1:" + prometheus_port_ + "/api/v1/query?query=" + encoded);
  }

  ::mlcube::testing::TempDir dir_;
  std::unique_ptr<AgentProcess> agent_;
  std::string metrics_port_;
  std::string prometheus_port_;
  std::unique_ptr<BackgroundCommand> prometheus_;
};

TEST_F(MetricsTest, PrometheusScrapesJobsRuntimesAndCallsFromARealAgent) {
  CommandResult ok = Run({"--task=greet"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err << agent_->Stderr();
  CommandResult failed = Run({"--task=fail"});
  ASSERT_EQ(failed.exit_code, 7) << failed.err;
  StartPrometheus();

  // Prometheus scraped the agent: the target is up and its series are there.
  EXPECT_TRUE(WaitUntil(
      [&] { return Query("up{job=\"mlcube-agent\"} == 1").find("\"value\"") != std::string::npos; },
      60, 200))
      << Query("up") << prometheus_->OutputSoFar();
  EXPECT_THAT(Query("mlcube_agent_jobs_finished_total{outcome=\"succeeded\",runtime=\"docker\","
                    "scheduler=\"local\"}"),
              HasSubstr("\"1\"]"));
  EXPECT_THAT(Query("mlcube_agent_jobs_finished_total{outcome=\"failed\"}"), HasSubstr("\"1\"]"));
  EXPECT_THAT(Query("mlcube_agent_job_duration_seconds_count"), HasSubstr("\"2\"]"));
  EXPECT_THAT(Query("mlcube_agent_runtime_up{runtime=\"docker\"}"), HasSubstr("\"1\"]"));
  EXPECT_THAT(Query("grpc_server_handled_total{grpc_service=\"mlcube_remote.v1.Jobs\","
                    "grpc_method=\"SubmitJob\",grpc_code=\"OK\"}"),
              HasSubstr("\"2\"]"));
  // The greet run pushed the cube: its bytes came in through sync.
  EXPECT_THAT(Query("mlcube_agent_sync_received_bytes_total > 100000"), HasSubstr("\"value\""));
  EXPECT_THAT(Query("process_resident_memory_bytes{job=\"mlcube-agent\"} > 0"),
              HasSubstr("\"value\""));
  // No job id made it into a label.
  const std::string all = HttpGet("http://127.0.0.1:" + metrics_port_ + "/metrics");
  EXPECT_THAT(all, HasSubstr("mlcube_agent_build_info{version=\"" MLCUBE_REMOTE_VERSION "\""));
  std::string jobs;
  Shell("ls " + agent_->state_dir() + "/jobs", &jobs);
  const std::vector<std::string> ids = absl::StrSplit(jobs, '\n', absl::SkipEmpty());
  ASSERT_EQ(ids.size(), 2u) << jobs;
  for (const std::string& id : ids) EXPECT_THAT(all, ::testing::Not(HasSubstr(id)));

  // The example rules loaded into the real server.
  EXPECT_THAT(HttpGet("http://127.0.0.1:" + prometheus_port_ + "/api/v1/rules"),
              HasSubstr("MlcubeAgentDiskNearlyFull"));
  std::string check;
  EXPECT_EQ(Shell("promtool check rules '" + kAlerts + "' 2>&1", &check), 0) << check;
}

TEST_F(MetricsTest, OnlyMetricsIsServed) {
  EXPECT_THAT(HttpGet("http://127.0.0.1:" + metrics_port_ + "/metrics"),
              HasSubstr("# TYPE mlcube_agent_jobs_finished_total counter"));
  std::string code;
  Shell("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:" + metrics_port_ + "/jobs",
        &code);
  EXPECT_EQ(code, "404");
  Shell("curl -s -X POST -o /dev/null -w '%{http_code}' http://127.0.0.1:" + metrics_port_ +
            "/metrics",
        &code);
  EXPECT_EQ(code, "405");
  // A client that connects and says nothing holds the endpoint 5 s at most.
  BackgroundCommand silent(
      {"/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/" + metrics_port_ + " && sleep 30"});
  std::string answer;
  Shell("curl -s --max-time 15 http://127.0.0.1:" + metrics_port_ + "/metrics", &answer);
  EXPECT_THAT(answer, HasSubstr("mlcube_agent_build_info"));
}

}  // namespace
}  // namespace mlcube_test
