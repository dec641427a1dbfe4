// End-to-end sweeps: the built `mlcube-remote` against a real agent (as the
// unprivileged `mlcube` user) and a real Docker engine, running the hello
// example cube once per point of a sweep.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "controller/sweeps/sweep_record.h"
#include "tests/integration/agent_process.h"
#include "tests/integration/hello_cube_fixture.h"
#include "tests/integration/train_cube.h"
#include "tests/support/command_runner.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using ::mlcube::testing::BackgroundCommand;
using ::mlcube::testing::CommandResult;
using ::mlcube::testing::ReadFileContent;
using ::mlcube::testing::RunCommand;
using ::mlcube::testing::TempDir;
using ::mlcube_test::AgentProcess;
using ::testing::HasSubstr;

const std::string kBinary = MLCUBE_REMOTE_BINARY;

// examples/hello reads its names line by line; a YAML file with one key
// makes it greet "name: VALUE", so each run's value shows in its outputs.
class SweepEndToEndTest : public ::mlcube_test::HelloCubeTest {
 protected:
  void SetUp() override {
    HelloCubeTest::SetUp();
    if (HasFatalFailure()) return;
    dir_.WriteFile("hello/workspace/names.yaml", "name: World\n");
    WriteHosts("docker", "60");
  }

  ::mlcube::testing::CommandResult Cli(const std::vector<std::string>& args, int timeout = 180) {
    return HelloCubeTest::Cli(args, timeout);
  }

  // The one sweep id under workspace/runs.
  std::string OnlySweep() {
    std::string out;
    EXPECT_EQ(mlcube_test::Shell("ls " + Workspace() + "/runs", &out), 0);
    out.erase(out.find_last_not_of('\n') + 1);
    EXPECT_EQ(out.find('\n'), std::string::npos) << out;
    return out;
  }

