// The Slurm scheduler's pure parts: settings, GPU flags, the batch script
// (run by a real /bin/sh), sbatch/squeue output parsing, state mapping, and
// the output follower's exactly-once resume.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "agent/job_log/job_log.h"
#include "agent/schedulers/slurm_batch_script.h"
#include "agent/schedulers/slurm_client.h"
#include "agent/schedulers/slurm_job_state.h"
#include "agent/schedulers/slurm_output_follower.h"
#include "agent/schedulers/task_supervisor.h"
#include "agent/subprocess/subprocess.h"
#include "common/slurm_settings.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

int mlcube_test_mkdir(const std::string& path) { return ::mkdir(path.c_str(), 0755); }

using testing::CountOccurrences;
using ::testing::ElementsAre;
using testing::TempDir;

std::vector<std::string> Options(const std::map<std::string, std::string>& values,
                                 const std::string& gpus = "") {
  auto settings = ParseSlurmSettings(values);
  EXPECT_TRUE(settings.ok()) << settings.status();
  auto options = SbatchResourceOptions(*settings, gpus);
  EXPECT_TRUE(options.ok()) << options.status();
  return options.ok() ? *options : std::vector<std::string>{};
}

TEST(SlurmSettingsTest, EveryKeyBecomesItsSbatchOption) {
  EXPECT_THAT(Options({{"partition", "gpu"},
                       {"account", "proj42"},
                       {"qos", "normal"},
                       {"time", "02:00:00"},
                       {"cpus_per_task", "8"},
                       {"mem", "32G"},
                       {"constraint", "a100"},
                       {"extra_args", "--exclusive  --nice=10"}}),
              ElementsAre("--partition=gpu", "--account=proj42", "--qos=normal", "--time=02:00:00",
                          "--cpus-per-task=8", "--mem=32G", "--constraint=a100", "--exclusive",
                          "--nice=10"));
}

TEST(SlurmSettingsTest, GpusBecomeGresOrGpusFlag) {
  EXPECT_THAT(Options({}, "2"), ElementsAre("--gres=gpu:2"));
  EXPECT_THAT(Options({{"gres", "nvme:1"}}, "1"), ElementsAre("--gres=nvme:1,gpu:1"));
  EXPECT_THAT(Options({{"gpu_flag", "gpus"}}, "4"), ElementsAre("--gpus=4"));
  EXPECT_THAT(Options({}), ElementsAre());
  auto settings = ParseSlurmSettings({});
  ASSERT_TRUE(settings.ok());
  auto all = SbatchResourceOptions(*settings, "all");
  EXPECT_EQ(all.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(all.status().message().find("give a count"), std::string::npos);
}

TEST(SlurmSettingsTest, UnknownKeyIsNamedWithTheKnownOnes) {
  auto settings = ParseSlurmSettings({{"tme", "10"}}, "hosts.hpc.slurm");
  ASSERT_EQ(settings.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(settings.status().message().find("hosts.hpc.slurm.tme: unknown key (expected "
                                             "partition, account"),
            std::string::npos)
      << settings.status();
}

TEST(SlurmSettingsTest, BadValuesAreRefusedNamingTheKey) {
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"partition", "gpu\n#SBATCH --uid=0"},
                                                        {"partition", ""},
                                                        {"time", "two hours"},
                                                        {"cpus_per_task", "0"},
                                                        {"cpus_per_task", "8x"},
                                                        {"mem", "32GB"},
                                                        {"gpu_flag", "cuda"},
                                                        {"configure", "compute"},
                                                        {"extra_args", "--output=/etc/passwd"},
                                                        {"extra_args", "-o/tmp/x"},
                                                        {"extra_args", "--wrap=id"},
                                                        {"extra_args", "--chdir=/"},
                                                        {"extra_args", "exclusive"}}) {
    auto settings = ParseSlurmSettings({{key, value}});
    EXPECT_EQ(settings.status().code(), absl::StatusCode::kInvalidArgument) << key << "=" << value;
    EXPECT_NE(settings.status().message().find("slurm." + key), std::string::npos)
        << settings.status();
  }
}

