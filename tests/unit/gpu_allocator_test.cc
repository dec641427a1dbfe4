// The agent's GPUs: what nvidia-smi says, what a job asks for, which job
// holds which device, and who is served next.

#include "agent/gpus/gpu_allocator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "agent/gpus/gpu_fair_share.h"
#include "agent/gpus/gpu_inventory.h"
#include "agent/gpus/gpu_request.h"
#include "agent/jobs/task_step.h"
#include "agent/runtimes/apptainer_runtime.h"
#include "agent/runtimes/docker_runtime.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using ::testing::HasSubstr;

std::vector<GpuDevice> FourGpus() {
  auto parsed = ParseNvidiaSmiQuery(
      "0, GPU-aaaa, NVIDIA H100 80GB HBM3, 81559, 0, 1\n"
      "1, GPU-bbbb, NVIDIA H100 80GB HBM3, 81559, 3, 10\n"
      "2, GPU-cccc, NVIDIA H100 80GB HBM3, 81559, 0, 1\n"
      "3, GPU-dddd, NVIDIA H100 80GB HBM3, 81559, 0, 1\n");
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *parsed : std::vector<GpuDevice>{};
}

GpuRequest Count(int n) { return *ParseGpuRequest(std::to_string(n), 0); }

TEST(GpuInventoryTest, ParsesTheQueryAndTheListAndRefusesGarbage) {
  std::vector<GpuDevice> gpus = FourGpus();
  ASSERT_EQ(gpus.size(), 4u);
  EXPECT_EQ(gpus[1].index, 1);
  EXPECT_EQ(gpus[1].uuid, "GPU-bbbb");
  EXPECT_EQ(gpus[1].name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(gpus[1].memory_mib, 81559);
  EXPECT_EQ(gpus[1].ListLine(), "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-bbbb)");
  std::vector<GpuDevice> listed = ParseNvidiaSmiList(
      "GPU 0: Tesla T4 (UUID: GPU-1234)\nGPU 1: Tesla T4 (UUID: GPU-5678)\n  MIG 1g.5gb\n");
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[1].index, 1);
  EXPECT_EQ(listed[1].uuid, "GPU-5678");
  EXPECT_EQ(listed[1].name, "Tesla T4");
  auto bad = ParseNvidiaSmiQuery("zero, GPU-x, name, 1, 2, 3\n");
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("zero, GPU-x"));
}

TEST(GpuInventoryTest, TheAdminsDeviceListRestrictsTheHostsGpus) {
  ::mlcube::testing::TempDir dir;
  const std::string smi = dir.path() + "/nvidia-smi";
  std::ofstream(smi) << "#!/bin/sh\n"
                        "case \"$1\" in --query-gpu=*) ;; *) exit 3;; esac\n"
                        "echo '0, GPU-a, T4, 15360, 0, 0'\necho '1, GPU-b, T4, 15360, 0, 0'\n"
                        "echo '2, GPU-c, T4, 15360, 0, 0'\n";
  ASSERT_EQ(chmod(smi.c_str(), 0755), 0);
  GpuConfig config;
  config.nvidia_smi = smi;
  auto all = ReadGpuInventory(config);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 3u);
  config.devices = std::vector<int>{2, 0};
  auto some = ReadGpuInventory(config);
  ASSERT_TRUE(some.ok()) << some.status();
  ASSERT_EQ(some->size(), 2u);
  EXPECT_EQ((*some)[0].uuid, "GPU-c");
  config.devices = std::vector<int>{};
  EXPECT_TRUE(ReadGpuInventory(config)->empty());
  config.devices = std::vector<int>{7};
  auto missing = ReadGpuInventory(config);
  EXPECT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("GPU 7 is not on this host"));
  // No nvidia-smi at all: a host without GPUs, unless the admin named some.
  GpuConfig absent;
  absent.nvidia_smi = dir.path() + "/no-such-nvidia-smi";
  EXPECT_TRUE(ReadGpuInventory(absent)->empty());
  absent.devices = std::vector<int>{0};
  EXPECT_FALSE(ReadGpuInventory(absent).ok());
}

