// The agent's GPUs with a real agent (as user `mlcube`) and the real,
// unprivileged Apptainer: a stand-in nvidia-smi lists four GPUs (this
// machine has none), one-GPU jobs run for real and print the devices they
// were given, and each waits until the test releases its device.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "mlcube_remote/v1/jobs.grpc.pb.h"
#include "tests/integration/agent_process.h"
#include "tests/integration/jobs_client.h"
#include "tests/support/temp_dir.h"

namespace mlcube_test {
namespace {

using mlcube_remote::v1::Job;
using mlcube_remote::v1::Jobs;
using mlcube_remote::v1::JobState;
using mlcube_remote::v1::SubmitJobRequest;

constexpr auto kSingularity = mlcube_remote::v1::RUNTIME_SINGULARITY;
constexpr auto kRunning = mlcube_remote::v1::JOB_STATE_RUNNING;
constexpr auto kQueued = mlcube_remote::v1::JOB_STATE_QUEUED;
constexpr auto kSucceeded = mlcube_remote::v1::JOB_STATE_SUCCEEDED;

constexpr char kStandInNvidiaSmi[] =
    "#!/bin/sh\n"
    "case \"$1\" in\n"
    "  --query-gpu=index,utilization.gpu,memory.used)\n"
    "    for i in 0 1 2 3; do echo \"$i, $((10 * i + 10)), $((1000 * i + 1000))\"; done ;;\n"
    "  --query-gpu=*) for i in 0 1 2 3; do echo \"$i, GPU-0000000$i, Stand-in GPU, 16384, 0, 0\";"
    " done ;;\n"
    "  -L) for i in 0 1 2 3; do echo \"GPU $i: Stand-in GPU (UUID: GPU-0000000$i)\"; done ;;\n"
    "  *) exit 2 ;;\n"
    "esac\n";

// The task: says which devices it sees, then holds them until the test
// creates workspace/release-<its device>.
constexpr char kHoldingTask[] =
    "#!/bin/sh\n"
    "echo \"visible=${CUDA_VISIBLE_DEVICES:-none} order=${CUDA_DEVICE_ORDER:-none}\"\n"
    "while [ ! -e \"/mlcube_io0/release-${CUDA_VISIBLE_DEVICES}\" ]; do sleep 0.1; done\n"
    "echo released\n";

class AgentGpuTest : public HelloCubeAgentTest {
 protected:
  void SetUp() override {
    std::string out;
    ASSERT_EQ(Shell("apptainer --version", &out), 0)
        << "Apptainer is not installed; install it as root with tools/install-apptainer.sh";
    ASSERT_EQ(chmod(tools_.path().c_str(), 0755), 0);
    tools_.WriteFile("nvidia-smi", kStandInNvidiaSmi);
    ASSERT_EQ(chmod((tools_.path() + "/nvidia-smi").c_str(), 0755), 0);
    tools_.WriteFile("agent.yaml",
                     "max_concurrent_jobs: 8\ngpus: {sample_seconds: 1, nvidia_smi: " +
                         tools_.path() + "/nvidia-smi}\n");
    StartAgentWithHelloCube(AgentArgs());
    std::ofstream(agent_->state_dir() + "/cubes/" + owner_ + "/hello/build/hello.sh",
                  std::ios::trunc)
        << kHoldingTask;
    // The image is built once, before the GPU jobs.
    SubmitJobRequest configure;
    configure.set_cube_id("hello");
    configure.set_action(mlcube_remote::v1::JOB_ACTION_CONFIGURE);
    configure.set_runtime(kSingularity);
    Job built = Submit(configure);
    Watch(*stub_, built.id(), 0, true, nullptr, 300);
    ASSERT_EQ(Get(built.id()).state(), kSucceeded) << Get(built.id()).reason();
  }

  void TearDown() override {
    for (int device = 0; device < 4; ++device) Release(device);
  }

  std::vector<std::string> AgentArgs() const {
    return {"--config=" + tools_.path() + "/agent.yaml"};
  }

