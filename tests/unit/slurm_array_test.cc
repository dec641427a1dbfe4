// The Slurm job array of a batch of runs: the dispatching script (run by a
// real /bin/sh for several elements), the --array spec, squeue's array
// element lines, the gathering of the runs' steps into one submission, and the
// agent's arrays by batch.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "absl/synchronization/notification.h"
#include "agent/jobs/batch_arrays.h"
#include "agent/schedulers/slurm_array_batch.h"
#include "agent/schedulers/slurm_array_script.h"
#include "agent/schedulers/slurm_batch_script.h"
#include "agent/schedulers/slurm_client.h"
#include "agent/schedulers/task_supervisor.h"
#include "agent/subprocess/subprocess.h"
#include "common/file_util.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::TempDir;

TEST(SlurmArrayScriptTest, EachElementRunsItsOwnStepWithItsOwnFilesAndEnvironment) {
  TempDir dir;
  std::vector<SlurmArrayElement> elements;
  for (int i : {0, 1, 3}) {
    const std::string job_dir = dir.path() + "/job " + std::to_string(i);
    ASSERT_TRUE(MakeDirs(job_dir).ok());
    const std::string prefix = job_dir + "/step-0";
    const SlurmStepFiles files(prefix);
    std::ofstream(files.script) << SlurmBatchScript::Render(
        {"/bin/sh", "-c", "echo \"run $RUN_VALUE in $(pwd)\"; echo err >&2; exit $RUN_CODE"}, "",
        files);
    const bool has_env = i != 3;
    if (has_env) {
      std::ofstream(SlurmArrayScript::EnvPath(prefix)) << SlurmArrayScript::EnvFile(
          {{"RUN_VALUE", "it's $(id) " + std::to_string(i)}, {"RUN_CODE", std::to_string(i)}});
    }
    elements.push_back({i, prefix, has_env});
  }
  const std::string script = dir.path() + "/array.sh";
  std::ofstream(script) << SlurmArrayScript::Render(elements);
  for (int i : {0, 1, 3}) {
    SubprocessOptions options;
    options.env = {{"SLURM_ARRAY_TASK_ID", std::to_string(i)}, {"RUN_CODE", "9"}};
    auto result = RunCommand({"/bin/sh", script}, absl::Seconds(30), options);
    ASSERT_TRUE(result.ok());
    const std::string prefix = dir.path() + "/job " + std::to_string(i) + "/step-0";
    EXPECT_EQ(result->status.ShellCode(), i == 3 ? 9 : i);
    EXPECT_EQ(result->output, "");  // everything went to the step's own files
    auto out = ReadSmallFile(prefix + ".out");
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(*out, i == 3 ? "run  in " + dir.path() + "/job 3\n"
                           : "run it's $(id) " + std::to_string(i) + " in " + dir.path() + "/job " +
                                 std::to_string(i) + "\n");
    EXPECT_EQ(*ReadSmallFile(prefix + ".err"), "err\n");
    EXPECT_EQ(TaskSupervisor::ReadExit(prefix)->ShellCode(), i == 3 ? 9 : i);
  }
  SubprocessOptions options;
  options.env = {{"SLURM_ARRAY_TASK_ID", "2"}};
  auto missing = RunCommand({"/bin/sh", script}, absl::Seconds(30), options);
  EXPECT_EQ(missing->status.ShellCode(), 64);
  EXPECT_THAT(missing->output, HasSubstr("no run for array index 2"));
}

TEST(SlurmArrayScriptTest, ArraySpecIsRangesWithTheParallelCap) {
  EXPECT_EQ(SlurmArrayScript::ArraySpec({0, 1, 2, 3}, 0), "0-3");
  EXPECT_EQ(SlurmArrayScript::ArraySpec({3, 0, 1, 2, 19, 7, 8}, 4), "0-3,7-8,19%4");
  EXPECT_EQ(SlurmArrayScript::ArraySpec({5, 5}, 1), "5%1");
  EXPECT_THAT(SlurmArrayScript::SbatchArgv("sbatch", "mlcube-array-ab", "0-19%4", {"--time=5"},
                                           "/s/ab/array"),
              ElementsAre("sbatch", "--parsable", "--job-name=mlcube-array-ab", "--array=0-19%4",
                          "--output=/s/ab/array-%a.out", "--error=/s/ab/array-%a.out",
                          "--open-mode=append", "--export=ALL", "--time=5", "/s/ab/array.sh"));
}

TEST(SlurmArrayScriptTest, SqueueArrayElementsAndPendingRangesAreParsed) {
  auto jobs = SlurmClient::ParseSqueueOutput(
      "324_[2-4,7%2]|PENDING|JobArrayTaskLimit|0||\n"
      "324_1|RUNNING|None|0|vm|\n"
      "324_0|COMPLETED|None|0|vm|\n"
      "325|PENDING|Priority|0||\n"
      "326_[x-1]|PENDING|Priority|0||\n");
  EXPECT_THAT(jobs, ::testing::SizeIs(7));
  for (const char* id : {"324_2", "324_3", "324_4", "324_7"}) {
    ASSERT_EQ(jobs.count(id), 1u) << id;
    EXPECT_EQ(jobs[id].id, id);
    EXPECT_EQ(jobs[id].state, "PENDING");
    EXPECT_EQ(jobs[id].reason, "JobArrayTaskLimit");
  }
  EXPECT_EQ(jobs["324_1"].state, "RUNNING");
  EXPECT_EQ(jobs["324_0"].state, "COMPLETED");
  EXPECT_EQ(jobs["325"].reason, "Priority");
  EXPECT_TRUE(SlurmClient::IsJobId("12"));
  EXPECT_TRUE(SlurmClient::IsJobId("12_3"));
  EXPECT_FALSE(SlurmClient::IsJobId("12_"));
  EXPECT_FALSE(SlurmClient::IsJobId("12_[1-3]"));
  EXPECT_FALSE(SlurmClient::IsJobId("x"));
}