// sbatch parses its options with getopt_long: any unique prefix of a long
// name is that option, "--opt value" takes the next word, short options
// cluster and the first that takes a value takes the rest. Each spelling
// below was checked against sbatch 22.05's own `-v` listing of what it set.
TEST(SlurmSettingsTest, ExtraArgsAreRefusedInEverySbatchSpelling) {
  for (const char* spelling : {
           "--outp=/tmp/x",      // --output, abbreviated
           "--ou /tmp/x",        // ... with its value in the next word
           "--wra=id",           // --wrap
           "--chd=/",            // --chdir
           "-vo/tmp/x",          // -v, then -o with an attached value
           "-v -o /tmp/x",       //
           "-Qvo/tmp/x",         //
           "-Jname",             // --job-name
           "--job=x",            //
           "-a1-3",              // --array
           "--arr=1",            //
           "-H",                 // --hold
           "--hol",              //
           "--pars",             // --parsable
           "--export-f=/tmp/e",  // --export-file
           "--open=truncate",    // --open-mode
           "--err=/tmp/e",       // --error
           "-e/tmp/e",           //
           "--inp=/dev/zero",    // --input
           "-W",                 // --wait
           "--test",             // --test-only
           "--ui=0",             // --uid
           "--gi=0",             // --gid
           "--get",              // --get-user-env
           "-Mother",            // --clusters
           "--vers",             // --version
           "--comment x -vD/",   // a value taken, then -v -D /
       }) {
    auto settings = ParseSlurmSettings({{"extra_args", spelling}});
    ASSERT_EQ(settings.status().code(), absl::StatusCode::kInvalidArgument) << spelling;
    EXPECT_THAT(std::string(settings.status().message()),
                ::testing::HasSubstr("slurm.extra_args: "))
        << spelling;
  }
  // Unknown and ambiguous names, words sbatch would take as the script, and
  // a value given to an option that takes none.
  for (const char* spelling :
       {"--par=x", "--exp=ALL", "--o=x", "--frobnicate", "--nice 5", "--exclusive foo", "--",
        "-- /tmp/other.sh", "-", "-z", "--hold=1", "--qos"}) {
    EXPECT_EQ(ParseSlurmSettings({{"extra_args", spelling}}).status().code(),
              absl::StatusCode::kInvalidArgument)
        << spelling;
  }
}

TEST(SlurmSettingsTest, ExtraArgsTakeEveryGetoptLongSpellingOfAllowedOptions) {
  for (const char* spelling :
       {"--exclusive --nice=10", "--contig", "--mail-type=END --mail-u a@b",
        "--comment --output=/x", "--qos normal", "-q normal", "-vvQ", "-k", "-kfoo", "-c4 -n 2",
        "--reservation=r1", "--res r1", "--gres=gpu:1 --nodes=1"}) {
    auto settings = ParseSlurmSettings({{"extra_args", spelling}});
    EXPECT_TRUE(settings.ok()) << spelling << ": " << settings.status();
  }
}

TEST(SlurmBatchScriptTest, RunsTheCommandWordForWordAndRecordsItsExit) {
  TempDir dir;
  const SlurmStepFiles files(dir.path() + "/step-0");
  const std::string script = SlurmBatchScript::Render(
      {"/bin/sh", "-c", "printf '%s|' \"$@\"; pwd; exit 7", "sh", "it's", "$(id)", "a b", "`x`"},
      dir.path(), files);
  { std::ofstream(files.script) << script; }
  auto result = RunCommand({"/bin/sh", files.script});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->status.ShellCode(), 7);
  EXPECT_EQ(result->output, "it's|$(id)|a b|`x`|" + dir.path() + "\n");
  auto exit = TaskSupervisor::ReadExit(dir.path() + "/step-0");
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->ShellCode(), 7);
}