  // Starts a sweep of 3 `count` runs, 2 at a time, and waits until the
  // first two run; returns the sweep id.
  std::string StartCountSweep(std::unique_ptr<BackgroundCommand>* command) {
    *command = std::make_unique<BackgroundCommand>(
        std::vector<std::string>{kBinary, "--hosts=" + dir_.path() + "/hosts.yaml", "run", Cube(),
                                 "--task=count", "--repeat=3", "--parallel=2"},
        std::vector<std::string>{"NO_COLOR=1", "HOME=" + dir_.path()});
    for (int i = 0; i < 600; ++i) {
      std::string sweep;
      if (mlcube_test::Shell("ls " + Workspace() + "/runs 2>/dev/null", &sweep) == 0 &&
          !sweep.empty()) {
        sweep.erase(sweep.find_last_not_of('\n') + 1);
        absl::StatusOr<SweepRecord> record =
            SweepRecord::Load(Workspace() + "/runs/" + sweep + "/sweep.yaml");
        if (record.ok() && record->runs.size() == 3 && record->runs[0].state == "RUNNING" &&
            record->runs[1].state == "RUNNING") {
          return sweep;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "the first two runs never ran";
    return "";
  }
};

TEST_F(SweepEndToEndTest, ThreeRunsKeepTheirOutputsApartAndAreRecorded) {
  CommandResult result = Cli({"run", Cube(), "--task=greet", "-P",
                              "tasks.greet.parameters.inputs.name_file.default=names.yaml",
                              "--sweep=name_file:name=Ann,Bob,Cy", "--parallel=2"});
  ASSERT_EQ(result.exit_code, 0) << result.err << "\nagent:\n" << agent_->Stderr();
  EXPECT_THAT(result.err, HasSubstr("all 3 runs succeeded"));
  // Not a terminal: plain lines, one per state change.
  EXPECT_THAT(result.err, HasSubstr("mlcube-remote: run r002 SUCCEEDED"));
  const std::string sweep = OnlySweep();
  const std::string runs = Workspace() + "/runs/" + sweep;

  // Each run read its own copy of the file and wrote its own outputs.
  const std::vector<std::string> names = {"Ann", "Bob", "Cy"};
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string run = runs + "/r00" + std::to_string(i);
    EXPECT_EQ(ReadFileContent(run + "/names.yaml"), "name: " + names[i] + "\n");
    EXPECT_EQ(ReadFileContent(run + "/greetings/name__" + names[i] + ".txt"),
              "Hello, name: " + names[i] + "!\n");
    EXPECT_EQ(ReadFileContent(run + "/greetings/summary.txt"), "greeted 1 names\n");
    for (size_t j = 0; j < names.size(); ++j) {
      if (j == i) continue;
      EXPECT_NE(::access((run + "/greetings/name__" + names[j] + ".txt").c_str(), F_OK), 0);
    }
  }
  EXPECT_NE(::access((Workspace() + "/greetings").c_str(), F_OK), 0)
      << "a run wrote to the cube's shared output";
  EXPECT_EQ(ReadFileContent(Workspace() + "/names.yaml"), "name: World\n");

  // The record is complete.
  absl::StatusOr<SweepRecord> record = SweepRecord::Load(runs + "/sweep.yaml");
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->id, sweep);
  EXPECT_EQ(record->cube, "hello");
  EXPECT_EQ(record->tasks, std::vector<std::string>{"greet"});
  EXPECT_EQ(record->axes, std::vector<std::string>{"name_file:name"});
  ASSERT_EQ(record->runs.size(), 3u);
  std::vector<std::string> jobs;
  for (size_t i = 0; i < 3; ++i) {
    const RunRecord& run = record->runs[i];
    EXPECT_EQ(run.state, "SUCCEEDED");
    EXPECT_EQ(run.host, "local");
    EXPECT_EQ(run.exit_code, 0);
    EXPECT_EQ(run.job_id.size(), 8u);
    EXPECT_GT(run.submitted_unix_ms, 0);
    EXPECT_GT(run.started_unix_ms, 0);
    EXPECT_GE(run.finished_unix_ms, run.started_unix_ms);
    ASSERT_EQ(run.values.size(), 1u);
    EXPECT_EQ(run.values[0], std::make_pair(std::string("name_file:name"), names[i]));
    EXPECT_EQ(run.run_dir, "runs/" + sweep + "/r00" + std::to_string(i));
    jobs.push_back(run.job_id);
  }
  EXPECT_NE(jobs[0], jobs[1]);
  EXPECT_NE(jobs[1], jobs[2]);

  // `runs --json` lists them for scripts; the table sorts by a value.
  CommandResult listed = Cli({"runs", Cube(), sweep, "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_THAT(listed.out, HasSubstr("{\"id\": \"" + sweep + "/r00" + std::to_string(i) +
                                      "\", \"name_file:name\": \"" + names[i] +
                                      "\", \"host\": \"local\", \"job\": \"" + jobs[i] +
                                      "\", \"state\": \"SUCCEEDED\""));
  }
  CommandResult table = Cli({"runs", Cube(), "--sort=-name_file:name"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_LT(table.out.find("Cy"), table.out.find("Ann")) << table.out;
}

TEST_F(SweepEndToEndTest, BadAxesAreRefusedBeforeAnythingMoves) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--sweep=nosuchparam:lr=1", "--sweep nosuchparam:lr: no input parameter 'nosuchparam'"},
      {"--sweep=name_file:lr=1", "'name_file' is names.txt, not a .yaml, .yml or .json file"},
      {"--sweep=name_file:lr=", "--sweep=name_file:lr=: empty value list"},
      {"--sweep=output_dir:lr=1", "'output_dir' is an output"},
  };
  for (const auto& [axis, message] : cases) {
    CommandResult result = Cli({"run", Cube(), "--task=greet", axis});
    EXPECT_EQ(result.exit_code, 2) << axis << "\n" << result.err;
    EXPECT_THAT(result.err, HasSubstr(message)) << axis;
  }
  CommandResult dry = Cli({"run", Cube(), "--task=greet", "--repeat=2", "--dry-run"});
  EXPECT_EQ(dry.exit_code, 2) << dry.err;
  EXPECT_THAT(dry.err, HasSubstr("--dry-run plans one run"));
  // Nothing was pushed and nothing was written.
  std::string files;
  ASSERT_EQ(mlcube_test::Shell("find " + agent_->state_dir() + " -path '*/cubes/*' -type f | wc -l",
                               &files),
            0);
  EXPECT_EQ(files, "0\n") << "a refused sweep pushed files";
  EXPECT_NE(::access((Workspace() + "/runs").c_str(), F_OK), 0);
}

TEST_F(SweepEndToEndTest, FailedRunsAreNamedAndSetTheExitCode) {
  CommandResult result = Cli({"run", Cube(), "--task=fail", "--repeat=2", "--parallel=2"});
  EXPECT_EQ(result.exit_code, 7) << result.err;
  EXPECT_THAT(result.err, HasSubstr("0 of 2 runs succeeded; failed: r000 (exit 7), r001 (exit 7)"));
  CommandResult failed = Cli({"runs", Cube(), "--state=failed", "--csv"});
  ASSERT_EQ(failed.exit_code, 0) << failed.err;
  EXPECT_THAT(failed.out, HasSubstr("/r001,local,"));
  EXPECT_THAT(failed.out, HasSubstr(",FAILED,"));
}

// The failed runs of a finished sweep run again, as the jobs they were;
// the record follows their new jobs.
TEST_F(SweepEndToEndTest, FailedRunsRunAgainAndTheRecordFollowsTheirNewJobs) {
  CommandResult result = Cli({"run", Cube(), "--task=fail", "--repeat=2", "--parallel=2"});
  ASSERT_EQ(result.exit_code, 7) << result.err;
  const std::string sweep = OnlySweep();
  const std::string path = Workspace() + "/runs/" + sweep + "/sweep.yaml";
  absl::StatusOr<SweepRecord> before = SweepRecord::Load(path);
  ASSERT_TRUE(before.ok()) << before.status();
  CommandResult rerun = Cli({"runs", Cube(), sweep, "--rerun-failed"});
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  EXPECT_THAT(rerun.err, HasSubstr("re-run r000 -> job "));
  EXPECT_THAT(rerun.err, HasSubstr("re-run r001 -> job "));
  absl::StatusOr<SweepRecord> after = SweepRecord::Load(path);
  ASSERT_TRUE(after.ok()) << after.status();
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_NE(after->runs[i].job_id, before->runs[i].job_id);
    CommandResult followed = Cli({"logs", "-f", sweep + "/" + after->runs[i].id, Cube()});
    EXPECT_EQ(followed.exit_code, 7) << followed.err;
    EXPECT_THAT(followed.err, HasSubstr("fail: this task fails on purpose"));
  }
  CommandResult nothing = Cli({"runs", Cube(), "nosuchsweep", "--rerun-failed"});
  EXPECT_EQ(nothing.exit_code, 2) << nothing.err;
}

