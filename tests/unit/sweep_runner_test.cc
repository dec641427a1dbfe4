#include "controller/sweeps/sweep_runner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/job_state_name.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using ::mlcube::testing::TempDir;
using ::mlcube_remote::v1::Job;
using ::testing::HasSubstr;

// An in-process stand-in for one agent: a job runs for two polls, then
// ends; run r001 fails with exit code 3. It counts how many jobs run at once.
class FakeAgent {
 public:
  explicit FakeAgent(std::string workspace) : workspace_(std::move(workspace)) {}

  SweepHooks Hooks() {
    SweepHooks hooks;
    hooks.submit = [this](const RunRecord& run, const RunPlan& plan) -> absl::StatusOr<Job> {
      Job job;
      job.set_id(absl::StrCat("job-", run.id));
      job.set_state(mlcube_remote::v1::JOB_STATE_QUEUED);
      jobs_[job.id()] = {job, 0, run.id == "r001"};
      overrides_[run.id] = plan.overrides;
      ++running_;
      max_running_ = std::max(max_running_, running_);
      return job;
    };
    hooks.get = [this](const std::string& id) -> absl::StatusOr<Job> {
      Entry& entry = jobs_.at(id);
      if (++entry.polls == 1) {
        entry.job.set_state(mlcube_remote::v1::JOB_STATE_RUNNING);
        entry.job.set_started_unix_ms(1000);
      } else if (entry.polls == 2) {
        entry.job.set_state(entry.fails ? mlcube_remote::v1::JOB_STATE_FAILED
                                        : mlcube_remote::v1::JOB_STATE_SUCCEEDED);
        entry.job.set_exit_code(entry.fails ? 3 : 0);
        entry.job.set_finished_unix_ms(2500);
        --running_;
      }
      return entry.job;
    };
    hooks.pull = [this](const RunRecord& run, const RunPlan&) {
      pulled_.push_back(run.id);
      const std::string dir = absl::StrCat(workspace_, "/", run.run_dir, "/out");
      if (absl::Status made = MakeDirs(dir); !made.ok()) return made;
      return WriteFileAtomically(dir + "/m.yaml", absl::StrCat("acc: 0.", run.index + 5, "\n"));
    };
    return hooks;
  }

  int max_running() const { return max_running_; }
  const std::vector<std::string>& pulled() const { return pulled_; }

 private:
  struct Entry {
    Job job;
    int polls;
    bool fails;
  };
  std::string workspace_;
  std::map<std::string, Entry> jobs_;
  std::map<std::string, std::vector<std::string>> overrides_;
  int running_ = 0;
  int max_running_ = 0;
  std::vector<std::string> pulled_;
};

SweepRecord Record(int runs) {
  SweepRecord record;
  record.id = "s";
  record.metrics_path = "out/m.yaml";
  for (int i = 0; i < runs; ++i) {
    RunRecord run;
    run.id = absl::StrCat("r00", i);
    run.index = i;
    run.run_dir = "runs/s/" + run.id;
    run.values = {{"p:lr", absl::StrCat(i)}};
    record.runs.push_back(run);
  }
  return record;
}

// Options for a test: polls every millisecond, records under `dir`.
SweepRunnerOptions FastOptions(const TempDir& dir, int parallel = 1) {
  SweepRunnerOptions options;
  options.parallel = parallel;
  options.workspace = dir.path();
  options.poll = std::chrono::milliseconds(1);
  return options;
}

// Everything written to `sink`; closes it.
std::string ReadAndClose(std::FILE* sink) {
  std::rewind(sink);
  std::string printed;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), sink)) > 0;) printed.append(buffer, n);
  std::fclose(sink);
  return printed;
}