TEST(SlurmBatchScriptTest, ConveniencesGoThroughApptainersEnvironment) {
  TempDir dir;
  const SlurmStepFiles files(dir.path() + "/step-0");
  SlurmConveniences conveniences;
  conveniences.scratch_dir = dir.path() + "/scratch storage";
  conveniences.node_tmp = true;
  std::ofstream(files.script) << SlurmBatchScript::Render(
      {"/bin/sh", "-c",
       "echo \"$APPTAINER_BIND\"; echo \"$APPTAINER_WORKDIR\"; test -d \"$APPTAINER_WORKDIR\""},
      "", files, conveniences);
  ASSERT_EQ(mlcube_test_mkdir(dir.path() + "/node"), 0);
  SubprocessOptions options;
  options.env = {{"SLURM_TMPDIR", dir.path() + "/node"}, {"APPTAINER_BIND", "/a:/b"}};
  auto result = RunCommand({"/bin/sh", files.script}, absl::Seconds(30), options);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->status.ShellCode(), 0) << result->output;
  EXPECT_THAT(result->output,
              ::testing::HasSubstr("/a:/b," + dir.path() + "/scratch storage:/scratch_storage\n" +
                                   dir.path() + "/node/mlcube-job."));
  EXPECT_THAT(result->output, ::testing::HasSubstr("mlcube-agent: /scratch_storage is "));
  EXPECT_EQ(access((dir.path() + "/scratch storage").c_str(), F_OK), 0);  // kept
  auto left = RunCommand({"/bin/sh", "-c", "ls " + dir.path() + "/node | wc -l"});
  EXPECT_EQ(left->output, "0\n");  // the node-local directory went with the job
}

// Staged data is bound through APPTAINER_BIND, a bind list: a node
// directory with one of its separators ends the step instead of binding
// something else.
TEST(SlurmBatchScriptTest, ANodeDirectoryThatABindListWouldSplitEndsTheStep) {
  TempDir dir;
  const SlurmStepFiles files(dir.path() + "/step-0");
  SlurmConveniences conveniences;
  conveniences.stage = {{dir.path() + "/data", "/data"}};
  ASSERT_EQ(mlcube_test_mkdir(dir.path() + "/data"), 0);
  std::ofstream(files.script) << SlurmBatchScript::Render(
      {"/bin/sh", "-c", "echo \"$APPTAINER_BIND\""}, "", files, conveniences);
  for (const std::string node : {"/node", "/node,x", "/node:x", "/node^x"}) {
    ASSERT_EQ(mlcube_test_mkdir(dir.path() + node), 0);
    SubprocessOptions options;
    options.env = {{"SLURM_TMPDIR", dir.path() + node}};
    auto result = RunCommand({"/bin/sh", files.script}, absl::Seconds(30), options);
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(result->status.ShellCode(), node == "/node" ? 0 : 75) << node << result->output;
  }
}

TEST(SlurmBatchScriptTest, MissingWorkingDirectoryIsRecordedAs126) {
  TempDir dir;
  const SlurmStepFiles files(dir.path() + "/step-1");
  std::ofstream(files.script) << SlurmBatchScript::Render({"true"}, dir.path() + "/gone", files);
  auto result = RunCommand({"/bin/sh", files.script});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->status.ShellCode(), 126);
  EXPECT_EQ(TaskSupervisor::ReadExit(dir.path() + "/step-1")->ShellCode(), 126);
}

TEST(SlurmSettingsTest, RankKeysBecomeTheirSbatchOptions) {
  EXPECT_THAT(Options({{"nodes", "2"},
                       {"ntasks_per_node", "4"},
                       {"distribution", "block:cyclic"},
                       {"gpus_per_node", "2"}}),
              ElementsAre("--nodes=2", "--ntasks-per-node=4", "--distribution=block:cyclic",
                          "--gres=gpu:2"));
  EXPECT_THAT(Options({{"nodes", "2"}, {"gpus_per_node", "1"}, {"gpu_flag", "gpus"}}, "1"),
              ElementsAre("--nodes=2", "--ntasks-per-node=1", "--gpus-per-node=1"));
  EXPECT_THAT(Options({{"ntasks_per_node", "3"}}), ElementsAre("--ntasks-per-node=3"));
  EXPECT_THAT(Options({{"nodes", "1"}}), ElementsAre("--nodes=1"));  // one rank
  auto layout = ParseSlurmSettings({{"nodes", "3"}, {"ntasks_per_node", "2"}});
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->Ranks(), 6);
  EXPECT_EQ(layout->TasksPerNode(), 2);
}

