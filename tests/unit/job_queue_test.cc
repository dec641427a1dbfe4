// The agent's queue: which job starts next under the agent's, identity's and
// batch's limits, array elements, GPUs by fair share, and failed starts.

#include "agent/jobs/job_queue.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/gpus/gpu_inventory.h"

namespace mlcube {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<GpuDevice> Gpus(int n) {
  std::string query;
  for (int i = 0; i < n; ++i)
    query += std::to_string(i) + ", GPU-" + std::to_string(i) + ", H100, 81559, 0, 1\n";
  auto parsed = ParseNvidiaSmiQuery(query);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *parsed : std::vector<GpuDevice>{};
}

QueuedJob Job(const std::string& id, const std::string& owner) {
  QueuedJob job;
  job.id = id;
  job.owner = owner;
  return job;
}

QueuedJob GpuJob(const std::string& id, const std::string& owner, int count) {
  QueuedJob job = Job(id, owner);
  job.gpus = *ParseGpuRequest(std::to_string(count), 0);
  return job;
}

// Records what the queue starts, and the devices each got.
struct Starts {
  std::vector<std::string> ids;
  std::vector<std::vector<int>> devices;
  bool refuse = false;

  JobQueue::Starter Starter() {
    return [this](const QueuedJob& job, const std::vector<GpuDevice>& given) {
      if (refuse) return false;
      ids.push_back(job.id);
      std::vector<int> indices;
      for (const GpuDevice& d : given) indices.push_back(d.index);
      devices.push_back(indices);
      return true;
    };
  }
};

TEST(JobQueueTest, AnIdentityAtItsLimitDoesNotHoldBackAnother) {
  GpuAllocator gpus({});
  JobQueue queue({/*running=*/2, /*running_per_identity=*/1}, &gpus);
  queue.Push(Job("a1", "alice"));
  queue.Push(Job("a2", "alice"));
  queue.Push(Job("b1", "bob"));
  queue.Push(Job("b2", "bob"));
  Starts starts;
  queue.StartWhatMay(starts.Starter());
  EXPECT_THAT(starts.ids, ElementsAre("a1", "b1"));
  EXPECT_EQ(queue.started(), 2);
  queue.StartWhatMay(starts.Starter());  // nothing ended: nothing more starts
  EXPECT_THAT(starts.ids, ElementsAre("a1", "b1"));
  queue.Finished("b1");
  queue.StartWhatMay(starts.Starter());
  EXPECT_THAT(starts.ids, ElementsAre("a1", "b1", "b2"));  // bob's turn, not alice's
}

TEST(JobQueueTest, TheAgentsLimitAndABatchsCapAreKept) {
  GpuAllocator gpus({});
  JobQueue queue({/*running=*/3, /*running_per_identity=*/0}, &gpus);
  for (const char* id : {"s0", "s1", "s2"}) {
    QueuedJob run = Job(id, "alice");
    run.batch_id = "sweep";
    run.batch_parallel = 1;
    queue.Push(run);
  }
  for (const char* id : {"x", "y", "z"}) queue.Push(Job(id, "alice"));
  Starts starts;
  queue.StartWhatMay(starts.Starter());
  EXPECT_THAT(starts.ids, ElementsAre("s0", "x", "y"));
  queue.Finished("s0");
  queue.StartWhatMay(starts.Starter());
  EXPECT_THAT(starts.ids, ElementsAre("s0", "x", "y", "s1"));
}

TEST(JobQueueTest, ArrayElementsStartAtOnceWithoutTakingASlot) {
  GpuAllocator gpus({});
  JobQueue queue({/*running=*/1, /*running_per_identity=*/1}, &gpus);
  for (const char* id : {"e0", "e1", "e2"}) {
    QueuedJob element = Job(id, "alice");
    element.batch_id = "array";
    element.array_element = true;
    queue.Push(element);
  }
  queue.Push(Job("plain", "alice"));
  Starts starts;
  queue.StartWhatMay(starts.Starter());
  EXPECT_THAT(starts.ids, ElementsAre("e0", "e1", "e2", "plain"));
  EXPECT_EQ(queue.started(), 4);
  for (const char* id : {"e0", "e1", "e2", "plain"}) queue.Finished(id);
  EXPECT_EQ(queue.started(), 0);
}

TEST(JobQueueTest, AJobThatCannotStartStaysQueuedAndGivesItsDevicesBack) {
  GpuAllocator gpus(Gpus(2));
  JobQueue queue({/*running=*/4, /*running_per_identity=*/0}, &gpus);
  queue.Push(GpuJob("g", "alice", 2));
  Starts starts;
  starts.refuse = true;
  queue.StartWhatMay(starts.Starter());
  EXPECT_EQ(queue.started(), 0);
  EXPECT_EQ(gpus.free_count(), 2);
  starts.refuse = false;
  queue.StartWhatMay(starts.Starter());
  EXPECT_THAT(starts.ids, ElementsAre("g"));
  EXPECT_THAT(starts.devices, ElementsAre(ElementsAre(0, 1)));
  EXPECT_EQ(gpus.free_count(), 0);
  queue.Finished("g");
  EXPECT_EQ(gpus.free_count(), 2);
}

TEST(JobQueueTest, AJobAskingForManyGpusIsNotStarvedByJobsAskingForFew) {
  GpuAllocator gpus(Gpus(4));
  JobQueue queue({/*running=*/8, /*running_per_identity=*/0}, &gpus);
  queue.Push(GpuJob("b", "bob", 3));
  Starts starts;
  queue.StartWhatMay(starts.Starter());
  ASSERT_THAT(starts.ids, ElementsAre("b"));
  queue.Push(GpuJob("a", "alice", 2));  // one device is free: alice waits
  queue.Push(GpuJob("c", "carol", 1));  // would fit, but alice is served first
  queue.StartWhatMay(starts.Starter());
  EXPECT_THAT(starts.ids, ElementsAre("b"));
  const auto reasons = queue.GpuWaitReasons();
  ASSERT_EQ(reasons.size(), 2u);
  EXPECT_THAT(reasons.at("a"), HasSubstr("waiting for 2 GPUs: 1 free"));
  queue.Finished("b");
  queue.StartWhatMay(starts.Starter());
  EXPECT_THAT(starts.ids, ElementsAre("b", "a", "c"));
  EXPECT_THAT(queue.GpuWaitReasons(), IsEmpty());
}

TEST(JobQueueTest, AReattachedJobTakesItsSlotAndACancelledOneFreesItsDevices) {
  GpuAllocator gpus(Gpus(1));
  JobQueue queue({/*running=*/1, /*running_per_identity=*/0}, &gpus);
  queue.TakeSlot(Job("resumed", "alice"));
  queue.Push(Job("next", "bob"));
  Starts starts;
  queue.StartWhatMay(starts.Starter());
  EXPECT_THAT(starts.ids, IsEmpty());  // the re-attached job holds the only slot
  // A queued job whose record says it holds device 0 (restored) is
  // cancelled: the device is free again.
  gpus.Restore("held", "carol", {0});
  QueuedJob held = GpuJob("held", "carol", 1);
  held.holds_gpus = true;
  queue.Push(held);
  EXPECT_EQ(gpus.free_count(), 0);
  EXPECT_TRUE(queue.Remove("held"));
  EXPECT_FALSE(queue.Remove("held"));
  EXPECT_EQ(gpus.free_count(), 1);
  queue.Finished("resumed");
  queue.StartWhatMay(starts.Starter());
  EXPECT_THAT(starts.ids, ElementsAre("next"));
}

}  // namespace
}  // namespace mlcube