SlurmStep StepOf(int index) {
  SlurmStep step;
  step.step_prefix = "/jobs/" + std::to_string(index) + "/step-0";
  return step;
}

TEST(SlurmArrayBatchTest, OneSubmissionOnceEveryMemberJoinedOrWithdrew) {
  TempDir dir;
  int submissions = 0;
  std::vector<int> submitted;
  SlurmArrayBatch batch(dir.path() + "/array.slurm", {0, 1, 2, 3},
                        [&](const std::vector<SlurmStep>& steps,
                            const std::vector<int>& indices) -> absl::StatusOr<std::string> {
                          ++submissions;
                          submitted = indices;
                          EXPECT_EQ(steps.size(), indices.size());
                          return std::string("77");
                        });
  std::vector<absl::StatusOr<std::string>> got(4, absl::UnknownError("not yet"));
  std::vector<std::thread> threads;
  for (int i : {0, 1, 3}) {
    threads.emplace_back([&, i] { got[i] = batch.Join(i, StepOf(i), [] { return false; }); });
  }
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(submissions, 0);  // run 2 has neither joined nor withdrawn
  batch.Withdraw(2);          // it failed before its task
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(submissions, 1);
  EXPECT_THAT(submitted, ElementsAre(0, 1, 3));
  EXPECT_EQ(*got[0], "77_0");
  EXPECT_EQ(*got[3], "77_3");
  EXPECT_EQ(*ReadSmallFile(dir.path() + "/array.slurm"), "77 0,1,3\n");

  // After a restart, a member joining again gets its element back.
  SlurmArrayBatch again(
      dir.path() + "/array.slurm", {0, 1, 3},
      [&](const std::vector<SlurmStep>&, const std::vector<int>&) -> absl::StatusOr<std::string> {
        ++submissions;
        return std::string("99");
      });
  EXPECT_EQ(*again.Join(1, StepOf(1), nullptr), "77_1");
  EXPECT_EQ(again.Join(2, StepOf(2), nullptr).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(submissions, 1);
}

TEST(SlurmArrayBatchTest, ACancelledWaiterWithdrawsAndARefusalReachesEveryMember) {
  TempDir dir;
  std::vector<int> submitted;
  SlurmArrayBatch batch(dir.path() + "/array.slurm", {0, 1, 2},
                        [&](const std::vector<SlurmStep>&,
                            const std::vector<int>& indices) -> absl::StatusOr<std::string> {
                          submitted = indices;
                          return absl::FailedPreconditionError("Slurm refused the job: bad qos");
                        });
  absl::Notification cancel;
  absl::StatusOr<std::string> first = absl::UnknownError("");
  std::thread waiter(
      [&] { first = batch.Join(0, StepOf(0), [&] { return cancel.HasBeenNotified(); }); });
  absl::SleepFor(absl::Milliseconds(100));
  cancel.Notify();
  waiter.join();
  EXPECT_EQ(first.status().code(), absl::StatusCode::kCancelled);
  batch.Withdraw(0);  // its job ended: a no-op now
  absl::StatusOr<std::string> second = absl::UnknownError("");
  std::thread other([&] { second = batch.Join(1, StepOf(1), nullptr); });
  absl::SleepFor(absl::Milliseconds(100));
  auto third = batch.Join(2, StepOf(2), nullptr);
  other.join();
  EXPECT_THAT(submitted, ElementsAre(1, 2));
  EXPECT_THAT(third.status().message(), HasSubstr("bad qos"));
  EXPECT_THAT(second.status().message(), HasSubstr("bad qos"));
}

TEST(BatchArraysTest, ABatchHasOneArrayMadeFromItsUnfinishedRunsUntilItEnds) {
  TempDir dir;
  StateLayout layout(dir.path() + "/state", dir.path() + "/images");
  SlurmScheduler slurm{SlurmClient()};
  BatchArrays arrays(&slurm, &layout, /*running_per_identity=*/0);
  int asked = 0;
  auto runs = [&asked] {
    ++asked;
    return std::set<int>{0, 1};
  };
  std::shared_ptr<SlurmArrayBatch> first = arrays.Of("batch1", 0, runs);
  EXPECT_EQ(arrays.Of("batch1", 0, runs), first);  // the runs are asked once
  EXPECT_EQ(asked, 1);
  EXPECT_NE(arrays.Of("batch2", 0, runs), first);
  arrays.Withdraw("no-such-batch", 0);  // nothing to withdraw from
  arrays.Forget("batch1");
  EXPECT_NE(arrays.Of("batch1", 0, runs), first);
  EXPECT_EQ(asked, 3);
}

TEST(BatchArraysTest, OnlySingleTaskRunsOfABatchOnSlurmAreArrayRuns) {
  mlcube_remote::v1::SubmitJobRequest run;
  run.set_batch_id("b");
  run.set_scheduler("slurm");
  run.set_action(mlcube_remote::v1::JOB_ACTION_RUN);
  run.add_tasks("train");
  EXPECT_TRUE(IsArrayRun(run));
  mlcube_remote::v1::SubmitJobRequest two_tasks = run;
  two_tasks.add_tasks("evaluate");
  EXPECT_FALSE(IsArrayRun(two_tasks));
  mlcube_remote::v1::SubmitJobRequest local = run;
  local.set_scheduler("");
  EXPECT_FALSE(IsArrayRun(local));
  mlcube_remote::v1::SubmitJobRequest alone = run;
  alone.clear_batch_id();
  EXPECT_FALSE(IsArrayRun(alone));
}

}  // namespace
}  // namespace mlcube
