// A sweep over two hosts: two real agents, each in its own network
// namespace and reached over TCP with mutual TLS, one of them killed
// mid-sweep. Its running runs are reported LOST (not re-run), the runs not
// yet started finish on the other host, every run is in sweep.yaml with
// its host, and the outputs of different runs never meet.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "controller/sweeps/sweep_record.h"
#include "tests/integration/agent_process.h"
#include "tests/integration/hello_cube_fixture.h"
#include "tests/integration/ssh_test_network_namespace.h"
#include "tests/support/command_runner.h"
#include "tests/support/hello_cube.h"

namespace mlcube {
namespace {

// The job rows of `jobs` output (a line starting with an 8-character job id),
// not its header or the retention line of `jobs --all`.
int JobRows(const std::string& out) {
  int rows = 0;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    rows += line.size() > 9 && line[8] == ' ' &&
            line.substr(0, 8).find_first_not_of("0123456789abcdef") == absl::string_view::npos;
  }
  return rows;
}

using ::mlcube::testing::BackgroundCommand;
using ::mlcube::testing::CommandResult;
using ::mlcube::testing::ReadFileContent;
using ::mlcube::testing::RunCommand;
using ::mlcube_test::AgentProcess;
using ::mlcube_test::AgentProcessOptions;
using ::mlcube_test::Shell;
using ::mlcube_test::SshTestNetworkNamespace;
using ::testing::HasSubstr;

const std::string kAgent = MLCUBE_AGENT_BIN;
const std::vector<std::string> kNames = {"Ann", "Bob", "Cy", "Dee", "Eve", "Flo"};

class SweepHostsTest : public ::mlcube_test::HelloCubeTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "this test creates network namespaces: run it as root";
    HelloCubeTest::SetUp();
    if (HasFatalFailure()) return;
    dir_.WriteFile("hello/workspace/names.yaml", "name: World\n");
  }

  // gpu01 and gpu02: agents as the service user in namespaces hosts-PID-1
  // and -2, mutual TLS on port 7443, at most 2 running jobs per caller
  // (which their GetInfo reports, so each host takes 2 runs). A greeting
  // on gpu01 waits until the test opens its run's gate (so gpu01 has no
  // free place before the test says so); one on gpu02 takes 300 s (its
  // runs are still going when it is lost).
  void StartHosts() {
    ASSERT_TRUE(::mlcube::testing::AddGreetGates(dir_.path() + "/hello"));
    for (int i = 1; i <= 2; ++i) {
      hosts_.push_back(std::make_unique<SshTestNetworkNamespace>("hosts-", i));
      ASSERT_TRUE(hosts_.back()->Create());
    }
    certs_ = dir_.path() + "/certs";
    CommandResult init = RunCommand(
        {kAgent, "certs", "init", "--dir=" + certs_, "--host=" + hosts_[0]->inside_address(),
         "--host=" + hosts_[1]->inside_address(), "--client-name=alice"});
    ASSERT_EQ(init.exit_code, 0) << init.err;
    ASSERT_EQ(Shell("chown -R mlcube " + certs_ + " && chmod 755 " + dir_.path()), 0);
    dir_.WriteFile("agent.yaml", "tls: {ca: " + certs_ + "/ca.pem, cert: " + certs_ +
                                     "/server.pem, key: " + certs_ +
                                     "/server.key}\nlimits: {running_jobs: 2}\n"
                                     // the client certificate's tasks run as a uid of its own.
                                     "task_users: {pool: \"3300000-3300099\"}\n");
    for (int i = 0; i < 2; ++i) agents_.push_back(StartAgent(i, ""));
    ASSERT_TRUE(agents_[0] && agents_[1]);
    const std::string tls = "    tls: {ca: " + certs_ + "/ca.pem, cert: " + certs_ +
                            "/client.pem, key: " + certs_ + "/client.key}\n";
    std::string hosts = "default_host: gpu01\nhosts:\n";
    const std::vector<std::string> env = {"{GREET_DELAY: '0', GREET_GATE: /mlcube_io0/go}",
                                          "{GREET_DELAY: '300'}"};
    for (int i = 0; i < 2; ++i) {
      hosts += "  gpu0" + std::to_string(i + 1) + ":\n    address: " + hosts_[i]->inside_address() +
               ":7443\n    runtime: docker\n" + tls + "    env: " + env[i] + "\n";
    }
    dir_.WriteFile("hosts.yaml", hosts + "groups:\n  lab: [gpu01, gpu02]\n");
  }

  std::unique_ptr<AgentProcess> StartAgent(int index, const std::string& state_dir) {
    AgentProcessOptions options;
    options.user = "mlcube";
    options.netns = hosts_[index]->name();
    options.state_dir = state_dir;
    options.extra_args = {"--config=" + dir_.path() + "/agent.yaml",
                          "--listen=" + hosts_[index]->inside_address() + ":7443"};
    auto agent = std::make_unique<AgentProcess>(options);
    if (!agent->Start()) {
      ADD_FAILURE() << agent->Stderr();
      return nullptr;
    }
    return agent;
  }

  // Waits until sweep.yaml shows two runs running on gpu02.
  std::vector<std::string> CheckRunsAfterTheKill(const SweepRecord& record, const std::string& runs,
                                                 int64_t killed_ms);
  void CheckRunReferences(const std::string& sweep, const SweepRecord& record);
  void CheckTheLostHostComesBack(const std::string& sweep, const SweepRecord& record,
                                 const std::vector<std::string>& lost_jobs);

  std::string WaitForTwoRunningOnGpu02() {
    for (int i = 0; i < 1200; ++i) {
      std::string sweep;
      if (Shell("ls " + Workspace() + "/runs 2>/dev/null", &sweep) == 0 && !sweep.empty()) {
        sweep.erase(sweep.find_last_not_of('\n') + 1);
        absl::StatusOr<SweepRecord> record =
            SweepRecord::Load(Workspace() + "/runs/" + sweep + "/sweep.yaml");
        int running = 0;
        for (const RunRecord& run : record.ok() ? record->runs : std::vector<RunRecord>()) {
          running += run.host == "gpu02" && run.state == "RUNNING";
        }
        if (running == 2) return sweep;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "gpu02 never ran two runs";
    return "";
  }

  // Opens the gate of each run the sweep sends to gpu01 (the run's
  // directory in gpu01's workspace, mounted at /mlcube_io0), until four
  // have been opened; false when they were not within 4 minutes.
  bool ReleaseGpu01Runs(const std::string& sweep) {
    std::set<std::string> released;
    for (int i = 0; i < 2400 && released.size() < 4; ++i) {
      std::string workspace;
      Shell("ls -d " + agents_[0]->state_dir() + "/cubes/*/*/workspace 2>/dev/null | head -1",
            &workspace);
      workspace.erase(workspace.find_last_not_of('\n') + 1);
      absl::StatusOr<SweepRecord> record =
          SweepRecord::Load(Workspace() + "/runs/" + sweep + "/sweep.yaml");
      for (const RunRecord& run : record.ok() ? record->runs : std::vector<RunRecord>()) {
        const std::string dir = workspace + "/" + run.run_dir;
        if (run.host != "gpu01" || released.count(run.id) || workspace.empty() ||
            ::access(dir.c_str(), F_OK) != 0) {
          continue;
        }
        ::mlcube::testing::OpenGate(dir + "/go1");
        released.insert(run.id);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return released.size() == 4;
  }

  std::vector<std::unique_ptr<SshTestNetworkNamespace>> hosts_;
  std::vector<std::unique_ptr<AgentProcess>> agents_;
  std::string certs_;
};

// After the sweep whose gpu02 was killed at `killed_ms`: four runs succeeded
// on gpu01, each with only its own outputs under `runs`; two were lost with
// gpu02, and nothing was sent there after. Returns the lost runs' job ids.
std::vector<std::string> SweepHostsTest::CheckRunsAfterTheKill(const SweepRecord& record,
                                                               const std::string& runs,
                                                               int64_t killed_ms) {
  std::vector<std::string> lost_jobs;
  bool sent_after_kill = false;
  for (size_t i = 0; i < 6; ++i) {
    const RunRecord& run = record.runs[i];
    EXPECT_EQ(run.job_id.size(), 8u) << run.id;
    if (run.host == "gpu02") {
      EXPECT_EQ(run.state, "LOST") << run.id;
      EXPECT_THAT(run.reason, HasSubstr("host gpu02 unreachable")) << run.id;
      EXPECT_LT(run.submitted_unix_ms, killed_ms) << run.id;
      lost_jobs.push_back(run.job_id);
      continue;
    }
    EXPECT_EQ(run.host, "gpu01") << run.id;
    EXPECT_EQ(run.state, "SUCCEEDED") << run.id << " " << run.reason;
    sent_after_kill = sent_after_kill || run.submitted_unix_ms > killed_ms;
    const std::string dir = runs + "/" + run.id + "/greetings/";
    EXPECT_EQ(ReadFileContent(dir + "name__" + kNames[i] + ".txt"),
              "Hello, name: " + kNames[i] + "!\n");
    for (size_t j = 0; j < 6; ++j) {
      if (j == i) continue;
      EXPECT_NE(::access((dir + "name__" + kNames[j] + ".txt").c_str(), F_OK), 0);
    }
  }
  EXPECT_EQ(lost_jobs.size(), 2u);
  EXPECT_TRUE(sent_after_kill) << "no run went to gpu01 after gpu02 was killed";
  EXPECT_NE(::access((Workspace() + "/greetings").c_str(), F_OK), 0);
  return lost_jobs;
}

// `runs` shows each run's host; `logs` of a run on its host works, also
// named SWEEP/RUN (host and job from sweep.yaml); bad references are refused.
void SweepHostsTest::CheckRunReferences(const std::string& sweep, const SweepRecord& record) {
  CommandResult table = Cli({"runs", Cube(), sweep, "--host=gpu02", "--csv"});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(std::count(table.out.begin(), table.out.end(), '\n'), 3) << table.out;
  EXPECT_THAT(table.out, HasSubstr(",gpu02,"));
  const RunRecord& first = record.runs[0].host == "gpu01" ? record.runs[0] : record.runs[2];
  CommandResult logs = Cli({"logs", "--host=gpu01", first.job_id});
  EXPECT_THAT(logs.out, HasSubstr("Hello, name: " + kNames[first.index] + "!"));
  CommandResult by_run = Cli({"logs", "-f", sweep + "/" + first.id, Cube()});
  EXPECT_EQ(by_run.exit_code, 0) << by_run.err;
  EXPECT_EQ(by_run.out, logs.out);
  CommandResult no_run = Cli({"logs", sweep + "/r999", Cube()});
  EXPECT_EQ(no_run.exit_code, 2);
  EXPECT_THAT(no_run.err, HasSubstr("sweep " + sweep + " has no run 'r999'"));
  CommandResult wrong_host = Cli({"status", "--host=gpu02", sweep + "/" + first.id, Cube()});
  EXPECT_EQ(wrong_host.exit_code, 2);
  EXPECT_THAT(wrong_host.err,
              HasSubstr("--host=gpu02: run " + sweep + "/" + first.id + " ran on gpu01"));
}

// gpu02 comes back: it holds exactly the two lost jobs, nothing more, and
// `runs --refresh` asks it about them again.
void SweepHostsTest::CheckTheLostHostComesBack(const std::string& sweep, const SweepRecord& record,
                                               const std::vector<std::string>& lost_jobs) {
  std::unique_ptr<AgentProcess> back = StartAgent(1, agents_[1]->state_dir());
  ASSERT_TRUE(back);
  CommandResult jobs = Cli({"jobs", "--all", "--host=gpu02"});
  EXPECT_EQ(JobRows(jobs.out), 2) << jobs.out;
  for (const RunRecord& run : record.runs) {
    if (run.host != "gpu02") continue;
    CommandResult status = Cli({"status", sweep + "/" + run.id, Cube()});
    EXPECT_EQ(status.exit_code, 0) << status.err;
    EXPECT_THAT(status.out, HasSubstr("host: gpu02"));
    EXPECT_THAT(status.out, HasSubstr("job: " + run.job_id));
  }
  for (const std::string& job : lost_jobs) {
    EXPECT_THAT(jobs.out, HasSubstr(job));
    EXPECT_EQ(Cli({"cancel", "--host=gpu02", job}).exit_code, 0);
  }
  CommandResult refreshed = Cli({"runs", Cube(), sweep, "--refresh", "--state=cancelled"});
  EXPECT_EQ(refreshed.exit_code, 0) << refreshed.err;
  for (const std::string& job : lost_jobs) EXPECT_THAT(refreshed.out, HasSubstr(job));
}

TEST_F(SweepHostsTest, AKilledHostsRunsAreLostAndTheRestFinishOnTheOther) {
  ASSERT_NO_FATAL_FAILURE(StartHosts());
  CommandResult listing = Cli({"hosts"});
  EXPECT_EQ(listing.exit_code, 0) << listing.out << listing.err;
  EXPECT_THAT(listing.out, HasSubstr("group lab: gpu01, gpu02"));
  // One run goes to one host: a group is refused, naming its hosts.
  CommandResult single = Cli({"run", Cube(), "--task=greet", "--host=lab"});
  EXPECT_EQ(single.exit_code, 2);
  EXPECT_THAT(single.err, HasSubstr("--host=lab names 2 hosts (gpu01, gpu02): a single run"));

  std::string names;
  for (const std::string& name : kNames) names += (names.empty() ? "" : ",") + name;
  BackgroundCommand sweep_command(
      Argv({"run", Cube(), "--task=greet", "--host=gpu01,lab", "-P",
            "tasks.greet.parameters.inputs.name_file.default=names.yaml",
            "--sweep=name_file:name=" + names, "--parallel=4"}),
      {"NO_COLOR=1", "HOME=" + dir_.path()});
  const std::string sweep = WaitForTwoRunningOnGpu02();
  ASSERT_FALSE(sweep.empty());
  const int64_t killed_ms = NowUnixMs();
  agents_[1]->Kill(SIGKILL);
  EXPECT_TRUE(ReleaseGpu01Runs(sweep));
  CommandResult result = sweep_command.Wait(240);
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_THAT(result.err, HasSubstr("on gpu01 (2), gpu02 (2), 4 at a time"));
  EXPECT_THAT(result.err, HasSubstr("lost gpu02"));
  EXPECT_THAT(result.err, HasSubstr("4 of 6 runs succeeded"));
  EXPECT_THAT(result.err, HasSubstr("(LOST: host gpu02 unreachable)"));

  // All six are in the record: four succeeded on gpu01, each with its own
  // outputs; two were lost with gpu02, and nothing was sent there after.
  const std::string runs = Workspace() + "/runs/" + sweep;
  absl::StatusOr<SweepRecord> record = SweepRecord::Load(runs + "/sweep.yaml");
  ASSERT_TRUE(record.ok()) << record.status();
  ASSERT_EQ(record->runs.size(), 6u);
  const std::vector<std::string> lost_jobs = CheckRunsAfterTheKill(*record, runs, killed_ms);
  CheckRunReferences(sweep, *record);
  ASSERT_NO_FATAL_FAILURE(CheckTheLostHostComesBack(sweep, *record, lost_jobs));
}

// gpu02 drops off the network (its link goes down: no answer at all, not
// even a refusal): once it has been silent for the grace period its runs
// are LOST, the others finish on gpu01; back on the network it holds only
// the two runs it had.
TEST_F(SweepHostsTest, AHostCutOffTheNetworkLosesItsRunsAndTheOtherFinishes) {
  ASSERT_NO_FATAL_FAILURE(StartHosts());
  BackgroundCommand sweep_command(
      Argv({"run", Cube(), "--task=greet", "--host=lab", "-P",
            "tasks.greet.parameters.inputs.name_file.default=names.yaml",
            "--sweep=name_file:name=A,B,C,D,E,F", "--parallel=4"}),
      {"NO_COLOR=1", "HOME=" + dir_.path()});
  const std::string sweep = WaitForTwoRunningOnGpu02();
  ASSERT_FALSE(sweep.empty());
  const std::string link = "ip -n " + hosts_[1]->name() + " link set " + hosts_[1]->inside_veth();
  ASSERT_EQ(Shell(link + " down"), 0);
  EXPECT_TRUE(ReleaseGpu01Runs(sweep));
  CommandResult result = sweep_command.Wait(240);
  ASSERT_EQ(Shell(link + " up"), 0);
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_THAT(result.err, HasSubstr("lost gpu02"));
  EXPECT_THAT(result.err, HasSubstr("4 of 6 runs succeeded"));
  absl::StatusOr<SweepRecord> record =
      SweepRecord::Load(Workspace() + "/runs/" + sweep + "/sweep.yaml");
  ASSERT_TRUE(record.ok()) << record.status();
  std::map<std::string, int> states;
  for (const RunRecord& run : record->runs) ++states[run.host + " " + run.state];
  EXPECT_EQ(states["gpu01 SUCCEEDED"], 4);
  EXPECT_EQ(states["gpu02 LOST"], 2);
  for (int i = 0; i < 100 && Cli({"jobs", "--host=gpu02"}).exit_code != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CommandResult jobs = Cli({"jobs", "--all", "--host=gpu02"});
  EXPECT_EQ(JobRows(jobs.out), 2) << jobs.out << jobs.err;
}

}  // namespace
}  // namespace mlcube