  void Release(int device) {
    std::ofstream(Workspace() + "/release-" + std::to_string(device)) << "go\n";
  }

  // Polls every job until `done` holds for their states (90 s at most);
  // fails the test when more than four ever run at once.
  bool WaitFor(const std::vector<std::string>& ids,
               const std::function<bool(const std::map<std::string, Job>&)>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (std::chrono::steady_clock::now() < deadline) {
      std::map<std::string, Job> jobs;
      int running = 0;
      for (const std::string& id : ids) {
        jobs[id] = Get(id);
        running += jobs[id].state() == kRunning ? 1 : 0;
      }
      EXPECT_LE(running, 4) << "more jobs run than the host has GPUs";
      if (done(jobs)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  static int Count(const std::map<std::string, Job>& jobs, JobState state) {
    int n = 0;
    for (const auto& [id, job] : jobs) n += job.state() == state ? 1 : 0;
    return n;
  }

  ::mlcube::testing::TempDir tools_;
};

// Six one-GPU jobs on four GPUs: four run at once on four different
// devices, each seeing only its own; the other two wait with a reason,
// keep waiting across an agent kill -9 (the four keep their devices), and
// each starts on the device a finished job gave back.
TEST_F(AgentGpuTest, OneGpuJobsGetDistinctDevicesAndTheRestWaitForThem) {
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    SubmitJobRequest request = RunRequest("hello", "greet", kSingularity);
    if (i % 2 == 0) {
      request.set_gpus("1");
    } else {
      (*request.mutable_overrides())["platform.accelerator_count"] = "1";
    }
    ids.push_back(Submit(request).id());
  }
  auto four_running = [](const std::map<std::string, Job>& jobs) {
    return Count(jobs, kRunning) == 4 && Count(jobs, kQueued) == 2;
  };
  ASSERT_TRUE(WaitFor(ids, four_running)) << agent_->Stderr();
  std::map<std::string, int> device_of;
  std::set<int> devices;
  for (const std::string& id : ids) {
    Job job = Get(id);
    if (job.state() == kQueued) {
      EXPECT_TRUE(job.gpus().empty());
      EXPECT_EQ(job.reason().rfind("waiting for 1 GPU: 0 free, held by your jobs ", 0), 0u)
          << job.reason();
      continue;
    }
    ASSERT_EQ(job.gpus_size(), 1) << id;
    device_of[id] = job.gpus(0).index();
    EXPECT_TRUE(devices.insert(job.gpus(0).index()).second) << "a device given twice";
    EXPECT_EQ(job.gpus(0).uuid(), "GPU-0000000" + std::to_string(job.gpus(0).index()));
    WatchResult seen = WatchUntilOutput(*stub_, id, "order=");
    EXPECT_EQ(seen.out, "visible=" + std::to_string(device_of[id]) + " order=PCI_BUS_ID\n");
  }
  EXPECT_EQ(devices, (std::set<int>{0, 1, 2, 3}));
  // The agent samples the devices they hold: device N is at 10(N+1)% and
  // 1000(N+1) MiB in the stand-in.
  ASSERT_TRUE(WaitFor(ids, [&](const std::map<std::string, Job>& jobs) {
    for (const auto& [id, device] : device_of) {
      if (jobs.at(id).gpu_usage().samples() < 2) return false;
    }
    return true;
  })) << "no GPU samples";
  for (const auto& [id, device] : device_of) {
    const mlcube_remote::v1::GpuUsage usage = Get(id).gpu_usage();
    EXPECT_EQ(usage.peak_utilization_percent(), 10 * device + 10) << id;
    EXPECT_EQ(usage.utilization_percent_sum(), usage.samples() * (10 * device + 10)) << id;
    EXPECT_EQ(usage.peak_memory_used_mib(), 1000 * device + 1000) << id;
  }

  // The agent dies; the tasks go on and the restarted agent gives nobody
  // their devices.
  agent_->Kill(SIGKILL);
  AgentProcessOptions again;
  again.user = "mlcube";
  again.state_dir = agent_->state_dir();
  again.extra_args = AgentArgs();
  auto restarted = std::make_unique<AgentProcess>(again);
  ASSERT_TRUE(restarted->Start()) << restarted->Stderr();
  stub_ = Jobs::NewStub(restarted->Channel());
  ASSERT_TRUE(WaitFor(ids, four_running));
  for (const auto& [id, device] : device_of) {
    Job job = Get(id);
    ASSERT_EQ(job.gpus_size(), 1) << id;
    EXPECT_EQ(job.gpus(0).index(), device) << id;
  }

  // Device of the first running job is given back: a waiting job gets it.
  const auto [first, freed] = *device_of.begin();
  Release(freed);
  ASSERT_TRUE(WaitFor(ids, [&, first = first](const std::map<std::string, Job>& jobs) {
    return jobs.at(first).state() == kSucceeded && Count(jobs, kRunning) == 4;
  })) << restarted->Stderr();
  int moved_in = 0;
  for (const std::string& id : ids) {
    Job job = Get(id);
    if (device_of.count(id) == 0 && job.state() == kRunning) {
      ASSERT_EQ(job.gpus_size(), 1);
      EXPECT_EQ(job.gpus(0).index(), freed);
      ++moved_in;
    }
  }
  EXPECT_EQ(moved_in, 1);
  for (int device = 0; device < 4; ++device) Release(device);
  ASSERT_TRUE(WaitFor(ids, [](const std::map<std::string, Job>& jobs) {
    return Count(jobs, kSucceeded) == 6;
  })) << restarted->Stderr();
  for (const std::string& id : ids) {
    Job job = Get(id);
    ASSERT_EQ(job.gpus_size(), 1);
    WatchResult log = Watch(*stub_, id, 0, false);
    EXPECT_EQ(log.out.rfind("visible=" + std::to_string(job.gpus(0).index()) + " ", 0), 0u)
        << log.out;
  }
  restarted->Kill(SIGTERM);
}

// A request the host can never meet is refused at submit; --dry-run shows
// the device a job would get, or what it would wait for.
TEST_F(AgentGpuTest, ImpossibleRequestsAreRefusedAndDryRunShowsTheDevices) {
  SubmitJobRequest five = RunRequest("hello", "greet", kSingularity);
  five.set_gpus("5");
  grpc::ClientContext submit;
  Job refused;
  grpc::Status status = stub_->SubmitJob(&submit, five, &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("asks for 5 GPUs and this host has 4 GPUs"),
            std::string::npos)
      << status.error_message();

  SubmitJobRequest docker = RunRequest("hello", "greet");
  docker.set_gpus("device=2");
  grpc::ClientContext plan_context;
  mlcube_remote::v1::JobPlan plan;
  ASSERT_TRUE(stub_->PlanJob(&plan_context, docker, &plan).ok());
  std::string argv;
  for (const auto& step : plan.steps()) {
    for (const std::string& arg : step.argv()) argv += arg + " ";
  }
  EXPECT_NE(argv.find("--gpus device=GPU-00000002 "), std::string::npos) << argv;

  SubmitJobRequest whole = RunRequest("hello", "greet", kSingularity);
  whole.set_gpus("all");
  const std::string holder = Submit(whole).id();
  ASSERT_TRUE(WaitFor({holder}, [](const std::map<std::string, Job>& jobs) {
    return jobs.begin()->second.state() == kRunning;
  }));
  EXPECT_EQ(Get(holder).gpus_size(), 4);
  grpc::ClientContext waiting_context;
  mlcube_remote::v1::JobPlan waiting;
  ASSERT_TRUE(stub_->PlanJob(&waiting_context, docker, &waiting).ok());
  std::string notes;
  for (const std::string& note : waiting.notes()) notes += note + "\n";
  EXPECT_NE(
      notes.find("would wait in the queue: waiting for GPU 2: 0 free, held by your job " + holder),
      std::string::npos)
      << notes;
}

}  // namespace
}  // namespace mlcube_test