TEST(SweepRunnerTest, QueuesUnderParallelFollowsStatesAndReadsMetrics) {
  TempDir dir;
  FakeAgent agent(dir.path());
  std::FILE* sink = std::tmpfile();
  Console console(sink, Verbosity::kNormal, false);
  SweepRunnerOptions options = FastOptions(dir, 2);
  SweepRecord record = Record(5);
  SweepRunner runner(agent.Hooks(), options, &console, sink);
  EXPECT_EQ(runner.Run(&record, std::vector<RunPlan>(5)), SweepEnd::kSomeFailed);
  EXPECT_EQ(agent.max_running(), 2);
  EXPECT_EQ(agent.pulled().size(), 5u);
  EXPECT_EQ(record.runs[1].state, "FAILED");
  EXPECT_EQ(record.runs[1].exit_code, 3);
  EXPECT_EQ(record.runs[4].state, "SUCCEEDED");
  EXPECT_EQ(record.runs[4].job_id, "job-r004");
  EXPECT_EQ(record.runs[4].metrics.at("acc"), "0.9");
  // What was saved is what the runner ended with.
  absl::StatusOr<SweepRecord> saved = SweepRecord::Load(SweepRecord::PathFor(dir.path(), "s"));
  ASSERT_TRUE(saved.ok()) << saved.status();
  EXPECT_EQ(saved->runs[3].state, "SUCCEEDED");
  EXPECT_EQ(saved->runs[3].metrics.at("acc"), "0.8");
  const std::string printed = ReadAndClose(sink);
  EXPECT_THAT(printed, HasSubstr("run r001 FAILED"));
  EXPECT_THAT(printed, HasSubstr("4 of 5 runs succeeded; failed: r001 (exit 3)"));
  // A finished run's line shows its pulled metrics.
  EXPECT_THAT(printed, ::testing::ContainsRegex("r004 SUCCEEDED .* acc=0\\.9"));
}

TEST(SweepRunnerTest, OutputsThatDidNotArriveAreNamedAndTheSweepDoesNotSucceed) {
  TempDir dir;
  FakeAgent agent(dir.path());
  SweepHooks hooks = agent.Hooks();
  hooks.pull = [](const RunRecord&, const RunPlan&) {
    return absl::ResourceExhaustedError("agent disk full (No space left on device)");
  };
  std::FILE* sink = std::tmpfile();
  Console console(sink, Verbosity::kNormal, false);
  SweepRecord record = Record(1);
  record.runs[0].host = "gpu01";
  EXPECT_EQ(SweepRunner(hooks, FastOptions(dir), &console, sink).Run(&record, {RunPlan()}),
            SweepEnd::kOutputsMissing);
  EXPECT_EQ(record.runs[0].state, "SUCCEEDED");
  const std::string printed = ReadAndClose(sink);
  EXPECT_THAT(printed, HasSubstr("run r000: pulling its outputs: agent disk full"));
  EXPECT_THAT(printed, HasSubstr("sweep s: all 1 runs succeeded; outputs not pulled: r000 (fetch "
                                 "them with: mlcube-remote sync pull --host=gpu01 "
                                 "--path=runs/s/r000)"));

  // With a failed run as well: the failure decides the exit, the missing
  // outputs are still named.
  FakeAgent second(dir.path());
  SweepHooks failing = second.Hooks();
  failing.pull = hooks.pull;
  sink = std::tmpfile();
  Console again(sink, Verbosity::kNormal, false);
  SweepRecord three = Record(3);
  EXPECT_EQ(
      SweepRunner(failing, FastOptions(dir), &again, sink).Run(&three, std::vector<RunPlan>(3)),
      SweepEnd::kSomeFailed);
  EXPECT_THAT(ReadAndClose(sink), HasSubstr("failed: r001 (exit 3); outputs not pulled: r000, "
                                            "r001, r002 (fetch them with: mlcube-remote sync "
                                            "pull --path=runs/s/RUN)"));
}