TEST(GpuRequestTest, TheRequestWinsOverTheCubesAcceleratorCount) {
  EXPECT_TRUE(ParseGpuRequest("", 0)->empty());
  EXPECT_EQ(ParseGpuRequest("", 2)->count, 2);
  EXPECT_EQ(ParseGpuRequest("1", 4)->count, 1);
  EXPECT_TRUE(ParseGpuRequest("0", 4)->empty());
  EXPECT_EQ(ParseGpuRequest("all", 0)->kind, GpuRequest::Kind::kAll);
  auto devices = ParseGpuRequest("device=2,GPU-aaaa", 0);
  ASSERT_TRUE(devices.ok());
  EXPECT_THAT(devices->ids, ::testing::ElementsAre("2", "GPU-aaaa"));
  EXPECT_EQ(devices->Describe(), "GPUs 2,GPU-aaaa");
  for (const char* bad : {"device=", "device=1,,2", "-1", "many"}) {
    EXPECT_FALSE(ParseGpuRequest(bad, 0).ok()) << bad;
  }
}

TEST(GpuAllocatorTest, JobsGetDistinctDevicesAndWaitWhenNoneIsFree) {
  GpuAllocator gpus(FourGpus());
  std::set<int> given;
  for (int job = 0; job < 4; ++job) {
    auto got = gpus.Allocate("job" + std::to_string(job), "alice", Count(1));
    ASSERT_TRUE(got.has_value());
    ASSERT_EQ(got->size(), 1u);
    EXPECT_TRUE(given.insert((*got)[0].index).second) << "device given twice";
  }
  EXPECT_EQ(gpus.free_count(), 0);
  EXPECT_FALSE(gpus.Allocate("job4", "alice", Count(1)).has_value());
  EXPECT_EQ(gpus.WaitReason("alice", Count(1)),
            "waiting for 1 GPU: 0 free, held by your jobs job0, job1, job2, job3");
  EXPECT_EQ(gpus.WaitReason("bob", Count(2)),
            "waiting for 2 GPUs: 0 free, held by 4 jobs of other users");
  gpus.Release("job2");
  auto freed = gpus.Allocate("job4", "alice", Count(1));
  ASSERT_TRUE(freed.has_value());
  EXPECT_EQ((*freed)[0].index, 2);  // the device job2 gave back
}

TEST(GpuAllocatorTest, AllWaitsForTheWholeHostAndNamedDevicesForThemselves) {
  GpuAllocator gpus(FourGpus());
  ASSERT_TRUE(gpus.Allocate("small", "alice", Count(1)).has_value());
  GpuRequest all = *ParseGpuRequest("all", 0);
  EXPECT_FALSE(gpus.Peek(all).has_value());
  GpuRequest second = *ParseGpuRequest("device=GPU-bbbb", 0);
  auto named = gpus.Allocate("named", "bob", second);
  ASSERT_TRUE(named.has_value());
  EXPECT_EQ((*named)[0].index, 1);
  EXPECT_FALSE(gpus.Peek(*ParseGpuRequest("device=1", 0)).has_value());
  gpus.Release("small");
  gpus.Release("named");
  auto whole = gpus.Allocate("big", "carol", all);
  ASSERT_TRUE(whole.has_value());
  EXPECT_EQ(whole->size(), 4u);
  EXPECT_EQ(gpus.WaitReason("alice", Count(1)),
            "waiting for 1 GPU: 0 free, held by 1 job of another user");
}

TEST(GpuAllocatorTest, RequestsTheHostCanNeverMeetAreRefused) {
  GpuAllocator gpus(FourGpus());
  EXPECT_TRUE(gpus.CheckFits(Count(4)).ok());
  EXPECT_THAT(gpus.CheckFits(Count(5)).message(),
              HasSubstr("asks for 5 GPUs and this host has 4 GPUs"));
  EXPECT_THAT(gpus.CheckFits(*ParseGpuRequest("device=7", 0)).message(), HasSubstr("no GPU 7"));
  EXPECT_THAT(gpus.CheckFits(*ParseGpuRequest("device=1,GPU-bbbb", 0)).message(),
              HasSubstr("named twice"));
  EXPECT_FALSE(GpuAllocator({}).CheckFits(Count(1)).ok());
}