TEST(SlurmSettingsTest, BadRankKeysAreRefusedNamingTheKey) {
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"nodes", "0"},
           {"nodes", "2x"},
           {"ntasks_per_node", "-1"},
           {"gpus_per_node", "all"},
           {"distribution", "block;id"},
           {"distribution", "plane=0"},
           {"distribution", "block:cyclic:fcyclic:block"},
           {"distribution", "cyclic,Packed"},
           {"mpi", "pmi2 --uid=0"},
           {"mpi", "PMIx"}}) {
    auto settings = ParseSlurmSettings({{key, value}});
    EXPECT_EQ(settings.status().code(), absl::StatusCode::kInvalidArgument) << key << "=" << value;
    EXPECT_NE(settings.status().message().find("slurm." + key), std::string::npos)
        << settings.status();
  }
  for (const char* good : {"*", "plane=4", "cyclic:fcyclic", "block:block:cyclic,NoPack"}) {
    EXPECT_TRUE(ParseSlurmSettings({{"distribution", good}}).ok()) << good;
  }
  // The layout the agent starts ranks by is not changed behind its back.
  auto layout = ParseSlurmSettings({{"nodes", "2"}, {"extra_args", "--exclusive -n 8"}});
  EXPECT_EQ(layout.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(layout.status().message()),
              ::testing::HasSubstr("slurm.extra_args: '-n 8' is --ntasks"));
  // Asking for GPUs twice, differently.
  auto settings = ParseSlurmSettings({{"gpus_per_node", "2"}});
  ASSERT_TRUE(settings.ok());
  auto twice = SbatchResourceOptions(*settings, "4");
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(twice.status().message()), ::testing::HasSubstr("ask twice"));
}

// A stand-in for srun inside one test of the script: starts the command once
// per rank (FAKE_RANKS, all on "node" 0) or once (a per-node step), with the
// variables srun sets, and returns the highest exit code.
constexpr char kFakeSrun[] = R"sh(#!/bin/sh
echo "$*" >>"$FAKE_SRUN_LOG"
while [ "${1#--}" != "$1" ]; do
  case "$1" in --ntasks-per-node=1) per_node=1 ;; esac
  shift
done
n=${FAKE_RANKS:-1}; [ -z "$per_node" ] || n=1
i=0; pids=
while [ "$i" -lt "$n" ]; do
  SLURM_PROCID=$i SLURM_LOCALID=$i SLURM_NODEID=0 SLURM_NTASKS=$n "$@" & pids="$pids $!"
  i=$((i + 1))
done
rc=0
for p in $pids; do wait "$p" || { c=$?; [ "$c" -gt "$rc" ] && rc=$c; }; done
exit "$rc"
)sh";

