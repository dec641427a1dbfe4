// The agent's own log as an admin's log shipper reads it: a real agent with
// --log-format=json runs real jobs submitted by the CLI, and every line of
// its stderr is one JSON object; the records of a job carry its id and its
// owner's identity, and the submit call's records share one request id.
// (The journal format is tested under a real systemd: systemd_host_test.)

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "tests/integration/agent_process.h"
#include "tests/support/command_runner.h"
#include "tests/support/hello_cube.h"
#include "tests/support/temp_dir.h"

namespace mlcube_test {
namespace {

using ::mlcube::testing::CommandResult;
using ::mlcube::testing::RunCommand;
using ::testing::HasSubstr;

struct JsonRecord {
  std::string line;
  YAML::Node node;
  std::string Field(const char* name) const {
    return node[name] ? node[name].as<std::string>() : std::string();
  }
};

class AgentLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(access(MLCUBE_EXAMPLES_DIR "/hello/build/busybox", X_OK), 0)
        << "run tools/prepare-examples.sh first";
    ASSERT_TRUE(::mlcube::testing::CopyHelloCube(dir_.path() + "/hello"));
    ASSERT_EQ(Shell("chmod 755 '" + dir_.path() + "'"), 0);
    AgentProcessOptions options;
    options.user = "mlcube";
    options.extra_args = {"--log-format=json"};
    agent_ = std::make_unique<AgentProcess>(options);
    ASSERT_TRUE(agent_->Start()) << agent_->Stderr();
    dir_.WriteFile("hosts.yaml", "default_host: local\nhosts:\n  local:\n    address: unix://" +
                                     agent_->socket_path() + "\n");
  }

  CommandResult Run(const std::string& task) {
    return RunCommand({MLCUBE_REMOTE_BINARY, "--hosts=" + dir_.path() + "/hosts.yaml", "run",
                       "--mlcube=" + dir_.path() + "/hello", "--task=" + task},
                      {"NO_COLOR=1", "HOME=" + dir_.path()}, 120);
  }

  // Every line of the agent's stderr, each parsed; a line that is not a
  // JSON object fails the test.
  std::vector<JsonRecord> Records() const {
    std::vector<JsonRecord> records;
    const std::vector<std::string> lines =
        absl::StrSplit(agent_->Stderr(), '\n', absl::SkipEmpty());
    for (const std::string& line : lines) {
      JsonRecord record{line, YAML::Node()};
      try {
        record.node = YAML::Load(line);
      } catch (const YAML::Exception& e) {
        ADD_FAILURE() << "not JSON: " << line << " (" << e.what() << ")";
        continue;
      }
      EXPECT_TRUE(record.node.IsMap() && record.node["time"] && record.node["level"] &&
                  record.node["msg"])
          << line;
      records.push_back(std::move(record));
    }
    return records;
  }