TEST(SweepRunnerTest, AnInterruptSubmitsTheRestAndDetaches) {
  TempDir dir;
  FakeAgent agent(dir.path());
  SweepHooks hooks = agent.Hooks();
  int polls = 0;
  hooks.interrupted = [&] { return ++polls > 1; };
  Console console(stderr, Verbosity::kQuiet, false);
  SweepRunnerOptions options = FastOptions(dir);
  SweepRecord record = Record(3);
  SweepRunner runner(hooks, options, &console, stderr);
  EXPECT_EQ(runner.Run(&record, std::vector<RunPlan>(3)), SweepEnd::kDetached);
  absl::StatusOr<SweepRecord> saved = SweepRecord::Load(SweepRecord::PathFor(dir.path(), "s"));
  ASSERT_TRUE(saved.ok());
  for (const RunRecord& run : saved->runs) EXPECT_EQ(run.job_id, "job-" + run.id);
}

TEST(SweepRunnerTest, ARefusedSubmissionStopsTheRestAndTheSubmittedGoOn) {
  TempDir dir;
  FakeAgent agent(dir.path());
  SweepHooks hooks = agent.Hooks();
  auto submit = hooks.submit;
  hooks.submit = [submit](const RunRecord& run, const RunPlan& plan) -> absl::StatusOr<Job> {
    if (run.id == "r001") return absl::InvalidArgumentError("overrides: bad key");
    return submit(run, plan);
  };
  Console console(stderr, Verbosity::kQuiet, false);
  SweepRunnerOptions options = FastOptions(dir, 2);
  SweepRecord record = Record(3);
  EXPECT_EQ(SweepRunner(hooks, options, &console, stderr).Run(&record, std::vector<RunPlan>(3)),
            SweepEnd::kNotSubmitted);
  EXPECT_EQ(record.runs[0].state, "SUCCEEDED");  // submitted before the refusal
  EXPECT_EQ(record.runs[1].state, "FAILED");
  EXPECT_THAT(record.runs[1].reason, HasSubstr("not submitted: overrides: bad key"));
  EXPECT_EQ(record.runs[2].state, "PENDING");
  EXPECT_EQ(record.runs[2].job_id, "");
  EXPECT_STREQ(JobStateName(mlcube_remote::v1::JOB_STATE_RUNNING), "RUNNING");
}

// On a terminal each running run shows its last log line, with control
// characters escaped (a task's output must not steer the terminal).
TEST(SweepRunnerTest, OnATerminalRunsShowTheirLastLogLine) {
  TempDir dir;
  FakeAgent agent(dir.path());
  SweepHooks hooks = agent.Hooks();
  hooks.tail = [](const std::string& job_id, int64_t* offset) -> absl::StatusOr<std::string> {
    *offset += 10;
    return absl::StrCat(job_id, " at ", *offset, "\x1b[2J");
  };
  std::FILE* sink = std::tmpfile();
  Console console(sink, Verbosity::kNormal, false);
  SweepRunnerOptions options = FastOptions(dir);
  options.interactive = true;
  SweepRecord record = Record(1);
  EXPECT_EQ(SweepRunner(hooks, options, &console, sink).Run(&record, std::vector<RunPlan>(1)),
            SweepEnd::kAllSucceeded);
  const std::string printed = ReadAndClose(sink);
  EXPECT_THAT(printed, HasSubstr("r000 SUCCEEDED job-r000"));
  EXPECT_THAT(printed, HasSubstr("| job-r000 at 20\\x1b[2J"));
  EXPECT_THAT(printed, ::testing::Not(HasSubstr("\x1b[2J")));
}