TEST(SlurmBatchScriptTest, SeveralRanksGetTheirVariablesPrefixesAndTheFailingRanksCode) {
  TempDir dir;
  const SlurmStepFiles files(dir.path() + "/step-0");
  std::ofstream(dir.path() + "/srun") << kFakeSrun;
  ASSERT_EQ(chmod((dir.path() + "/srun").c_str(), 0755), 0);
  SlurmRanks ranks;
  ranks.count = 3;
  ranks.tasks_per_node = 3;
  ranks.srun = dir.path() + "/srun";
  const std::vector<std::string> argv = {
      "/bin/sh", "-c",
      "echo \"out $APPTAINERENV_RANK/$APPTAINERENV_WORLD_SIZE local $APPTAINERENV_LOCAL_RANK/"
      "$APPTAINERENV_LOCAL_WORLD_SIZE node $APPTAINERENV_NODE_RANK at "
      "$APPTAINERENV_MASTER_ADDR:$APPTAINERENV_MASTER_PORT job $APPTAINERENV_SLURM_JOB_ID\"; "
      "printf 'err %s' \"$RANK\" >&2; [ \"$RANK\" != 1 ] || exit 5"};
  std::ofstream(files.rank_script) << SlurmBatchScript::RenderRankScript(argv, files, {}, ranks);
  std::ofstream(files.script) << SlurmBatchScript::Render(argv, dir.path(), files, {}, ranks);
  SubprocessOptions options;
  options.env = {{"FAKE_RANKS", "3"},
                 {"SLURM_JOB_ID", "7"},
                 {"SLURM_CPUS_PER_TASK", "4"},
                 {"FAKE_SRUN_LOG", dir.path() + "/srun.log"},
                 {"PATH", "/usr/bin:/bin"}};
  const std::string err_path = dir.path() + "/err";
  auto result =
      RunCommand({"/bin/sh", "-c", "exec /bin/sh \"$0\" 2>\"$1\"", files.script, err_path},
                 absl::Seconds(30), options);
  ASSERT_TRUE(result.ok());
  std::stringstream err;
  err << std::ifstream(err_path).rdbuf();
  const std::string error = err.str();
  EXPECT_EQ(result->status.ShellCode(), 5) << result->output << error;
  EXPECT_EQ(TaskSupervisor::ReadExit(dir.path() + "/step-0")->ShellCode(), 5);
  for (const char* rank : {"0", "1", "2"}) {
    EXPECT_THAT(result->output,
                ::testing::HasSubstr(absl::StrCat("[rank ", rank, "] out ", rank, "/3 local ", rank,
                                                  "/3 node 0 at ")));
    // A last line without its newline still reaches the log, on stderr.
    EXPECT_THAT(error, ::testing::HasSubstr(absl::StrCat("[rank ", rank, "] err ", rank)));
  }
  EXPECT_THAT(result->output, ::testing::HasSubstr(":29507 job 7\n"));
  EXPECT_THAT(result->output, ::testing::Not(::testing::HasSubstr("err")));
  EXPECT_THAT(error, ::testing::HasSubstr("mlcube-agent: rank 1 exited with code 5"));
  // Each rank its share of CPUs: srun no longer takes it from the allocation.
  std::stringstream srun_log;
  srun_log << std::ifstream(dir.path() + "/srun.log").rdbuf();
  EXPECT_THAT(srun_log.str(),
              ::testing::HasSubstr("--kill-on-bad-exit=1 --cpus-per-task=4 /bin/sh"));
}

TEST(SlurmBatchScriptTest, StagedDataIsCopiedOncePerNodeAndRemovedAfter) {
  TempDir dir;
  const SlurmStepFiles files(dir.path() + "/step-0");
  std::ofstream(dir.path() + "/srun") << kFakeSrun;
  ASSERT_EQ(chmod((dir.path() + "/srun").c_str(), 0755), 0);
  ASSERT_EQ(mlcube_test_mkdir(dir.path() + "/data"), 0);
  ASSERT_EQ(mlcube_test_mkdir(dir.path() + "/node"), 0);
  std::ofstream(dir.path() + "/data/x") << "staged";
  SlurmConveniences conveniences;
  conveniences.stage = {{dir.path() + "/data", "/data"}};
  conveniences.node_tmp = true;
  SlurmRanks ranks;
  ranks.count = 2;
  ranks.tasks_per_node = 2;
  ranks.srun = dir.path() + "/srun";
  const std::vector<std::string> argv = {
      "/bin/sh", "-c",
      "echo \"bind $APPTAINER_BIND\"; cat \"${APPTAINER_BIND%%:*}/x\"; echo; "
      "test -d \"$APPTAINER_WORKDIR\" && echo \"work $APPTAINER_WORKDIR\""};
  std::ofstream(files.rank_script)
      << SlurmBatchScript::RenderRankScript(argv, files, conveniences, ranks);
  std::ofstream(files.script) << SlurmBatchScript::Render(argv, "", files, conveniences, ranks);
  SubprocessOptions options;
  options.env = {{"FAKE_RANKS", "2"},
                 {"SLURM_JOB_ID", "8"},
                 {"SLURMD_NODENAME", "node0"},
                 {"FAKE_SRUN_LOG", "/dev/null"},
                 {"SLURM_TMPDIR", dir.path() + "/node"},
                 {"PATH", "/usr/bin:/bin"}};
  auto result = RunCommand({"/bin/sh", files.script}, absl::Seconds(30), options);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->status.ShellCode(), 0) << result->output;
  const std::string stage_dir = dir.path() + "/node/mlcube-stage.8.node0";
  for (const char* rank : {"0", "1"}) {
    EXPECT_THAT(result->output, ::testing::HasSubstr(absl::StrCat("[rank ", rank, "] bind ",
                                                                  stage_dir, "/stage0:/data:ro")));
    EXPECT_THAT(result->output, ::testing::HasSubstr(absl::StrCat("[rank ", rank, "] staged")));
    EXPECT_THAT(result->output, ::testing::HasSubstr(absl::StrCat(
                                    "[rank ", rank, "] work ", dir.path(), "/node/mlcube-job.")));
  }
  EXPECT_EQ(CountOccurrences(result->output, "mlcube-agent: staged"), 1) << result->output;
  auto left = RunCommand({"/bin/sh", "-c", "ls " + dir.path() + "/node | wc -l"});
  EXPECT_EQ(left->output, "0\n");  // the staged copy and the ranks' directories went with the job
}