  ::mlcube::testing::TempDir dir_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(AgentLogTest, JsonRecordsNameTheRequestTheIdentityAndTheJob) {
  ASSERT_EQ(Run("greet").exit_code, 0) << agent_->Stderr();
  CommandResult failed = Run("fail");
  ASSERT_EQ(failed.exit_code, 7) << failed.err;

  const std::vector<JsonRecord> records = Records();
  const JsonRecord* finished = nullptr;
  for (const JsonRecord& r : records) {
    if (absl::StartsWith(r.Field("msg"), "FAILED (exit code 7) after ")) finished = &r;
  }
  ASSERT_NE(finished, nullptr) << agent_->Stderr();
  EXPECT_EQ(finished->Field("level"), "WARN");
  const std::string job = finished->Field("job_id");
  const std::string identity = finished->Field("identity");
  ASSERT_FALSE(job.empty()) << finished->line;
  ASSERT_FALSE(identity.empty()) << finished->line;

  // The job's story: queued (inside the submit call), its task, its end.
  std::vector<std::string> story;
  std::string submit_request;
  for (const JsonRecord& r : records) {
    if (r.Field("job_id") != job) continue;
    EXPECT_EQ(r.Field("identity"), identity) << r.line;
    story.push_back(r.Field("msg").substr(0, r.Field("msg").find(':')));
    if (absl::StartsWith(r.Field("msg"), "queued: cube ")) submit_request = r.Field("request_id");
  }
  ASSERT_GE(story.size(), 3u) << agent_->Stderr();
  EXPECT_EQ(story.front(), "queued");
  EXPECT_THAT(story, ::testing::Contains("running task fail"));
  ASSERT_FALSE(submit_request.empty()) << agent_->Stderr();

  // The submit call itself: one record, same request, same identity. Two
  // runs, two submits, two different request ids.
  int submits = 0;
  bool found = false;
  for (const JsonRecord& r : records) {
    if (!absl::StartsWith(r.Field("msg"), "SubmitJob: OK in ")) continue;
    ++submits;
    EXPECT_EQ(r.Field("identity"), identity) << r.line;
    if (r.Field("request_id") == submit_request) found = true;
  }
  EXPECT_EQ(submits, 2) << agent_->Stderr();
  EXPECT_TRUE(found) << "no SubmitJob record with request " << submit_request;
}

TEST_F(AgentLogTest, ARefusedCallIsOneRecordAndReadsThatSucceedAreNone) {
  CommandResult missing = RunCommand(
      {MLCUBE_REMOTE_BINARY, "--hosts=" + dir_.path() + "/hosts.yaml", "status", "0badcafe"},
      {"NO_COLOR=1", "HOME=" + dir_.path()}, 60);
  EXPECT_NE(missing.exit_code, 0);
  CommandResult hosts =
      RunCommand({MLCUBE_REMOTE_BINARY, "--hosts=" + dir_.path() + "/hosts.yaml", "hosts"},
                 {"NO_COLOR=1"}, 60);
  EXPECT_EQ(hosts.exit_code, 0) << hosts.err;

  int refusals = 0;
  for (const JsonRecord& r : Records()) {
    EXPECT_THAT(r.Field("msg"), ::testing::Not(HasSubstr("GetInfo"))) << r.line;
    if (absl::StartsWith(r.Field("msg"), "GetJob: NOT_FOUND in ")) {
      ++refusals;
      EXPECT_THAT(r.Field("msg"), HasSubstr("0badcafe"));
      EXPECT_EQ(r.Field("level"), "INFO");
      EXPECT_FALSE(r.Field("request_id").empty()) << r.line;
      EXPECT_FALSE(r.Field("identity").empty()) << r.line;
    }
  }
  EXPECT_EQ(refusals, 1) << agent_->Stderr();
}

TEST_F(AgentLogTest, TheAgentsRecordCarriesTheRequestIdTheCommandShows) {
  std::vector<std::string> shown;
  for (int i = 0; i < 2; ++i) {
    CommandResult status =
        RunCommand({MLCUBE_REMOTE_BINARY, "-v", "--hosts=" + dir_.path() + "/hosts.yaml", "status",
                    "0badcafe"},
                   {"NO_COLOR=1", "HOME=" + dir_.path()}, 60);
    EXPECT_NE(status.exit_code, 0);
    const size_t at = status.err.find(": request id ");
    ASSERT_NE(at, std::string::npos) << status.err;
    shown.push_back(status.err.substr(at + 13, 16));
    ASSERT_THAT(shown.back(), ::testing::MatchesRegex("[0-9a-f]{16}")) << status.err;
  }
  EXPECT_NE(shown[0], shown[1]) << "each command has an id of its own";
  std::vector<std::string> logged;
  for (const JsonRecord& r : Records()) {
    if (absl::StartsWith(r.Field("msg"), "GetJob: NOT_FOUND in ")) {
      logged.push_back(r.Field("request_id"));
    }
  }
  EXPECT_EQ(logged, shown) << agent_->Stderr();
}

TEST(AgentLogFlagTest, AnUnknownFormatStopsTheAgentWithOneLine) {
  ::mlcube::testing::TempDir dir;
  dir.WriteFile("agent.yaml", "");
  CommandResult result = RunCommand(
      {MLCUBE_AGENT_BIN, "serve", "--log-format=xml", "--config=" + dir.path() + "/agent.yaml",
       "--state-dir=" + dir.path(), "--listen=unix://" + dir.path() + "/agent.sock"},
      {}, 30);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err,
            "mlcube-agent: log format \"xml\" is not one of auto, text, json, journal\n");
}

}  // namespace
}  // namespace mlcube_test