// Two hosts: runs go only where a slot is free (capacity 1 each, and never
// past a run that still waits there), each record names its host, and
// every run is pulled from the host that ran it.
TEST(SweepRunnerTest, SeveralHostsTakeRunsAsTheyHaveRoomAndEachRunNamesItsHost) {
  TempDir dir;
  FakeAgent a(dir.path()), b(dir.path());
  std::vector<SweepLane> lanes = {{"gpu01", a.Hooks(), 1}, {"gpu02", b.Hooks(), 1}};
  Console console(stderr, Verbosity::kQuiet, false);
  SweepRunnerOptions options = FastOptions(dir, 4);
  SweepRecord record = Record(6);
  EXPECT_EQ(SweepRunner(lanes, options, &console, stderr).Run(&record, std::vector<RunPlan>(6)),
            SweepEnd::kSomeFailed);  // r001 fails
  EXPECT_EQ(a.max_running(), 1);
  EXPECT_EQ(b.max_running(), 1);
  EXPECT_EQ(a.pulled().size() + b.pulled().size(), 6u);
  EXPECT_EQ(record.runs[0].host, "gpu01");
  EXPECT_EQ(record.runs[1].host, "gpu02");
  for (const RunRecord& run : record.runs) {
    const std::vector<std::string>& pulled = run.host == "gpu01" ? a.pulled() : b.pulled();
    EXPECT_NE(std::find(pulled.begin(), pulled.end(), run.id), pulled.end()) << run.id;
    EXPECT_EQ(run.state, run.id == "r001" ? "FAILED" : "SUCCEEDED") << run.id;
  }
}

// A host that stops answering: its running run is LOST (not re-run), the
// runs not yet sent finish on the other host, and the summary names it.
TEST(SweepRunnerTest, AHostThatDropsOutLosesItsRunningRunAndTheRestGoToTheOther) {
  TempDir dir;
  FakeAgent a(dir.path()), b(dir.path());
  SweepHooks b_hooks = b.Hooks();
  bool b_down = false;
  std::vector<std::string> submitted_to_b;
  auto b_submit = b_hooks.submit;
  b_hooks.submit = [&](const RunRecord& run, const RunPlan& plan) -> absl::StatusOr<Job> {
    if (b_down) return absl::UnavailableError("connection refused");
    submitted_to_b.push_back(run.id);
    return b_submit(run, plan);
  };
  auto b_get = b_hooks.get;
  b_hooks.get = [&](const std::string& id) -> absl::StatusOr<Job> {
    absl::StatusOr<Job> job = b_get(id);
    if (job.ok() && job->state() == mlcube_remote::v1::JOB_STATE_RUNNING) b_down = true;
    if (b_down) return absl::UnavailableError("connection refused");
    return job;
  };
  std::vector<SweepLane> lanes = {{"gpu01", a.Hooks(), 1}, {"gpu02", b_hooks, 1}};
  std::FILE* sink = std::tmpfile();
  Console console(sink, Verbosity::kNormal, false);
  SweepRunnerOptions options = FastOptions(dir, 2);
  options.host_grace = std::chrono::milliseconds(20);
  SweepRecord record = Record(5);
  EXPECT_EQ(SweepRunner(lanes, options, &console, sink).Run(&record, std::vector<RunPlan>(5)),
            SweepEnd::kSomeFailed);
  const std::string printed = ReadAndClose(sink);
  ASSERT_EQ(submitted_to_b, std::vector<std::string>{"r001"}) << printed;
  EXPECT_EQ(record.runs[1].state, "LOST");
  EXPECT_EQ(record.runs[1].host, "gpu02");
  EXPECT_THAT(record.runs[1].reason, HasSubstr("host gpu02 unreachable: connection refused"));
  for (size_t i : {0, 2, 3, 4}) {
    EXPECT_EQ(record.runs[i].state, "SUCCEEDED") << i;
    EXPECT_EQ(record.runs[i].host, "gpu01") << i;
  }
  EXPECT_THAT(printed, HasSubstr("lost gpu02"));
  EXPECT_THAT(printed, HasSubstr("failed: r001 (LOST: host gpu02 unreachable)"));
  absl::StatusOr<SweepRecord> saved = SweepRecord::Load(SweepRecord::PathFor(dir.path(), "s"));
  ASSERT_TRUE(saved.ok());
  EXPECT_EQ(saved->runs[1].state, "LOST");
}