TEST(SlurmBatchScriptTest, SbatchArgvSetsOutputsNameAndAppendMode) {
  const SlurmStepFiles files("/s/jobs/ab/step-2");
  EXPECT_THAT(
      SlurmBatchScript::SbatchArgv("sbatch", "mlcube-ab-2", {"--time=5"}, files),
      ElementsAre("sbatch", "--parsable", "--job-name=mlcube-ab-2",
                  "--output=/s/jobs/ab/step-2.out", "--error=/s/jobs/ab/step-2.err",
                  "--open-mode=append", "--export=ALL", "--time=5", "/s/jobs/ab/step-2.sh"));
}

TEST(SlurmClientTest, ParsesSbatchAndSqueueOutput) {
  EXPECT_EQ(*SlurmClient::ParseSbatchOutput("42\n"), "42");
  EXPECT_EQ(*SlurmClient::ParseSbatchOutput("sbatch: warning: x\n43;cluster\n"), "43");
  EXPECT_FALSE(SlurmClient::ParseSbatchOutput("sbatch: error: nope\n").ok());
  auto jobs = SlurmClient::ParseSqueueOutput(
      "7|PENDING|Resources|0||\n8|COMPLETED|None|0|vm|\nwarning "
      "line\n9|FAILED|NonZeroExitCode|3:0|vm|\n10|TIMEOUT|TimeLimit|36608|vm|\n"
      "11|FAILED|NonZeroExitCode|2304|vm|\n12|CANCELLED|None|9|vm|\n13|FAILED|None|0:15|vm|\n");
  ASSERT_EQ(jobs.size(), 7u);
  EXPECT_EQ(jobs["7"].state, "PENDING");
  EXPECT_EQ(jobs["7"].reason, "Resources");
  EXPECT_EQ(jobs["8"].nodes, "vm");
  EXPECT_EQ(jobs["9"].exit_code, 3);
  // squeue 22.05 gives the raw wait status: exit 143, exit 9, SIGKILL.
  EXPECT_EQ(jobs["10"].exit_code, 143);
  EXPECT_EQ(jobs["11"].exit_code, 9);
  EXPECT_EQ(jobs["12"].exit_code, 137);
  EXPECT_EQ(jobs["13"].exit_code, 143);
}

TEST(SlurmClientTest, MissingSlurmCommandsAreNamed) {
  TempDir empty;
  SlurmClient client(empty.path());
  absl::Status installed = client.CheckInstalled();
  EXPECT_EQ(installed.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(installed.message()), ::testing::HasSubstr("sbatch is not installed"));
  auto submitted = client.Submit({client.Binary("sbatch"), "x.sh"}, {}, "");
  EXPECT_EQ(submitted.status().code(), absl::StatusCode::kFailedPrecondition);
}