// --repeat runs a point N times; ${run.index} tells the runs apart.
TEST_F(SweepEndToEndTest, RepeatedRunsSeeTheirOwnRunIndex) {
  dir_.WriteFile("hello/workspace/names-0.txt", "Zero\n");
  dir_.WriteFile("hello/workspace/names-1.txt", "One\n");
  CommandResult result =
      Cli({"run", Cube(), "--task=greet", "--repeat=2", "-P",
           "tasks.greet.parameters.inputs.name_file.default=names-${run.index}.txt"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string runs = Workspace() + "/runs/" + OnlySweep();
  EXPECT_EQ(ReadFileContent(runs + "/r000/greetings/Zero.txt"), "Hello, Zero!\n");
  EXPECT_EQ(ReadFileContent(runs + "/r001/greetings/One.txt"), "Hello, One!\n");
  EXPECT_NE(::access((runs + "/r001/greetings/Zero.txt").c_str(), F_OK), 0);
}

// Ctrl-C once detaches: the run still waiting is submitted too, all go on.
TEST_F(SweepEndToEndTest, CtrlCDetachesAndSubmitsTheWaitingRuns) {
  std::unique_ptr<BackgroundCommand> run;
  const std::string sweep = StartCountSweep(&run);
  ASSERT_FALSE(sweep.empty());
  ::kill(run->pid(), SIGINT);
  CommandResult result = run->Wait(30);
  EXPECT_EQ(result.exit_code, 130) << result.err;
  EXPECT_THAT(result.err, HasSubstr("detached: 3 runs go on"));
  absl::StatusOr<SweepRecord> record =
      SweepRecord::Load(Workspace() + "/runs/" + sweep + "/sweep.yaml");
  ASSERT_TRUE(record.ok()) << record.status();
  for (const RunRecord& one : record->runs) EXPECT_EQ(one.job_id.size(), 8u) << one.id;
  CommandResult jobs = Cli({"jobs"});
  EXPECT_THAT(jobs.out, HasSubstr(record->runs[2].job_id));
}

// A second Ctrl-C within 3 s cancels every run, the one the agent still
// holds back (--parallel=2 of 3 runs, all submitted at once) included.
TEST_F(SweepEndToEndTest, CtrlCTwiceCancelsEveryRun) {
  std::unique_ptr<BackgroundCommand> run;
  const std::string sweep = StartCountSweep(&run);
  ASSERT_FALSE(sweep.empty());
  ::kill(run->pid(), SIGINT);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ::kill(run->pid(), SIGINT);
  CommandResult result = run->Wait(30);
  EXPECT_EQ(result.exit_code, 130) << result.err;
  EXPECT_THAT(result.err, HasSubstr("3 runs were going, 0 not yet submitted"));
  absl::StatusOr<SweepRecord> record =
      SweepRecord::Load(Workspace() + "/runs/" + sweep + "/sweep.yaml");
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->runs[2].job_id.size(), 8u);
  EXPECT_EQ(record->runs[2].state, "CANCELLED");
  for (int i = 0; i < 3; ++i) {
    const std::string job = record->runs[i].job_id;
    std::string state;
    for (int tries = 0; tries < 100; ++tries) {
      state = Cli({"status", job}).out;
      if (state.find("state: CANCELLED") != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_THAT(state, HasSubstr("state: CANCELLED")) << job;
  }
}

// A detached sweep keeps its --parallel without the laptop: the runs go to
// the agent in one call and the agent runs one at a time, starting the next
// when one ends.
TEST_F(SweepEndToEndTest, ADetachedSweepKeepsItsParallelOnTheAgent) {
  CommandResult result =
      Cli({"run", Cube(), "--task=count", "--repeat=3", "--parallel=1", "--detach"});
  ASSERT_EQ(result.exit_code, 0) << result.err << "\nagent:\n" << agent_->Stderr();
  absl::StatusOr<SweepRecord> record =
      SweepRecord::Load(Workspace() + "/runs/" + OnlySweep() + "/sweep.yaml");
  ASSERT_TRUE(record.ok()) << record.status();
  ASSERT_EQ(record->runs.size(), 3u);
  auto state = [&](int run) { return Cli({"status", record->runs[run].job_id}).out; };
  std::string first;
  for (int i = 0; i < 300 && first.find("state: RUNNING") == std::string::npos; ++i) {
    first = state(0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_THAT(first, HasSubstr("state: RUNNING")) << agent_->Stderr();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_THAT(state(1), HasSubstr("state: QUEUED"));
  EXPECT_THAT(state(2), HasSubstr("state: QUEUED"));
  ASSERT_EQ(Cli({"cancel", record->runs[0].job_id}).exit_code, 0);
  std::string second;
  for (int i = 0; i < 300 && second.find("state: RUNNING") == std::string::npos; ++i) {
    second = state(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_THAT(second, HasSubstr("state: RUNNING"));
  EXPECT_THAT(state(2), HasSubstr("state: QUEUED"));
  for (int i : {2, 1}) Cli({"cancel", record->runs[i].job_id});
}

// --detach submits every run and returns; `runs --refresh` asks the agent.
TEST_F(SweepEndToEndTest, ADetachedSweepIsRefreshedFromTheAgent) {
  CommandResult result = Cli({"run", Cube(), "--task=greet", "-P",
                              "tasks.greet.parameters.inputs.name_file.default=names.yaml",
                              "--sweep=name_file:name=Ann,Bob", "--detach"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string sweep = OnlySweep();
  EXPECT_EQ(result.out, sweep + "\n");
  EXPECT_THAT(result.err, HasSubstr("detached: 2 runs go on"));
  std::string listed;
  for (int i = 0; i < 120; ++i) {
    CommandResult refreshed = Cli({"runs", Cube(), sweep, "--refresh", "--csv"});
    ASSERT_EQ(refreshed.exit_code, 0) << refreshed.err;
    listed = refreshed.out;
    if (::mlcube::testing::CountOccurrences(listed, ",SUCCEEDED,") == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_EQ(::mlcube::testing::CountOccurrences(listed, ",SUCCEEDED,"), 2) << listed;
  // What --refresh learned was saved.
  absl::StatusOr<SweepRecord> record =
      SweepRecord::Load(Workspace() + "/runs/" + sweep + "/sweep.yaml");
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->runs[1].state, "SUCCEEDED");
  EXPECT_GT(record->runs[1].finished_unix_ms, 0);
  // A run's job pulls its outputs into the run's own place.
  CommandResult pull = Cli({"sync", "pull", Cube(), "--job=" + record->runs[1].job_id});
  ASSERT_EQ(pull.exit_code, 0) << pull.err;
  EXPECT_EQ(ReadFileContent(Workspace() + "/runs/" + sweep + "/r001/greetings/name__Bob.txt"),
            "Hello, name: Bob!\n");
  EXPECT_NE(::access((Workspace() + "/runs/" + sweep + "/r000/greetings").c_str(), F_OK), 0);
}

// The hello cube copy gets a `train` task that writes JSON-lines metrics
// step by step into its output metrics/, under its own image name.
class SweepLiveMetricsTest : public SweepEndToEndTest {
 protected:
  static constexpr const char* kImage = "mlcube-metrics-e2e/hello:1";

  void SetUp() override {
    SweepEndToEndTest::SetUp();
    if (HasFatalFailure()) return;
    mlcube_test::AddTrainTask(dir_, kImage);
  }

  void WriteTrainHosts(const std::string& env) {
    dir_.WriteFile("hosts.yaml", "default_host: local\nhosts:\n  local:\n    address: unix://" +
                                     agent_->socket_path() + "\n    runtime: docker\n    env: {" +
                                     env + "}\n");
  }

  // Two detached runs of `train` with --metrics; the sweep id.
  std::string StartDetached() {
    CommandResult result =
        Cli({"run", Cube(), "--task=train", "-P", std::string("docker.image=") + kImage,
             "--repeat=2", "--parallel=2", "--metrics=metrics/log.jsonl", "--detach"});
    EXPECT_EQ(result.exit_code, 0) << result.err << "\nagent:\n" << agent_->Stderr();
    return OnlySweep();
  }

  // The CSV line of run `run` in `csv`, or "".
  static std::string Line(const std::string& csv, const std::string& run) {
    const size_t at = csv.find(run + ",");
    return at == std::string::npos ? "" : csv.substr(at, csv.find('\n', at) - at);
  }
};

// While the task still runs (and before any pull), `runs` shows the value
// it wrote last; logs, status and cancel find a run by SWEEP/RUN.
TEST_F(SweepLiveMetricsTest, RunsShowLiveValuesAndRunsAreNamedBySweepAndRun) {
  WriteTrainHosts("TRAIN_HOLD: '60'");
  const std::string sweep = StartDetached();
  ASSERT_FALSE(sweep.empty());
  const std::string run = sweep + "/r000";
  std::string row;
  for (int i = 0; i < 240 && row.find(",live,") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    CommandResult refreshed = Cli({"runs", Cube(), sweep, "--refresh", "--csv"});
    ASSERT_EQ(refreshed.exit_code, 0) << refreshed.err;
    row = Line(refreshed.out, run);
  }
  // Step 3 is the last whole line the task wrote; its half-written step 4
  // is left out. The task is still running and nothing was pulled.
  EXPECT_THAT(row, HasSubstr(",RUNNING,")) << row;
  EXPECT_THAT(row, HasSubstr(",live,0.15,3")) << row;
  EXPECT_NE(::access((Workspace() + "/runs/" + run + "/metrics").c_str(), F_OK), 0);
  CommandResult table = Cli({"runs", Cube(), sweep});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("~0.15"));
  EXPECT_THAT(table.err, HasSubstr("~VALUE: read from the agent while the run went on"));

  CommandResult logs = Cli({"logs", Cube(), run});
  EXPECT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_THAT(logs.out, HasSubstr("train: step 3"));
  CommandResult status = Cli({"status", Cube(), run});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("state: RUNNING"));
  EXPECT_THAT(status.out, HasSubstr("metrics file: runs/" + run + "/metrics/log.jsonl\n"));
  EXPECT_THAT(status.out, HasSubstr("metrics: loss=0.15 step=3\n"));
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"nosuch/r000", "nosuch/r000: no sweep nosuch"},
      {sweep + "/r999", sweep + "/r999: sweep " + sweep + " has no run 'r999' (runs: r000, r001)"},
      {"a/b/c", "'a/b/c': expected a job id or SWEEP/RUN"},
      {"../r000", "'../r000': expected a job id or SWEEP/RUN"}};
  for (const auto& [reference, message] : bad) {
    CommandResult refused = Cli({"logs", Cube(), reference});
    EXPECT_EQ(refused.exit_code, 2) << reference;
    EXPECT_THAT(refused.err, HasSubstr(message)) << reference;
  }
  for (const char* id : {"/r000", "/r001"}) {
    CommandResult cancelled = Cli({"cancel", Cube(), sweep + id});
    EXPECT_EQ(cancelled.exit_code, 0) << cancelled.err;
    EXPECT_THAT(cancelled.out, HasSubstr("CANCELLED"));
  }
}

// A sweep followed in the foreground records the live values as they
// come, so a plain `runs` (no --refresh) in another terminal shows them;
// once the runs end and are pulled, the pulled values replace them.
TEST_F(SweepLiveMetricsTest, AFollowedSweepRecordsLiveValuesThenPulledOnes) {
  WriteTrainHosts("TRAIN_HOLD: '10'");
  BackgroundCommand sweep_command(
      Argv({"run", Cube(), "--task=train", "-P", std::string("docker.image=") + kImage,
            "--repeat=2", "--parallel=2", "--metrics=metrics/log.jsonl"}),
      {"NO_COLOR=1", "HOME=" + dir_.path()});
  std::string row;
  std::string sweep;
  for (int i = 0; i < 120 && row.find(",live,") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    if (sweep.empty() &&
        mlcube_test::Shell("ls " + Workspace() + "/runs 2>/dev/null", &sweep) == 0) {
      sweep.erase(sweep.find_last_not_of('\n') + 1);
    }
    if (sweep.empty()) continue;
    CommandResult listed = Cli({"runs", Cube(), sweep, "--csv"});
    ASSERT_EQ(listed.exit_code, 0) << listed.err;
    row = Line(listed.out, sweep + "/r001");
  }
  EXPECT_THAT(row, HasSubstr(",RUNNING,")) << row;
  EXPECT_THAT(row, HasSubstr(",live,0.15,3")) << row;
  CommandResult ended = sweep_command.Wait(120);
  ASSERT_EQ(ended.exit_code, 0) << ended.err;
  CommandResult listed = Cli({"runs", Cube(), sweep, "--csv"});
  EXPECT_THAT(Line(listed.out, sweep + "/r001"), HasSubstr(",SUCCEEDED,")) << listed.out;
  EXPECT_THAT(Line(listed.out, sweep + "/r001"), HasSubstr(",pulled,0.05,4")) << listed.out;
  EXPECT_THAT(
      ReadFileContent(Workspace() + "/runs/" + sweep + "/r001/metrics/log.jsonl"),
      ::testing::EndsWith("{\"step\": 3, \"loss\": 0.15}\n{\"step\": 4, \"loss\": 0.05}\n"));
}

TEST_F(SweepLiveMetricsTest, AMetricsPathOutsideTheOutputsIsRefusedAtSubmit) {
  CommandResult result =
      Cli({"run", Cube(), "--task=train", "--repeat=2", "--metrics=names/log.jsonl"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_THAT(
      result.err,
      HasSubstr("--metrics=names/log.jsonl: not inside an output of train (outputs: metrics)"));
}

// A task that plants metrics/log.jsonl -> a file outside its outputs (one
// the agent's user can read) never gets that file's content shown.
TEST_F(SweepLiveMetricsTest, APlantedSymlinkIsNotRead) {
  TempDir secret_dir;
  const std::string secret = secret_dir.path() + "/secret.jsonl";
  secret_dir.WriteFile("secret.jsonl", "{\"step\": 1, \"secret\": 4242}\n");
  ASSERT_EQ(mlcube_test::Shell("chmod 755 " + secret_dir.path() + " && chmod 644 " + secret), 0);
  std::string readable;
  ASSERT_EQ(mlcube_test::Shell("su mlcube -s /bin/sh -c 'cat " + secret + "'", &readable), 0);
  ASSERT_THAT(readable, HasSubstr("4242")) << "the agent's user must be able to read the secret";
  WriteTrainHosts("TRAIN_HOLD: '4', PLANT_LINK: '" + secret + "'");
  const std::string sweep = StartDetached();
  ASSERT_FALSE(sweep.empty());
  bool refused_seen = false;
  std::string csv;
  for (int i = 0; i < 240; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    CommandResult refreshed = Cli({"-v", "runs", Cube(), sweep, "--refresh", "--csv"});
    ASSERT_EQ(refreshed.exit_code, 0) << refreshed.err;
    EXPECT_EQ(refreshed.out.find("4242"), std::string::npos) << refreshed.out;
    EXPECT_EQ(refreshed.err.find("4242"), std::string::npos) << refreshed.err;
    if (refreshed.err.find("is a symbolic link; refusing to follow it") != std::string::npos) {
      refused_seen = true;
    }
    csv = refreshed.out;
    if (::mlcube::testing::CountOccurrences(csv, ",SUCCEEDED,") == 2) break;
  }
  EXPECT_TRUE(refused_seen) << "the agent never reported the planted link";
  EXPECT_EQ(::mlcube::testing::CountOccurrences(csv, ",SUCCEEDED,"), 2) << csv;
  EXPECT_EQ(csv.find("secret"), std::string::npos) << csv;
  absl::StatusOr<SweepRecord> record =
      SweepRecord::Load(Workspace() + "/runs/" + sweep + "/sweep.yaml");
  ASSERT_TRUE(record.ok()) << record.status();
  for (const RunRecord& one : record->runs) EXPECT_TRUE(one.metrics.empty()) << one.id;
  CommandResult logs = Cli({"logs", Cube(), sweep + "/r001"});
  EXPECT_THAT(logs.out, HasSubstr("train: planted a link"));
  CommandResult status = Cli({"status", Cube(), sweep + "/r001"});
  EXPECT_THAT(status.out, HasSubstr("is a symbolic link; refusing to follow it"));
  EXPECT_EQ(status.out.find("4242"), std::string::npos) << status.out;
}

// `runs` and `plot` read the workspace only: a record and JSON-lines
// metrics written here stand for a finished sweep.
TEST(SweepTableAndPlotTest, RunsSortsByAMetricAndPlotDrawsEveryRun) {
  TempDir dir;
  dir.WriteFile("cube/mlcube.yaml", "name: demo\ndocker: {image: x}\ntasks: {train: {}}\n");
  SweepRecord record;
  record.id = "s1";
  record.cube = "demo";
  record.axes = {"p:lr"};
  record.metrics_path = "out/curve.jsonl";
  const std::vector<std::string> rates = {"0.1", "0.01"};
  for (size_t i = 0; i < rates.size(); ++i) {
    RunRecord run;
    run.id = "r00" + std::to_string(i);
    run.index = static_cast<int>(i);
    run.values = {{"p:lr", rates[i]}};
    run.run_dir = "runs/s1/" + run.id;
    run.state = "SUCCEEDED";
    run.metrics = {{"accuracy", i == 0 ? "0.7" : "0.9"}};
    record.runs.push_back(run);
    std::string curve;
    for (int step = 0; step <= 50; step += 10) {
      curve += "{\"step\": " + std::to_string(step) +
               ", \"loss\": " + std::to_string(1.0 / (1 + step * (i + 1))) + "}\n";
    }
    dir.WriteFile("cube/workspace/" + run.run_dir + "/out/curve.jsonl", curve);
  }
  ASSERT_TRUE(record.Save(SweepRecord::PathFor(dir.path() + "/cube/workspace", "s1")).ok());
  const std::string cube = "--mlcube=" + dir.path() + "/cube";
  const std::vector<std::string> env = {"NO_COLOR=1", "HOME=" + dir.path()};

  CommandResult table = RunCommand({kBinary, "runs", cube, "--sort=-accuracy"}, env, 30);
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("accuracy"));
  EXPECT_LT(table.out.find("s1/r001"), table.out.find("s1/r000")) << table.out;
  CommandResult missing = RunCommand({kBinary, "runs", cube, "nosuch"}, env, 30);
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("runs/nosuch/sweep.yaml"));

  const std::string png = dir.path() + "/curves.png";
  CommandResult drawn = RunCommand({kBinary, "plot", "s1", cube, "--y=loss", "-o", png}, env, 30);
  ASSERT_EQ(drawn.exit_code, 0) << drawn.err;
  EXPECT_EQ(ReadFileContent(png).substr(1, 3), "PNG");
  CommandResult text = RunCommand({kBinary, "plot", "s1", cube, "--y=loss"}, env, 30);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("lr=0.1"));
  EXPECT_THAT(text.out, HasSubstr("lr=0.01"));
  // A swept axis on x: one point per run from its latest metrics.
  CommandResult by_axis =
      RunCommand({kBinary, "plot", "s1", cube, "--y=accuracy", "--x=lr"}, env, 30);
  ASSERT_EQ(by_axis.exit_code, 0) << by_axis.err;
  EXPECT_THAT(by_axis.out, HasSubstr("accuracy"));
  EXPECT_THAT(by_axis.out, HasSubstr("0.9"));
  CommandResult nothing = RunCommand({kBinary, "plot", "s1", cube, "--y=nosuch"}, env, 30);
  EXPECT_EQ(nothing.exit_code, 2);
  EXPECT_THAT(nothing.err, HasSubstr("no points to plot"));
}

// A task's metrics file and a sweep record are hostile YAML: an alias bomb
// of a few hundred bytes fails `plot` and `runs` at once, in one line naming
// the file and line, instead of expanding to millions of nodes.
TEST(SweepTableAndPlotTest, AliasBombsFailPlotAndRunsFastInOneLine) {
  std::string bomb = "l0: &l0 [x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 7; ++i) {
    const std::string a = "*l" + std::to_string(i - 1);
    bomb += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [" + a;
    for (int j = 1; j < 9; ++j) bomb += ", " + a;
    bomb += "]\n";
  }
  TempDir dir;
  dir.WriteFile("cube/mlcube.yaml", "name: demo\ndocker: {image: x}\ntasks: {train: {}}\n");
  SweepRecord record;
  record.id = "s1";
  record.cube = "demo";
  record.axes = {"p:lr"};
  record.metrics_path = "out/results.yaml";
  RunRecord run;
  run.id = "r000";
  run.values = {{"p:lr", "0.1"}};
  run.run_dir = "runs/s1/r000";
  run.state = "SUCCEEDED";
  record.runs.push_back(run);
  const std::string workspace = dir.path() + "/cube/workspace";
  ASSERT_TRUE(record.Save(SweepRecord::PathFor(workspace, "s1")).ok());
  dir.WriteFile("cube/workspace/runs/s1/r000/out/results.yaml", bomb);
  dir.WriteFile("cube/workspace/runs/s2/sweep.yaml", bomb);
  const std::string cube = "--mlcube=" + dir.path() + "/cube";
  const std::vector<std::string> env = {"NO_COLOR=1", "HOME=" + dir.path()};

  const auto start = std::chrono::steady_clock::now();
  CommandResult plot = RunCommand({kBinary, "plot", "s1", cube, "--y=x"}, env, 30);
  EXPECT_EQ(plot.exit_code, 2) << plot.out << plot.err;
  EXPECT_THAT(plot.err, HasSubstr("run r000: " + workspace +
                                  "/runs/s1/r000/out/results.yaml:5:10: YAML aliases expand to "
                                  "more than 10000 nodes (limit)\n"));
  CommandResult one = RunCommand({kBinary, "runs", cube, "s2"}, env, 30);
  EXPECT_EQ(one.exit_code, 2) << one.out << one.err;
  EXPECT_THAT(one.err, HasSubstr(workspace + "/runs/s2/sweep.yaml:5:10: YAML aliases expand"));
  EXPECT_EQ(::mlcube::testing::CountOccurrences(one.err, "\n"), 1) << one.err;
  CommandResult all = RunCommand({kBinary, "runs", cube}, env, 30);
  EXPECT_EQ(all.exit_code, 0) << all.err;
  EXPECT_THAT(all.out, HasSubstr("s1/r000"));
  EXPECT_THAT(all.err, HasSubstr("runs/s2/sweep.yaml:5:10: YAML aliases expand"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace mlcube