// A host that is down when a run is sent to it: the run was never taken, so
// it goes to the other host; when every host is gone, the sweep ends.
TEST(SweepRunnerTest, ASubmissionToAnUnreachableHostGoesElsewhereAndNoHostLeftEnds) {
  TempDir dir;
  FakeAgent a(dir.path());
  SweepHooks down = a.Hooks();
  int tries = 0;
  down.submit = [&tries](const RunRecord&, const RunPlan&) -> absl::StatusOr<Job> {
    ++tries;
    return absl::UnavailableError("no route to host");
  };
  Console console(stderr, Verbosity::kQuiet, false);
  SweepRunnerOptions options = FastOptions(dir, 2);
  SweepRecord record = Record(3);
  std::vector<SweepLane> lanes = {{"dead", down, 0}, {"gpu01", a.Hooks(), 0}};
  EXPECT_EQ(SweepRunner(lanes, options, &console, stderr).Run(&record, std::vector<RunPlan>(3)),
            SweepEnd::kSomeFailed);
  EXPECT_EQ(tries, 1);
  for (const RunRecord& run : record.runs) EXPECT_EQ(run.host, "gpu01");
  EXPECT_EQ(record.runs[0].state, "SUCCEEDED");

  // A host that never answers may have taken the run: LOST, never resent.
  SweepHooks slow = a.Hooks();
  slow.submit = [](const RunRecord&, const RunPlan&) -> absl::StatusOr<Job> {
    return absl::DeadlineExceededError("deadline exceeded");
  };
  SweepRecord unanswered = Record(3);
  std::vector<SweepLane> with_slow = {{"slow", slow, 0}, {"gpu01", a.Hooks(), 0}};
  EXPECT_EQ(
      SweepRunner(with_slow, options, &console, stderr).Run(&unanswered, std::vector<RunPlan>(3)),
      SweepEnd::kSomeFailed);
  EXPECT_EQ(unanswered.runs[0].state, "LOST");
  EXPECT_EQ(unanswered.runs[0].host, "slow");
  EXPECT_THAT(unanswered.runs[0].reason, HasSubstr("host slow unreachable: deadline exceeded"));
  EXPECT_EQ(unanswered.runs[2].host, "gpu01");
  EXPECT_EQ(unanswered.runs[2].state, "SUCCEEDED");

  SweepRecord none = Record(2);
  std::vector<SweepLane> dead = {{"x", down, 0}, {"y", down, 0}};
  EXPECT_EQ(SweepRunner(dead, options, &console, stderr).Run(&none, std::vector<RunPlan>(2)),
            SweepEnd::kAgentError);
  EXPECT_EQ(none.runs[0].state, "PENDING");
  EXPECT_THAT(none.runs[0].reason, HasSubstr("every host was lost"));
}

// Detaching over several hosts sends every run now, spread by load.
TEST(SweepRunnerTest, DetachingOverSeveralHostsSpreadsEveryRun) {
  TempDir dir;
  FakeAgent a(dir.path()), b(dir.path());
  std::vector<SweepLane> lanes = {{"gpu01", a.Hooks(), 1}, {"gpu02", b.Hooks(), 2}};
  Console console(stderr, Verbosity::kQuiet, false);
  SweepRunnerOptions options = FastOptions(dir);
  options.detach = true;
  SweepRecord record = Record(6);
  EXPECT_EQ(SweepRunner(lanes, options, &console, stderr).Run(&record, std::vector<RunPlan>(6)),
            SweepEnd::kDetached);
  int on_gpu02 = 0;
  for (const RunRecord& run : record.runs) {
    EXPECT_FALSE(run.job_id.empty()) << run.id;
    on_gpu02 += run.host == "gpu02";
  }
  EXPECT_EQ(on_gpu02, 4) << "twice the slots, twice the runs";
}

}  // namespace
}  // namespace mlcube