SlurmJobInfo Info(const std::string& state, const std::string& reason = "None", int code = 0) {
  SlurmJobInfo info;
  info.id = "12";
  info.state = state;
  info.reason = reason;
  info.exit_code = code;
  return info;
}

TEST(SlurmJobStateTest, MapsEverySlurmState) {
  using Phase = SlurmStepState::Phase;
  const absl::optional<ExitStatus> none;
  EXPECT_EQ(MapSlurmState(Info("PENDING", "Priority"), none).pending_reason, "Priority");
  EXPECT_EQ(MapSlurmState(Info("PENDING", "Priority"), none).phase, Phase::kPending);
  EXPECT_EQ(MapSlurmState(Info("REQUEUED"), none).phase, Phase::kPending);  // followed on
  EXPECT_EQ(MapSlurmState(Info("RUNNING"), none).phase, Phase::kRunning);
  EXPECT_EQ(MapSlurmState(Info("COMPLETING"), none).phase, Phase::kRunning);
  EXPECT_TRUE(MapSlurmState(Info("COMPLETED"), none).succeeded);
  ExitStatus seven;
  seven.code = 7;
  auto failed = MapSlurmState(Info("FAILED", "NonZeroExitCode", 7), seven);
  EXPECT_EQ(failed.phase, Phase::kEnded);
  EXPECT_FALSE(failed.succeeded);
  EXPECT_EQ(failed.exit_code, 7);
  auto timeout = MapSlurmState(Info("TIMEOUT", "TimeLimit"), none);
  EXPECT_NE(timeout.reason.find("time limit"), std::string::npos);
  EXPECT_NE(timeout.reason.find("TIMEOUT"), std::string::npos);
  EXPECT_NE(MapSlurmState(Info("OUT_OF_MEMORY"), none).reason.find("OUT_OF_MEMORY"),
            std::string::npos);
  EXPECT_NE(MapSlurmState(Info("NODE_FAIL"), none).reason.find("NODE_FAIL"), std::string::npos);
  EXPECT_NE(MapSlurmState(Info("PREEMPTED"), none).reason.find("PREEMPTED"), std::string::npos);
  EXPECT_TRUE(MapSlurmState(Info("CANCELLED"), none).cancelled);
  EXPECT_TRUE(MapForgottenJob("12", ExitStatus{}).succeeded);
  EXPECT_FALSE(MapForgottenJob("12", none).succeeded);
}

TEST(SlurmOutputFollowerTest, CopiesEachByteOnceAcrossAResume) {
  TempDir dir;
  const SlurmStepFiles files(dir.path() + "/step-0");
  const std::string log_path = dir.path() + "/log";
  {
    auto log = JobLog::OpenForAppend(log_path, 1 << 20);
    ASSERT_TRUE(log->Append(JobLog::RecordType::kStdout, "earlier step\n").ok());
  }
  const int64_t start = JobLog::Size(log_path);
  std::ofstream out(files.out), err(files.err);
  out << "one\n" << std::flush;
  err << "warn\n" << std::flush;
  auto follower = SlurmOutputFollower::Resume(files, log_path, start, 1 << 20);
  ASSERT_TRUE(follower.ok());
  EXPECT_EQ(*follower->Pump(), 9);
  out << "two\n" << std::flush;
  // A restarted agent: a new follower learns the offsets from the log.
  auto resumed = SlurmOutputFollower::Resume(files, log_path, start, 1 << 20);
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(resumed->out_offset(), 4);
  EXPECT_EQ(resumed->err_offset(), 5);
  EXPECT_EQ(*resumed->Pump(), 4);
  auto records = JobLog::Read(log_path, start, 1 << 20);
  ASSERT_TRUE(records.ok());
  std::string stdout_text, stderr_text;
  for (const auto& r : *records) {
    (r.type == JobLog::RecordType::kStdout ? stdout_text : stderr_text) += r.data;
  }
  EXPECT_EQ(stdout_text, "one\ntwo\n");
  EXPECT_EQ(stderr_text, "warn\n");
}

}  // namespace
}  // namespace mlcube
