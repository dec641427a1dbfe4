// End-to-end tests of `scheduler: slurm`: mlcube-remote against a real agent
// (as the unprivileged `mlcube` user) that submits each task as a job to the
// real one-node Slurm cluster of tools/start-slurm.sh, where the task runs in
// the real unprivileged Apptainer.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "controller/sweeps/sweep_record.h"
#include "tests/integration/agent_process.h"
#include "tests/support/command_runner.h"
#include "tests/support/hello_cube.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using ::mlcube::testing::BackgroundCommand;
using ::mlcube::testing::CommandResult;
using ::mlcube::testing::CountOccurrences;
using ::mlcube::testing::ReadFileContent;
using ::mlcube::testing::RunCommand;
using ::mlcube::testing::TempDir;
using ::mlcube_test::AgentProcess;
using ::mlcube_test::AgentProcessOptions;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kBinary = MLCUBE_REMOTE_BINARY;
const std::string kExamples = MLCUBE_EXAMPLES_DIR;

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

class SlurmEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string state;
    ASSERT_EQ(mlcube_test::Shell("sinfo -h -o %t 2>&1", &state), 0)
        << "no Slurm here: run tools/start-slurm.sh (as root)";
    ASSERT_THAT(state, ::testing::AnyOf(HasSubstr("idle"), HasSubstr("mix"), HasSubstr("alloc")))
        << "the Slurm node is not up (" << state << "): run tools/start-slurm.sh";
    ASSERT_EQ(::access((kExamples + "/hello/build/busybox").c_str(), X_OK), 0)
        << "examples/hello/build/busybox is missing: run tools/prepare-examples.sh";
    ASSERT_TRUE(::mlcube::testing::CopyHelloCube(dir_.path() + "/hello"));
    // The one-node cluster's shared filesystem is this machine's /tmp.
    dir_.WriteFile("agent.yaml", "slurm: {shared_dir: /tmp}\n");
    ASSERT_EQ(mlcube_test::Shell("chmod 0755 " + dir_.path() + " && chmod 0644 " + dir_.path() +
                                 "/agent.yaml"),
              0);
    StartAgent("");
    WriteHosts("4", "");
  }

  void TearDown() override {
    // Slurm jobs a failing test left behind.
    if (agent_) {
      mlcube_test::Shell("cat " + agent_->state_dir() + "/jobs/*/step-*.slurm " +
                         agent_->state_dir() +
                         "/jobs/*/array.slurm 2>/dev/null | cut -d' ' -f1 | xargs -r scancel");
    }
  }

  void StartAgent(const std::string& state_dir) {
    AgentProcessOptions options;
    options.user = "mlcube";
    options.state_dir = state_dir;
    options.extra_args = {"--config=" + dir_.path() + "/agent.yaml"};
    // A killed agent's object owns the state dir the restarted one uses:
    // kept until the test ends.
    if (agent_) stopped_agents_.push_back(std::move(agent_));
    agent_ = std::make_unique<AgentProcess>(options);
    ASSERT_TRUE(agent_->Start()) << agent_->Stderr();
  }

  void WriteHosts(const std::string& count_seconds, const std::string& slurm) {
    dir_.WriteFile("hosts.yaml", "default_host: hpc\nhosts:\n  hpc:\n    address: unix://" +
                                     agent_->socket_path() +
                                     "\n    runtime: singularity\n    scheduler: slurm\n"
                                     "    slurm: {partition: debug, time: '5'" +
                                     slurm + "}\n    env: {GREET_DELAY: '0.05', COUNT_SECONDS: '" +
                                     count_seconds + "'}\n");
  }

  std::vector<std::string> Argv(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {kBinary, "--hosts=" + dir_.path() + "/hosts.yaml"};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  CommandResult Cli(const std::vector<std::string>& args, int timeout = 180) {
    return RunCommand(Argv(args), {"NO_COLOR=1", "HOME=" + dir_.path()}, timeout);
  }

  std::string Cube() const { return "--mlcube=" + dir_.path() + "/hello"; }

  std::string Detach(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"run", Cube(), "--task=count", "--detach"};
    args.insert(args.end(), extra.begin(), extra.end());
    CommandResult submitted = Cli(args);
    EXPECT_EQ(submitted.exit_code, 0) << submitted.err << "\nagent:\n" << agent_->Stderr();
    return submitted.out.substr(0, submitted.out.find('\n'));
  }

  // Polls `status JOB` until it contains `text` (or `seconds` pass).
  std::string WaitForStatus(const std::string& job, const std::string& text, int seconds) {
    std::string out;
    for (int i = 0; i < seconds * 5; ++i) {
      out = Cli({"status", job}).out;
      if (out.find(text) != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return out;
  }

  static std::string SlurmJobOf(const std::string& status) {
    const size_t at = status.find("slurm job: ");
    if (at == std::string::npos) return "";
    return status.substr(at + 11, status.find('\n', at) - at - 11);
  }

  // The node-local job directories on the nodes' /tmp (this machine's; the
  // Slurm tests run one at a time).
  static int NodeDirs() {
    std::string out;
    mlcube_test::Shell("ls -d /tmp/mlcube-job.* 2>/dev/null | wc -l", &out);
    return std::atoi(Trim(out).c_str());
  }

  // Waits until NodeDirs() is `count` (a cancelled job's shell removes its
  // directories as it exits, after Slurm says CANCELLED).
  static int WaitForNodeDirs(int count) {
    int now = NodeDirs();
    for (int i = 0; i < 100 && now != count; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      now = NodeDirs();
    }
    return now;
  }

  static std::string SlurmState(const std::string& slurm_id) {
    std::string out;
    mlcube_test::Shell("squeue --states=all -h -j " + slurm_id + " -o %T", &out);
    return Trim(out);
  }

  // The Slurm ids the agent recorded for its jobs' steps ("JOBID" or
  // "JOBID_INDEX"), one per step.
  std::vector<std::string> RecordedSlurmIds() {
    std::string out;
    mlcube_test::Shell("cat " + agent_->state_dir() + "/jobs/*/step-*.slurm 2>/dev/null", &out);
    std::vector<std::string> ids;
    for (size_t at = 0; at < out.size();) {
      const size_t end = out.find('\n', at);
      const std::string line = out.substr(at, end - at);
      if (!line.empty()) ids.push_back(line.substr(0, line.find(' ')));
      if (end == std::string::npos) break;
      at = end + 1;
    }
    return ids;
  }

  // The one sweep's record under the workspace.
  SweepRecord OnlySweepRecord() {
    std::string sweep;
    EXPECT_EQ(mlcube_test::Shell("ls " + dir_.path() + "/hello/workspace/runs", &sweep), 0);
    sweep = Trim(sweep);
    absl::StatusOr<SweepRecord> record =
        SweepRecord::Load(dir_.path() + "/hello/workspace/runs/" + sweep + "/sweep.yaml");
    EXPECT_TRUE(record.ok()) << record.status();
    return record.ok() ? *record : SweepRecord();
  }

  TempDir dir_;
  std::vector<std::unique_ptr<AgentProcess>> stopped_agents_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(SlurmEndToEndTest, RunStreamsOutputAndBringsOutputsBack) {
  CommandResult result = Cli({"run", Cube(), "--task=greet"}, 240);
  ASSERT_EQ(result.exit_code, 0) << result.err << "\nagent:\n" << agent_->Stderr();
  EXPECT_THAT(result.out, HasSubstr("Hello, Charlie!"));
  EXPECT_EQ(ReadFileContent(dir_.path() + "/hello/workspace/greetings/Bob.txt"), "Hello, Bob!\n");
  CommandResult jobs = Cli({"jobs", "--all"});
  EXPECT_THAT(jobs.out, HasSubstr("slurm "));
  // The task really ran as a Slurm job that completed.
  std::string listed;
  mlcube_test::Shell("cat " + agent_->state_dir() + "/jobs/*/step-*.slurm | tail -n 1", &listed);
  const std::string slurm_id = listed.substr(0, listed.find(' '));
  ASSERT_FALSE(slurm_id.empty());
  EXPECT_EQ(SlurmState(slurm_id), "COMPLETED");
}

TEST_F(SlurmEndToEndTest, ImageBuildCanRunAsItsOwnSlurmJob) {
  CommandResult result = Cli({"run", Cube(), "--task=greet", "-P", "slurm.configure=job"}, 240);
  ASSERT_EQ(result.exit_code, 0) << result.err << "\nagent:\n" << agent_->Stderr();
  EXPECT_THAT(result.out, HasSubstr("Hello, Charlie!"));
  // Two Slurm jobs: the build, then the task.
  EXPECT_EQ(CountOccurrences(result.err, "mlcube-agent: Slurm job "), 2) << result.err;
  EXPECT_THAT(result.err, HasSubstr("Build complete"));
}

TEST_F(SlurmEndToEndTest, ExitCodeIsPassedThrough) {
  CommandResult failed = Cli({"run", Cube(), "--task=fail"}, 240);
  EXPECT_EQ(failed.exit_code, 7) << failed.err << "\nagent:\n" << agent_->Stderr();
  EXPECT_THAT(failed.err, HasSubstr("fail: this task fails on purpose"));
}

TEST_F(SlurmEndToEndTest, StatusShowsTheSlurmJobAndCancelEndsIt) {
  WriteHosts("300", "");
  const int node_dirs = NodeDirs();
  const std::string job = Detach();
  const std::string status = WaitForStatus(job, "state: RUNNING", 60);
  EXPECT_THAT(status, HasSubstr("state: RUNNING"));
  const std::string slurm_id = SlurmJobOf(WaitForStatus(job, "slurm job: ", 60));
  ASSERT_FALSE(slurm_id.empty()) << status;
  for (int i = 0; i < 100 && SlurmState(slurm_id) != "RUNNING"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_EQ(SlurmState(slurm_id), "RUNNING");
  CommandResult cancel = Cli({"cancel", job});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.err;
  EXPECT_THAT(WaitForStatus(job, "state: CANCELLED", 30), HasSubstr("state: CANCELLED"));
  EXPECT_EQ(SlurmState(slurm_id), "CANCELLED");
  EXPECT_EQ(WaitForNodeDirs(node_dirs), node_dirs) << "the cancelled job left its /tmp directory";
}

TEST_F(SlurmEndToEndTest, OverItsTimeLimitIsReportedAsTimeout) {
  WriteHosts("600", "");
  CommandResult result = Cli({"run", Cube(), "--task=count", "-P", "slurm.time=1"}, 240);
  // The task ended by the time limit's SIGTERM: 143, as a shell reports it
  // (squeue says 36608, the raw wait status).
  EXPECT_EQ(result.exit_code, 143) << result.err << "\nagent:\n" << agent_->Stderr();
  EXPECT_THAT(result.err, HasSubstr("TIMEOUT")) << result.err << "\nagent:\n" << agent_->Stderr();
  EXPECT_THAT(result.out, HasSubstr("tick 30"));
}

TEST_F(SlurmEndToEndTest, PendingJobShowsItsReasonThenRuns) {
  // A job of the same user holds the whole node until the test releases it
  // (its time limit, 2 minutes, bounds a test that fails first).
  const std::string release = dir_.path() + "/release-blocker";
  std::string blocker;
  ASSERT_EQ(mlcube_test::Shell("cd /tmp && runuser -u mlcube -- sbatch --parsable --exclusive "
                               "--time=2 -o /dev/null --wrap 'until [ -e " +
                                   release + " ]; do sleep 0.2; done'",
                               &blocker),
            0)
      << blocker;
  blocker = Trim(blocker);
  for (int i = 0; i < 50 && SlurmState(blocker) != "RUNNING"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_EQ(SlurmState(blocker), "RUNNING");
  WriteHosts("2", ", extra_args: --exclusive");
  const std::string job = Detach();
  const std::string status = WaitForStatus(job, "pending: ", 60);
  EXPECT_THAT(status,
              ::testing::AnyOf(HasSubstr("pending: Resources"), HasSubstr("pending: Priority")))
      << status;
  EXPECT_THAT(Cli({"jobs"}).out, HasSubstr("pending ("));
  dir_.WriteFile("release-blocker", "");
  CommandResult logs = Cli({"logs", "-f", job}, 120);
  EXPECT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_EQ(CountOccurrences(logs.out, "tick 2\n"), 1) << logs.out;
  EXPECT_THAT(logs.err, HasSubstr("is pending ("));
  EXPECT_THAT(Cli({"status", job}).out, ::testing::Not(HasSubstr("pending: ")));
}

TEST_F(SlurmEndToEndTest, RequeuedJobIsFollowedToItsEnd) {
  WriteHosts("5", "");
  const std::string job = Detach();
  std::string logs;
  for (int i = 0; i < 300 && logs.find("tick 2") == std::string::npos; ++i) {
    logs = Cli({"logs", job}).out;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_THAT(logs, HasSubstr("tick 2"));
  const std::string slurm_id = SlurmJobOf(Cli({"status", job}).out);
  ASSERT_FALSE(slurm_id.empty());
  // As preemption with requeue would: the job goes back to the queue
  // (BeginTime two minutes on; moved to now to keep the test short).
  ASSERT_EQ(mlcube_test::Shell("scontrol requeue " + slurm_id), 0);
  EXPECT_THAT(WaitForStatus(job, "pending: BeginTime", 30), HasSubstr("pending: BeginTime"));
  EXPECT_THAT(Cli({"status", job}).out, HasSubstr("state: RUNNING"));
  ASSERT_EQ(mlcube_test::Shell("scontrol update JobId=" + slurm_id + " StartTime=now"), 0);
  CommandResult followed = Cli({"logs", "-f", job}, 120);
  EXPECT_EQ(followed.exit_code, 0) << followed.err << "\nagent:\n" << agent_->Stderr();
  EXPECT_THAT(followed.err, HasSubstr("DUE TO JOB REQUEUE"));
  // The second run printed every tick again, after the first run's.
  EXPECT_EQ(CountOccurrences(followed.out, "tick 1\n"), 2) << followed.out;
  EXPECT_EQ(CountOccurrences(followed.out, "tick 5\n"), 1) << followed.out;
  EXPECT_THAT(Cli({"status", job}).out, HasSubstr("state: SUCCEEDED"));
}

TEST_F(SlurmEndToEndTest, AgentKilledMidJobResumesWithEveryLineOnce) {
  WriteHosts("8", "");
  const std::string job = Detach();
  BackgroundCommand logs(Argv({"logs", "-f", job}), {"NO_COLOR=1", "HOME=" + dir_.path()});
  for (int i = 0; i < 600 && logs.OutputSoFar().find("tick 2") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_THAT(logs.OutputSoFar(), HasSubstr("tick 2"));
  const std::string state_dir = agent_->state_dir();
  agent_->Kill(SIGKILL);
  std::this_thread::sleep_for(std::chrono::seconds(3));  // the task goes on without the agent
  StartAgent(state_dir);
  CommandResult result = logs.Wait(120);
  EXPECT_EQ(result.exit_code, 0) << result.err << "\nagent:\n" << agent_->Stderr();
  for (int i = 1; i <= 8; ++i) {
    EXPECT_EQ(CountOccurrences(result.out, "tick " + std::to_string(i) + "\n"), 1)
        << "tick " << i << " in:\n"
        << result.out;
  }
}

TEST_F(SlurmEndToEndTest, ScratchStorageIsKeptAndTmpAndHomeAreWritable) {
  // A task that writes where seed users' jobs write: results to
  // /scratch_storage, temporary files to /tmp, caches to ~/.cache.
  ASSERT_EQ(mlcube_test::Shell(
                "cd " + dir_.path() +
                "/hello && sed -i 's|^  \\*)$|  convenience) "
                "echo result > /scratch_storage/result.txt \\&\\& echo t > /tmp/t \\&\\& "
                "mkdir -p \"$HOME/.cache\" \\&\\& echo c > \"$HOME/.cache/c\" \\&\\& "
                "echo wrote all three ;;\\n  *)|' build/hello.sh && printf '  convenience:\\n"
                "    parameters: {inputs: {}, outputs: {}}\\n' >> mlcube.yaml"),
            0);
  CommandResult run = Cli({"run", Cube(), "--task=convenience"}, 240);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err << "\nagent:\n" << agent_->Stderr();
  EXPECT_THAT(run.out, HasSubstr("wrote all three"));
  EXPECT_THAT(run.err, HasSubstr("/scratch_storage is "));
  std::string jobs = Cli({"jobs", "--all"}).out;
  const std::string job = jobs.substr(jobs.find('\n') + 1, 8);
  const std::string status = Cli({"status", job}).out;
  const size_t at = status.find("scratch: ");
  ASSERT_NE(at, std::string::npos) << status;
  const std::string scratch = status.substr(at + 9, status.find('\n', at) - at - 9);
  EXPECT_EQ(ReadFileContent(scratch + "/result.txt"), "result\n");
  // Off per run: the task cannot write to /scratch_storage then.
  CommandResult off = Cli({"run", Cube(), "--task=convenience", "-P", "slurm.scratch=false"}, 240);
  EXPECT_NE(off.exit_code, 0) << off.out;
}

TEST_F(SlurmEndToEndTest, StagedDataIsOnTheNodeAtData) {
  // Data on the shared filesystem (here /tmp, the agent's slurm.shared_dir).
  ASSERT_EQ(mlcube_test::Shell("mkdir -p " + dir_.path() + "/project/data/dataset1 && echo 42 > " +
                               dir_.path() + "/project/data/dataset1/answer.txt && chmod -R a+rX " +
                               dir_.path() + "/project"),
            0);
  ASSERT_EQ(mlcube_test::Shell("cd " + dir_.path() +
                               "/hello && sed -i 's|^  \\*)$|  staged) "
                               "cat /data/answer.txt /inputs/answer.txt ;;\\n  *)|' "
                               "build/hello.sh && printf '  staged:\\n    parameters: {inputs: "
                               "{}, outputs: {}}\\n' >> mlcube.yaml"),
            0);
  const std::string data = dir_.path() + "/project/data/dataset1";
  CommandResult run =
      Cli({"run", Cube(), "--task=staged", "--stage=" + data, "--stage=" + data + ":/inputs"}, 240);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err << "\nagent:\n" << agent_->Stderr();
  EXPECT_EQ(CountOccurrences(run.out, "42\n"), 2) << run.out;
  EXPECT_THAT(run.err, HasSubstr("mlcube-agent: staged " + data + " to "));
  // Refused: outside what the agent stages from, a local host, a bad DEST.
  CommandResult outside = Cli({"run", Cube(), "--task=staged", "--stage=/etc"});
  EXPECT_NE(outside.exit_code, 0);
  EXPECT_THAT(outside.err, HasSubstr("outside the directories this agent stages from"));
  CommandResult dest = Cli({"run", Cube(), "--task=staged", "--stage=" + data + ":/proc/x"});
  EXPECT_EQ(dest.exit_code, 2);
  EXPECT_THAT(dest.err, HasSubstr("DEST may not be under /proc"));
}

TEST_F(SlurmEndToEndTest, BadSlurmSettingsAreRefusedNamingTheKey) {
  CommandResult typo = Cli({"run", Cube(), "--task=greet", "-P", "slurm.tme=5"});
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_THAT(typo.err, HasSubstr("slurm.tme: unknown key (expected partition"));
  WriteHosts("4", ", cpus: 4");
  CommandResult hosts = Cli({"run", Cube(), "--task=greet"});
  EXPECT_EQ(hosts.exit_code, 2);
  EXPECT_THAT(hosts.err, HasSubstr("hosts.yaml: hosts.hpc.slurm.cpus: unknown key"));
  WriteHosts("4", "");
  CommandResult partition = Cli({"run", Cube(), "--task=greet", "-P", "slurm.partition=nope"}, 240);
  EXPECT_NE(partition.exit_code, 0);
  EXPECT_THAT(partition.err, HasSubstr("invalid partition specified: nope"));
}

// Through Slurm the task's binds reach Apptainer the same way: an output
// path with a bind-list separator is refused at submit and nothing is
// submitted, so the directory it names stays untouched.
TEST_F(SlurmEndToEndTest, AnOutputPathWithABindListSeparatorIsRefused) {
  const std::string outside = dir_.path() + "/outside";
  dir_.WriteFile("outside/mine.txt", "keep\n");
  ASSERT_EQ(::mlcube_test::Shell("chmod 777 '" + outside + "'"), 0);  // the task could write here
  CommandResult run = Cli({"run", Cube(), "--task=greet", "-P",
                           "tasks.greet.parameters.outputs.output_dir.default=.," + outside + "/"});
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_THAT(run.err, HasSubstr("tasks.greet.parameters.outputs.output_dir: "));
  std::string listing;
  ::mlcube_test::Shell("ls -A '" + outside + "'", &listing);
  EXPECT_EQ(listing, "mine.txt\n");
}

// A sweep of 20 runs on a Slurm host is one job array: one sbatch, one
// Slurm job id shared by every run (each its own element), every run
// succeeding with its own outputs, and --parallel as the array's %P.
TEST_F(SlurmEndToEndTest, SweepOfTwentyRunsIsOneJobArray) {
  dir_.WriteFile("hello/workspace/names.yaml", "name: World\n");
  std::string values;
  for (int i = 0; i < 20; ++i) values += (i ? "," : "") + std::string("n") + std::to_string(i);
  CommandResult result = Cli({"run", Cube(), "--task=greet", "-P",
                              "tasks.greet.parameters.inputs.name_file.default=names.yaml",
                              "--sweep=name_file:name=" + values, "--parallel=1"},
                             300);
  ASSERT_EQ(result.exit_code, 0) << result.err << "\nagent:\n" << agent_->Stderr();
  EXPECT_THAT(result.err, HasSubstr("all 20 runs succeeded"));

  // One array: every run's step ran as JOBID_INDEX of the same JOBID.
  std::vector<std::string> ids = RecordedSlurmIds();
  ASSERT_EQ(ids.size(), 20u) << ::testing::PrintToString(ids);
  const std::string array = ids[0].substr(0, ids[0].find('_'));
  std::set<std::string> elements(ids.begin(), ids.end());
  EXPECT_EQ(elements.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(elements.count(array + "_" + std::to_string(i)), 1u) << array << "_" << i;
  }
  std::string arrays;
  mlcube_test::Shell("ls " + agent_->state_dir() + "/jobs/*/array.sh | wc -l", &arrays);
  EXPECT_EQ(Trim(arrays), "1");
  // The missing image was built once, by the first run; the others waited.
  std::string configures;
  mlcube_test::Shell("cat " + agent_->state_dir() + "/jobs/*/plan | grep -c configure",
                     &configures);
  EXPECT_EQ(Trim(configures), "1");
  // Slurm agrees: 20 elements of one job, all completed, never two at once.
  std::string listed;
  ASSERT_EQ(mlcube_test::Shell("squeue --states=all -h -r -j " + array + " -o '%i %T %S %e' | sort",
                               &listed),
            0);
  std::vector<std::pair<std::string, std::string>> spans;
  int completed = 0;
  std::istringstream lines(listed);
  for (std::string id, state, start, end; lines >> id >> state >> start >> end;) {
    EXPECT_EQ(id.substr(0, id.find('_')), array);
    completed += state == "COMPLETED";
    spans.emplace_back(start, end);
  }
  EXPECT_EQ(completed, 20) << listed;
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i) {
    // ISO times sort as strings: each element started once the one before ended.
    EXPECT_GE(spans[i].first, spans[i - 1].second) << listed;
  }
  std::string script;
  mlcube_test::Shell("cat " + agent_->state_dir() + "/jobs/*/array.sh", &script);
  EXPECT_THAT(script, HasSubstr("19) cd "));

  // Each run its own outputs, none overwritten by another.
  SweepRecord record = OnlySweepRecord();
  ASSERT_EQ(record.runs.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    const RunRecord& run = record.runs[i];
    EXPECT_EQ(run.state, "SUCCEEDED") << run.id << ": " << run.reason;
    const std::string dir = dir_.path() + "/hello/workspace/" + run.run_dir;
    const std::string name = "n" + std::to_string(i);
    EXPECT_EQ(ReadFileContent(dir + "/greetings/name__" + name + ".txt"),
              "Hello, name: " + name + "!\n");
    std::string files;
    mlcube_test::Shell("ls " + dir + "/greetings", &files);
    EXPECT_EQ(Trim(files), "name__" + name + ".txt\nsummary.txt") << run.id;
  }
  CommandResult status = Cli({"status", record.runs[7].job_id});
  EXPECT_THAT(status.out, HasSubstr("slurm job: " + array + "_7"));
  EXPECT_THAT(Cli({"logs", record.runs[7].job_id}).out, HasSubstr("Hello, name: n7!"));
}

// Cancelling one run of an array cancels its element only. The runs count
// for 300 s, so every one still running at the end was left running by the
// cancel, not by luck (the test cancels them).
TEST_F(SlurmEndToEndTest, CancellingOneArrayRunLeavesTheOthers) {
  WriteHosts("300", "");
  CommandResult configured = Cli({"configure", Cube()}, 240);
  ASSERT_EQ(configured.exit_code, 0) << configured.err << "\nagent:\n" << agent_->Stderr();
  CommandResult detached =
      Cli({"run", Cube(), "--task=count", "--repeat=3", "--parallel=2", "--detach"});
  ASSERT_EQ(detached.exit_code, 0) << detached.err << "\nagent:\n" << agent_->Stderr();
  SweepRecord record = OnlySweepRecord();
  ASSERT_EQ(record.runs.size(), 3u);
  std::string first, second, third;
  for (int i = 0; i < 300 && (SlurmJobOf(first).empty() || SlurmJobOf(third).empty()); ++i) {
    first = Cli({"status", record.runs[0].job_id}).out;
    third = Cli({"status", record.runs[2].job_id}).out;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const std::string first_id = SlurmJobOf(first);
  ASSERT_FALSE(first_id.empty()) << first << "\nagent:\n" << agent_->Stderr();
  const std::string array = first_id.substr(0, first_id.find('_'));
  EXPECT_EQ(SlurmJobOf(third), array + "_2");
  for (int i = 0; i < 100 && SlurmState(array + "_0") != "RUNNING"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_EQ(SlurmState(array + "_0"), "RUNNING");
  // %2: the third waits for one of the first two.
  EXPECT_EQ(SlurmState(array + "_2"), "PENDING");
  CommandResult cancel = Cli({"cancel", record.runs[0].job_id});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.err;
  EXPECT_THAT(Cli({"status", record.runs[0].job_id}).out, HasSubstr("CANCELLED"));
  EXPECT_EQ(SlurmState(array + "_0"), "CANCELLED");
  // The freed slot goes to the third; the second runs on.
  for (int i = 0; i < 100 && SlurmState(array + "_2") != "RUNNING"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(SlurmState(array + "_2"), "RUNNING");
  EXPECT_EQ(SlurmState(array + "_1"), "RUNNING");
  EXPECT_THAT(Cli({"status", record.runs[1].job_id}).out, HasSubstr("RUNNING"));
  for (int i : {1, 2}) Cli({"cancel", record.runs[i].job_id});
}

// The agent killed while an array's elements run (one still pending): the
// restarted agent follows every run to its end, each line of each log once,
// under the same element ids, and submits no second array.
TEST_F(SlurmEndToEndTest, AgentKilledMidArrayFollowsEveryRunToItsEnd) {
  WriteHosts("6", "");
  CommandResult detached =
      Cli({"run", Cube(), "--task=count", "--repeat=3", "--parallel=2", "--detach"}, 240);
  ASSERT_EQ(detached.exit_code, 0) << detached.err << "\nagent:\n" << agent_->Stderr();
  SweepRecord record = OnlySweepRecord();
  ASSERT_EQ(record.runs.size(), 3u);
  std::vector<std::string> before;
  for (int i = 0; i < 600 && before.size() < 3; ++i) {
    before = RecordedSlurmIds();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(before.size(), 3u) << agent_->Stderr();
  std::sort(before.begin(), before.end());
  const std::string array = before[0].substr(0, before[0].find('_'));
  for (int i = 0; i < 100 && SlurmState(array + "_0") != "RUNNING"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const std::string state_dir = agent_->state_dir();
  // Ticks the elements wrote to their steps' output files so far.
  auto ticks = [&state_dir] {
    std::string out;
    mlcube_test::Shell("cat " + state_dir + "/jobs/*/step-*.out 2>/dev/null", &out);
    return CountOccurrences(out, "tick ");
  };
  agent_->Kill(SIGKILL);
  // The elements go on without it (the third has not even started).
  const int at_kill = ticks();
  for (int i = 0; i < 600 && ticks() <= at_kill; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GT(ticks(), at_kill) << "no element printed while the agent was down";
  StartAgent(state_dir);
  for (const RunRecord& run : record.runs) {
    CommandResult logs = Cli({"logs", "-f", run.job_id}, 120);
    EXPECT_EQ(logs.exit_code, 0) << run.id << ": " << logs.err << "\nagent:\n" << agent_->Stderr();
    for (int tick = 1; tick <= 6; ++tick) {
      EXPECT_EQ(CountOccurrences(logs.out, "tick " + std::to_string(tick) + "\n"), 1)
          << run.id << " tick " << tick << " in:\n"
          << logs.out;
    }
    EXPECT_THAT(Cli({"status", run.job_id}).out, HasSubstr("SUCCEEDED"));
  }
  std::vector<std::string> after = RecordedSlurmIds();
  std::sort(after.begin(), after.end());
  EXPECT_EQ(after, before);
  std::string arrays;
  mlcube_test::Shell("ls " + state_dir + "/jobs/*/array.sh | wc -l", &arrays);
  EXPECT_EQ(Trim(arrays), "1");
}

// A sweep with one bad run is refused before anything is queued: no job on
// the agent, no Slurm job, the error naming the run and the key.
// Re-running a sweep's failed runs waits for the sweep: refused while a run
// is unfinished (the record would be written by two commands at once), and
// when no run failed.
TEST_F(SlurmEndToEndTest, RerunOfFailedRunsIsRefusedWhileRunsAreUnfinished) {
  WriteHosts("300", "");
  CommandResult detached = Cli({"run", Cube(), "--task=count", "--repeat=2", "--detach"});
  ASSERT_EQ(detached.exit_code, 0) << detached.err;
  const SweepRecord record = OnlySweepRecord();
  CommandResult refused = Cli({"runs", Cube(), record.id, "--rerun-failed"});
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("sweep " + record.id + " has 2 unfinished runs"));
  for (const RunRecord& run : record.runs) Cli({"cancel", run.job_id});
  for (const RunRecord& run : record.runs) {
    EXPECT_THAT(WaitForStatus(run.job_id, "state: CANCELLED", 60), HasSubstr("CANCELLED"));
  }
}

TEST_F(SlurmEndToEndTest, SweepWithOneBadRunQueuesNothing) {
  std::string before;
  mlcube_test::Shell("squeue --states=all -h -o %i | wc -l", &before);
  CommandResult refused =
      Cli({"run", Cube(), "--task=greet", "--sweep=-P:docker.image=mlcube/hello:0.1,bad image!"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.err, HasSubstr("runs[1]: "));
  EXPECT_THAT(refused.err, HasSubstr("docker.image"));
  EXPECT_THAT(refused.err, HasSubstr("no run was queued"));
  EXPECT_THAT(Cli({"jobs", "--all"}).out, Not(HasSubstr("hello")));
  std::string jobs;
  mlcube_test::Shell("ls " + agent_->state_dir() + "/jobs 2>/dev/null | wc -l", &jobs);
  EXPECT_EQ(Trim(jobs), "0");
  std::string after;
  mlcube_test::Shell("squeue --states=all -h -o %i | wc -l", &after);
  EXPECT_EQ(after, before);
}

// A task of several ranks on the two-node partition `multi` of
// tools/start-slurm.sh (nodes n1 and n2, each in its own network namespace):
// the hello cube's `ranks` task prints its rank variables and meets the other
// ranks over TCP at MASTER_ADDR:MASTER_PORT.
class SlurmRanksTest : public SlurmEndToEndTest {
 protected:
  void SetUp() override {
    SlurmEndToEndTest::SetUp();
    // The partition is this suite's own: a job left by a test that was killed
    // before its TearDown (a ctest timeout) would hold both nodes.
    mlcube_test::Shell("scancel -p multi 2>/dev/null");
    std::string state;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    do {
      mlcube_test::Shell("sinfo -h -p multi -N -o %t 2>&1", &state);
      if (CountOccurrences(state, "idle") == 2) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    } while (std::chrono::steady_clock::now() < deadline);
    FAIL() << "the two nodes of partition multi are not idle (" << state
           << "): run tools/start-slurm.sh (as root)";
  }

  // What there is to know about `job` when a test of it fails.
  std::string Diagnosis(const std::string& job) {
    std::string slurm;
    mlcube_test::Shell("squeue -p multi 2>&1; sinfo -p multi -N 2>&1", &slurm);
    return absl::StrCat("\nstatus:\n", Cli({"status", job}).out, "logs:\n", Cli({"logs", job}).out,
                        "slurm:\n", slurm, "agent:\n", agent_->Stderr());
  }

  void WriteRankHosts(const std::string& env) {
    dir_.WriteFile("hosts.yaml", "default_host: hpc\nhosts:\n  hpc:\n    address: unix://" +
                                     agent_->socket_path() +
                                     "\n    runtime: singularity\n    scheduler: slurm\n"
                                     "    slurm: {partition: multi, time: '5', nodes: 2, "
                                     "ntasks_per_node: 2}\n    env: {" +
                                     env + "}\n");
  }

  std::vector<std::string> RanksRun(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"run", Cube(), "--task=ranks"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  std::string DetachRanks() {
    CommandResult submitted = Cli(RanksRun({"--detach"}));
    EXPECT_EQ(submitted.exit_code, 0) << submitted.err << "\nagent:\n" << agent_->Stderr();
    return submitted.out.substr(0, submitted.out.find('\n'));
  }

  // How many processes of Slurm job `slurm_id` are left (every rank, its
  // wrapper and its container's processes carry SLURM_JOB_ID).
  static int ProcessesOf(const std::string& slurm_id) {
    std::string count;
    mlcube_test::Shell(
        "for e in /proc/[0-9]*/environ; do { tr '\\0' '\\n' <\"$e\"; } 2>/dev/null | "
        "grep -qx 'SLURM_JOB_ID=" +
            slurm_id + "' && echo \"$e\"; done | wc -l",
        &count);
    return std::atoi(Trim(count).c_str());
  }

  // Waits until `logs JOB` shows `text`.
  std::string WaitForLog(const std::string& job, const std::string& text, int seconds) {
    std::string out;
    for (int i = 0; i < seconds * 5; ++i) {
      out = Cli({"logs", job}).out;
      if (out.find(text) != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return out;
  }
};

TEST_F(SlurmRanksTest, FourRanksOnTwoNodesMeetOverTcpAndEveryRanksOutputComesBack) {
  WriteRankHosts("");
  CommandResult result = Cli(RanksRun(), 240);
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err << "\nagent:\n" << agent_->Stderr();
  EXPECT_THAT(result.err, HasSubstr("4 ranks on 2 node(s) (n[1-2]), MASTER_ADDR=n1"));
  const size_t at = result.out.find("MASTER_PORT=");
  ASSERT_NE(at, std::string::npos) << result.out;
  const std::string port = result.out.substr(at + 12, result.out.find(' ', at) - at - 12);
  for (int rank = 0; rank < 4; ++rank) {
    const std::string node = rank < 2 ? "n1" : "n2";
    EXPECT_THAT(result.out,
                HasSubstr(absl::StrCat("[rank ", rank, "] RANK=", rank, " LOCAL_RANK=", rank % 2,
                                       " WORLD_SIZE=4 LOCAL_WORLD_SIZE=2 NODE_RANK=", rank / 2,
                                       " MASTER_ADDR=n1 MASTER_PORT=", port, " host=", node,
                                       " SLURM_PROCID=", rank, "\n")))
        << result.out;
    if (rank > 0) {
      // Rank 0 heard every other rank over TCP, and each heard rank 0 back.
      EXPECT_THAT(result.out,
                  HasSubstr(absl::StrCat("[rank 0] met rank ", rank, " on ", node, "\n")));
      EXPECT_THAT(result.out,
                  HasSubstr(absl::StrCat("[rank ", rank, "] met welcome from rank 0 on n1\n")));
    }
    EXPECT_EQ(
        ReadFileContent(absl::StrCat(dir_.path(), "/hello/workspace/ranks/rank-", rank, ".txt")),
        absl::StrCat("rank ", rank, " ran on ", node, "\n"));
  }
}

TEST_F(SlurmRanksTest, RanksOptionShowsOnlyThoseRanksLines) {
  WriteRankHosts("RANK_SECONDS: '2'");
  const std::string job = DetachRanks();
  ASSERT_FALSE(job.empty());
  CommandResult some = Cli({"logs", "-f", "--ranks=0,3", job}, 150);
  ASSERT_EQ(some.exit_code, 0) << some.err << Diagnosis(job);
  EXPECT_EQ(CountOccurrences(some.out, "[rank 0] tick "), 2) << some.out;
  EXPECT_EQ(CountOccurrences(some.out, "[rank 3] tick "), 2) << some.out;
  EXPECT_THAT(some.out, Not(HasSubstr("[rank 1]")));
  EXPECT_THAT(some.out, Not(HasSubstr("[rank 2]")));
  EXPECT_THAT(some.err, HasSubstr("4 ranks on 2 node(s)"));  // the agent's own lines pass
  CommandResult all = Cli({"logs", job});
  EXPECT_EQ(CountOccurrences(all.out, " tick "), 8) << all.out;
  EXPECT_NE(Cli({"logs", "--ranks=3-1", job}).exit_code, 0);
}

TEST_F(SlurmRanksTest, AFailingRankFailsTheJobWithItsCodeAndEndsTheOthers) {
  // Without the failure every rank would tick for 300 s.
  WriteRankHosts("FAIL_RANK: '3', RANK_SECONDS: '300'");
  const auto started = std::chrono::steady_clock::now();
  CommandResult result = Cli(RanksRun({"--no-pull"}), 200);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(150));
  EXPECT_EQ(result.exit_code, 9) << result.out << result.err << "\nagent:\n" << agent_->Stderr();
  EXPECT_THAT(result.err, HasSubstr("[rank 3] ranks: rank 3 fails on purpose"));
  EXPECT_THAT(result.err, HasSubstr("mlcube-agent: rank 3 exited with code 9"));
  EXPECT_THAT(result.err, Not(HasSubstr("tick 30\n")));
}

// A rank killed from outside (as the OOM killer would) fails the job with
// its code, 128 + 9, and srun ends the others.
TEST_F(SlurmRanksTest, KillingOneRankFailsTheJobWithItsCode) {
  WriteRankHosts("RANK_SECONDS: '300'");
  const std::string job = DetachRanks();
  ASSERT_THAT(WaitForLog(job, "[rank 2] tick 1", 120), HasSubstr("[rank 2] tick 1"));
  const std::string slurm_id = SlurmJobOf(Cli({"status", job}).out);
  ASSERT_FALSE(slurm_id.empty());
  // The task of rank 2: its command line is the cube's, its environment
  // the rank's.
  std::string pid;
  mlcube_test::Shell(
      "for p in /proc/[0-9]*; do { tr '\\0' ' ' <\"$p/cmdline\"; } 2>/dev/null | "
      "grep -q 'hello.sh ranks' && { tr '\\0' '\\n' <\"$p/environ\"; } "
      "2>/dev/null | grep -qx 'SLURM_JOB_ID=" +
          slurm_id +
          "' && { tr '\\0' '\\n' <\"$p/environ\"; } 2>/dev/null | grep -qx "
          "'RANK=2' && echo \"${p#/proc/}\"; done | head -n 1",
      &pid);
  ASSERT_FALSE(Trim(pid).empty()) << "no process of rank 2";
  ASSERT_EQ(::kill(std::atoi(Trim(pid).c_str()), SIGKILL), 0);
  CommandResult followed = Cli({"logs", "-f", job}, 120);
  EXPECT_EQ(followed.exit_code, 137) << followed.err;
  EXPECT_THAT(followed.err, HasSubstr("mlcube-agent: rank 2 exited with code 137"));
  EXPECT_THAT(WaitForStatus(job, "state: FAILED", 30), HasSubstr("exit code: 137"));
  EXPECT_THAT(followed.out, Not(HasSubstr("tick 60\n")));
}

TEST_F(SlurmRanksTest, CancelEndsEveryRank) {
  WriteRankHosts("RANK_SECONDS: '300'");
  const int node_dirs = NodeDirs();
  const std::string job = DetachRanks();
  ASSERT_THAT(WaitForLog(job, "[rank 3] tick 1", 120), HasSubstr("[rank 3] tick 1"));
  ASSERT_THAT(WaitForLog(job, "[rank 0] tick 1", 30), HasSubstr("[rank 0] tick 1"));
  const std::string slurm_id = SlurmJobOf(Cli({"status", job}).out);
  ASSERT_FALSE(slurm_id.empty());
  ASSERT_GE(ProcessesOf(slurm_id), 8);  // four ranks, each a wrapper and a container
  EXPECT_EQ(Cli({"cancel", job}).exit_code, 0);
  EXPECT_THAT(WaitForStatus(job, "state: CANCELLED", 60), HasSubstr("state: CANCELLED"));
  int left = -1;
  for (int i = 0; i < 150 && left != 0; ++i) {
    left = ProcessesOf(slurm_id);
    if (left != 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(left, 0) << "processes of the ranks still there 30 s after the cancel";
  EXPECT_EQ(WaitForNodeDirs(node_dirs), node_dirs) << "a cancelled rank left its /tmp directory";
}

TEST_F(SlurmRanksTest, AgentKilledMidJobKeepsEveryRanksLinesOnce) {
  WriteRankHosts("RANK_SECONDS: '8'");
  const std::string job = DetachRanks();
  BackgroundCommand logs(Argv({"logs", "-f", job}), {"NO_COLOR=1", "HOME=" + dir_.path()});
  for (int i = 0; i < 1200 && logs.OutputSoFar().find("[rank 3] tick 2") == std::string::npos;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_THAT(logs.OutputSoFar(), HasSubstr("[rank 3] tick 2"));
  const std::string state_dir = agent_->state_dir();
  agent_->Kill(SIGKILL);
  StartAgent(state_dir);
  CommandResult result = logs.Wait(180);
  EXPECT_EQ(result.exit_code, 0) << result.err << "\nagent:\n" << agent_->Stderr();
  for (int rank = 0; rank < 4; ++rank) {
    for (int i = 1; i <= 8; ++i) {
      EXPECT_EQ(CountOccurrences(result.out, absl::StrCat("[rank ", rank, "] tick ", i, "\n")), 1)
          << "rank " << rank << " tick " << i << " in:\n"
          << result.out;
    }
  }
}

// Staged data is copied once per node and every rank reads it at /data;
// each rank's /tmp and $HOME are writable on its own node.
TEST_F(SlurmRanksTest, StagedDataIsCopiedOncePerNodeForEveryRank) {
  WriteRankHosts("");
  ASSERT_EQ(
      mlcube_test::Shell("mkdir -p " + dir_.path() + "/project/data && echo 42 > " + dir_.path() +
                         "/project/data/answer.txt && chmod -R a+rX " + dir_.path() + "/project"),
      0);
  ASSERT_EQ(mlcube_test::Shell("cd " + dir_.path() +
                               "/hello && sed -i 's|^  \\*)$|  staged) echo \"$(hostname) "
                               "$RANK $(cat /data/answer.txt)\" \\&\\& touch /tmp/t \"$HOME/h\" "
                               "\\&\\& echo writable ;;\\n  *)|' build/hello.sh && printf '  "
                               "staged:\\n    parameters: {inputs: {}, outputs: {}}\\n' >> "
                               "mlcube.yaml"),
            0);
  const std::string data = dir_.path() + "/project/data";
  CommandResult run = Cli({"run", Cube(), "--task=staged", "--stage=" + data}, 240);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err << "\nagent:\n" << agent_->Stderr();
  for (int rank = 0; rank < 4; ++rank) {
    EXPECT_THAT(run.out, HasSubstr(absl::StrCat("[rank ", rank, "] ", rank < 2 ? "n1 " : "n2 ",
                                                rank, " 42\n")))
        << run.out;
  }
  EXPECT_EQ(CountOccurrences(run.out, "] writable\n"), 4) << run.out;
  EXPECT_EQ(CountOccurrences(run.err, "mlcube-agent: staged " + data + " to n1:"), 1) << run.err;
  EXPECT_EQ(CountOccurrences(run.err, "mlcube-agent: staged " + data + " to n2:"), 1) << run.err;
}

// slurm.mpi=pmi2: srun's PMI-2 server reaches every rank's container (its
// variables and its open descriptor), as an MPI library inside would use it.
TEST_F(SlurmRanksTest, MpiPluginGivesEveryRankItsPmi) {
  WriteRankHosts("");
  ASSERT_EQ(mlcube_test::Shell("cd " + dir_.path() +
                               "/hello && sed -i 's|^  \\*)$|  pmi) echo \"pmi $PMI_RANK of "
                               "$PMI_SIZE fd $(test -e /proc/self/fd/$PMI_FD \\&\\& echo open)\" "
                               ";;\\n  *)|' build/hello.sh && printf '  pmi:\\n    parameters: "
                               "{inputs: {}, outputs: {}}\\n' >> mlcube.yaml"),
            0);
  CommandResult run = Cli({"run", Cube(), "--task=pmi", "-P", "slurm.mpi=pmi2"}, 240);
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err << "\nagent:\n" << agent_->Stderr();
  for (int rank = 0; rank < 4; ++rank) {
    EXPECT_THAT(run.out, HasSubstr(absl::StrCat("[rank ", rank, "] pmi ", rank, " of 4 fd open\n")))
        << run.out;
  }
  // One rank asked for an MPI plugin is started through srun too.
  CommandResult one = Cli({"run", Cube(), "--task=pmi", "-P", "slurm.mpi=pmi2", "-P",
                           "slurm.nodes=1", "-P", "slurm.ntasks_per_node=1"},
                          300);
  ASSERT_EQ(one.exit_code, 0) << one.out << one.err;
  EXPECT_THAT(one.out, HasSubstr("[rank 0] pmi 0 of 1 fd open\n"));
}

// Cancelled mid-run, the ranks take the nodes' staged copies and their own
// directories with them.
TEST_F(SlurmRanksTest, CancelledRanksLeaveNoStagedCopyBehind) {
  WriteRankHosts("RANK_SECONDS: '300'");
  ASSERT_EQ(
      mlcube_test::Shell("mkdir -p " + dir_.path() + "/project/data && echo 42 > " + dir_.path() +
                         "/project/data/answer.txt && chmod -R a+rX " + dir_.path() + "/project"),
      0);
  std::string before;
  mlcube_test::Shell("ls -d /tmp/mlcube-stage.* 2>/dev/null | wc -l", &before);
  const int node_dirs = NodeDirs();
  CommandResult submitted = Cli(RanksRun({"--detach", "--stage=" + dir_.path() + "/project/data"}));
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  const std::string job = submitted.out.substr(0, submitted.out.find('\n'));
  ASSERT_THAT(WaitForLog(job, "[rank 3] tick 1", 120), HasSubstr("[rank 3] tick 1"));
  std::string during;
  mlcube_test::Shell("ls -d /tmp/mlcube-stage.* 2>/dev/null | wc -l", &during);
  EXPECT_EQ(std::atoi(Trim(during).c_str()), std::atoi(Trim(before).c_str()) + 2);  // n1, n2
  EXPECT_EQ(Cli({"cancel", job}).exit_code, 0);
  EXPECT_THAT(WaitForStatus(job, "state: CANCELLED", 60), HasSubstr("state: CANCELLED"));
  std::string after = "?";
  for (int i = 0; i < 100 && Trim(after) != Trim(before); ++i) {
    mlcube_test::Shell("ls -d /tmp/mlcube-stage.* 2>/dev/null | wc -l", &after);
    if (Trim(after) != Trim(before)) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(Trim(after), Trim(before)) << "a staged copy outlived the cancelled job";
  EXPECT_EQ(WaitForNodeDirs(node_dirs), node_dirs);
}

// GPUs per node reach every rank's container (--nv); the plan names the
// sbatch options and how the ranks start. A dry run submits nothing, so no
// GPU is needed.
TEST_F(SlurmRanksTest, DryRunShowsTheRankLayoutAndGpusPerNode) {
  WriteRankHosts("");
  CommandResult plan = Cli(RanksRun({"--dry-run", "-P", "slurm.gpus_per_node=1"}));
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  const std::string all = plan.out + plan.err;
  EXPECT_THAT(all, HasSubstr("sbatch --partition=multi --time=5 --nodes=2 --ntasks-per-node=2 "
                             "--gres=gpu:1"));
  EXPECT_THAT(all, HasSubstr("the task runs as 4 ranks (2 node(s) x 2): srun"));
  EXPECT_THAT(all, HasSubstr(" --nv "));
  CommandResult twice = Cli(RanksRun({"--dry-run", "--gpus=2", "-P", "slurm.gpus_per_node=1"}));
  EXPECT_NE(twice.exit_code, 0);
  EXPECT_THAT(twice.err, HasSubstr("ask twice"));
}

// Each run of a sweep is itself a job of four ranks on two nodes: one array
// of multi-node elements.
TEST_F(SlurmRanksTest, SweepRunsAreArraysOfMultiNodeJobs) {
  WriteRankHosts("");
  CommandResult result = Cli(RanksRun({"--repeat=2", "--parallel=2"}), 240);
  ASSERT_EQ(result.exit_code, 0) << result.err << "\nagent:\n" << agent_->Stderr();
  EXPECT_THAT(result.err, HasSubstr("all 2 runs succeeded"));
  std::vector<std::string> ids = RecordedSlurmIds();
  ASSERT_EQ(ids.size(), 2u) << ::testing::PrintToString(ids);
  EXPECT_EQ(ids[0].substr(0, ids[0].find('_')), ids[1].substr(0, ids[1].find('_')));
  SweepRecord record = OnlySweepRecord();
  ASSERT_EQ(record.runs.size(), 2u);
  for (const RunRecord& run : record.runs) {
    const std::string dir = dir_.path() + "/hello/workspace/" + run.run_dir;
    for (int rank = 0; rank < 4; ++rank) {
      EXPECT_EQ(ReadFileContent(absl::StrCat(dir, "/ranks/rank-", rank, ".txt")),
                absl::StrCat("rank ", rank, " ran on ", rank < 2 ? "n1" : "n2", "\n"))
          << run.id;
    }
  }
}

}  // namespace
}  // namespace mlcube