namespace mlcube {
namespace {

// An agent that takes a batch gets every run in one call with the sweep's
// --parallel (it holds the rest back itself); an older agent (UNIMPLEMENTED)
// gets them one by one; a refused batch leaves every run unsubmitted.
TEST(SweepRunnerTest, ABatchAgentGetsEveryRunInOneCallWithTheParallelCap) {
  TempDir dir;
  FakeAgent agent(dir.path());
  SweepHooks hooks = agent.Hooks();
  int batch_calls = 0;
  int batch_parallel = -1;
  size_t batch_runs = 0;
  auto submit = hooks.submit;
  hooks.submit_all = [&](const std::vector<RunRecord>& runs, const std::vector<RunPlan>& plans,
                         int parallel) -> absl::StatusOr<std::vector<Job>> {
    ++batch_calls;
    batch_parallel = parallel;
    batch_runs = runs.size();
    std::vector<Job> jobs;
    for (size_t i = 0; i < runs.size(); ++i) jobs.push_back(*submit(runs[i], plans[i]));
    return jobs;
  };
  int single_calls = 0;
  hooks.submit = [&](const RunRecord& run, const RunPlan& plan) {
    ++single_calls;
    return submit(run, plan);
  };
  Console console(stderr, Verbosity::kQuiet, false);
  SweepRunnerOptions options;
  options.workspace = dir.path();
  options.poll = std::chrono::milliseconds(1);
  options.parallel = 2;
  options.detach = true;
  SweepRecord record = Record(4);
  EXPECT_EQ(SweepRunner(hooks, options, &console, stderr).Run(&record, std::vector<RunPlan>(4)),
            SweepEnd::kDetached);
  EXPECT_EQ(batch_calls, 1);
  EXPECT_EQ(batch_runs, 4u);
  EXPECT_EQ(batch_parallel, 2);  // detached, the cap still holds: on the agent
  EXPECT_EQ(single_calls, 0);
  for (const RunRecord& run : record.runs) EXPECT_EQ(run.job_id, "job-" + run.id);

  hooks.submit_all = [&](const std::vector<RunRecord>&, const std::vector<RunPlan>&,
                         int) -> absl::StatusOr<std::vector<Job>> {
    return absl::UnimplementedError("unknown method SubmitJobs");
  };
  options.detach = false;
  SweepRecord older = Record(3);
  EXPECT_EQ(SweepRunner(hooks, options, &console, stderr).Run(&older, std::vector<RunPlan>(3)),
            SweepEnd::kSomeFailed);
  EXPECT_EQ(single_calls, 3);
  EXPECT_EQ(older.runs[2].state, "SUCCEEDED");

  hooks.submit_all = [&](const std::vector<RunRecord>&, const std::vector<RunPlan>&,
                         int) -> absl::StatusOr<std::vector<Job>> {
    return absl::InvalidArgumentError("runs[1]: overrides: bad key");
  };
  SweepRecord refused = Record(3);
  EXPECT_EQ(SweepRunner(hooks, options, &console, stderr).Run(&refused, std::vector<RunPlan>(3)),
            SweepEnd::kNotSubmitted);
  EXPECT_EQ(single_calls, 3);
  for (const RunRecord& run : refused.runs) {
    EXPECT_EQ(run.state, "FAILED");
    EXPECT_EQ(run.job_id, "");
    EXPECT_THAT(run.reason, HasSubstr("not submitted: runs[1]: overrides: bad key"));
  }
  // Detached, a refused batch leaves nothing going on: a failure, not a
  // detach.
  options.detach = true;
  SweepRecord refused_detached = Record(3);
  EXPECT_EQ(
      SweepRunner(hooks, options, &console, stderr).Run(&refused_detached, std::vector<RunPlan>(3)),
      SweepEnd::kNotSubmitted);
}

}  // namespace
}  // namespace mlcube