TEST(GpuAllocatorTest, ARestartedAgentGivesReattachedJobsTheirDevicesBack) {
  GpuAllocator gpus(FourGpus());
  std::vector<GpuDevice> kept = gpus.Restore("running", "alice", {3, 9});
  ASSERT_EQ(kept.size(), 1u);  // GPU 9 is gone from the host
  EXPECT_EQ(kept[0].uuid, "GPU-dddd");
  auto next = gpus.Allocate("new", "bob", Count(3));
  ASSERT_TRUE(next.has_value());
  for (const GpuDevice& device : *next) EXPECT_NE(device.index, 3);
}

// alice queued a sweep of 8 one-GPU runs, then bob one run; on 4 GPUs bob
// is served as soon as a device is free, not after alice's whole sweep.
TEST(GpuFairShareTest, AnIdentityHoldingFewerGpusIsServedFirst) {
  GpuAllocator gpus(FourGpus());
  std::vector<std::string> waiting(8, "alice");
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) ids.push_back("a" + std::to_string(i));
  waiting.push_back("bob");
  ids.push_back("b0");
  std::vector<std::string> served;
  auto serve = [&] {
    const int next = NextJobForGpus(waiting, gpus);
    if (next < 0 || !gpus.Allocate(ids[next], waiting[next], Count(1)).has_value()) return false;
    served.push_back(ids[next]);
    waiting.erase(waiting.begin() + next);
    ids.erase(ids.begin() + next);
    return true;
  };
  while (serve()) {
  }
  // bob holds none after alice's first: he is second, not ninth.
  EXPECT_THAT(served, ::testing::ElementsAre("a0", "b0", "a1", "a2"));
  gpus.Release("a0");
  ASSERT_TRUE(serve());
  EXPECT_EQ(served.back(), "a3");  // alice's oldest waiting run
  EXPECT_EQ(NextJobForGpus({}, gpus), -1);
}

TEST(GpuStepContextTest, RuntimesGetTheAllocatedDevicesNotTheCount) {
  StepContext context;
  context.gpus = "1";
  std::vector<GpuDevice> devices = FourGpus();
  GiveGpus({devices[2]}, &context);
  EXPECT_EQ(context.gpus, "device=GPU-cccc");
  ::mlcube::testing::TempDir dir;
  context.job_id = "0badcafe";
  context.job_dir = dir.path();
  context.step_prefix = dir.path() + "/step-1";
  context.image_dir = dir.path();
  context.scratch_dir = dir.path() + "/tmp";
  Cube cube;
  cube.name = "hello";
  cube.root = "/state/cubes/uid-1/hello";
  cube.workspace = cube.root + "/workspace";
  cube.docker.image = "mlcube/hello:0.1";
  cube.singularity.image = "hello-0.1.sif";
  cube.accelerator_count = 1;
  TaskInvocation invocation;
  invocation.task = "train";
  invocation.args = {"train"};
  DockerRuntime docker("docker", "/usr/bin/docker");
  auto run = docker.TaskCommand(cube, invocation, context);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_THAT(run->argv, ::testing::Contains("device=GPU-cccc"));
  EXPECT_THAT(run->argv, ::testing::Not(::testing::Contains("1")));
  std::string header(32, '\0');
  std::ofstream(dir.path() + "/hello-0.1.sif") << header << "SIF_MAGIC" << std::string(32, '\0');
  ApptainerRuntime apptainer("apptainer", "/usr/bin/apptainer", "");
  auto sif_run = apptainer.TaskCommand(cube, invocation, context);
  ASSERT_TRUE(sif_run.ok()) << sif_run.status();
  EXPECT_THAT(sif_run->argv, ::testing::Contains("--nv"));
  EXPECT_EQ(sif_run->env.at("APPTAINERENV_CUDA_VISIBLE_DEVICES"), "2");
  EXPECT_EQ(sif_run->env.at("APPTAINERENV_NVIDIA_VISIBLE_DEVICES"), "2");
  EXPECT_EQ(sif_run->env.at("APPTAINERENV_CUDA_DEVICE_ORDER"), "PCI_BUS_ID");
}

}  // namespace
}  // namespace mlcube
