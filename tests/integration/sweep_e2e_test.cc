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

}  // namespace
}  // namespace mlcube
