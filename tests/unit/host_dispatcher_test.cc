#include "controller/sweeps/host_dispatcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mlcube {
namespace {

using ::std::chrono::milliseconds;
using ::testing::ElementsAre;

TEST(HostDispatcherTest, PicksTheHostWithTheMostFreeSlotsUpToItsCapacity) {
  HostDispatcher dispatcher(false, milliseconds(1000));
  const int small = dispatcher.Add("gpu01", 1);
  const int big = dispatcher.Add("gpu02", 3);
  std::vector<int> picked;
  for (size_t run = 0; run < 5; ++run) {
    const int lane = dispatcher.Pick();
    picked.push_back(lane);
    if (lane >= 0) dispatcher.Submitted(lane, run);
  }
  // gpu02 (3 free) first; at 1 free each, the first host wins; then full.
  EXPECT_THAT(picked, ElementsAre(big, big, small, big, -1));
  dispatcher.Ended(small, 2);
  EXPECT_EQ(dispatcher.Pick(), small);
}

TEST(HostDispatcherTest, WithSeveralHostsAHostWhoseRunWaitsTakesNoMore) {
  HostDispatcher dispatcher(true, milliseconds(1000));
  const int a = dispatcher.Add("a", 0);  // capacity unknown: its queue tells
  const int b = dispatcher.Add("b", 0);
  EXPECT_EQ(dispatcher.Pick(), a);
  dispatcher.Submitted(a, 0);
  EXPECT_EQ(dispatcher.Pick(), b);
  dispatcher.Submitted(b, 1);
  EXPECT_EQ(dispatcher.Pick(), -1) << "both hold a run not yet started";
  dispatcher.Started(b, 1);
  EXPECT_EQ(dispatcher.Pick(), b);
  dispatcher.Submitted(b, 2);
  dispatcher.Started(a, 0);
  EXPECT_EQ(dispatcher.Pick(), a) << "a holds one run, b two";
  // Detaching puts every run somewhere: the least loaded host.
  EXPECT_EQ(dispatcher.Pick(true), a);
}

TEST(HostDispatcherTest, OneHostQueuesOnTheAgentUnderItsCapacityOnly) {
  HostDispatcher dispatcher(false, milliseconds(1000));
  const int only = dispatcher.Add("local", 0);
  for (size_t run = 0; run < 10; ++run) {
    ASSERT_EQ(dispatcher.Pick(), only);
    dispatcher.Submitted(only, run);
  }
  EXPECT_EQ(dispatcher.active(only), 10u);
}

TEST(HostDispatcherTest, AHostThatStaysSilentIsDroppedWithItsRunsAndTheRestGoElsewhere) {
  HostDispatcher dispatcher(true, milliseconds(5000));
  const int a = dispatcher.Add("a", 2);
  const int b = dispatcher.Add("b", 2);
  dispatcher.Submitted(a, 0);
  dispatcher.Started(a, 0);
  dispatcher.Submitted(b, 1);
  dispatcher.Started(b, 1);
  dispatcher.Submitted(b, 2);  // queued there
  const auto t0 = HostDispatcher::Clock::now();
  // Many failures within the grace, or one failure long after: not yet.
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(dispatcher.QueryFailed(b, t0 + milliseconds(i)));
  dispatcher.QueryAnswered(b);
  EXPECT_FALSE(dispatcher.QueryFailed(b, t0));
  EXPECT_FALSE(dispatcher.QueryFailed(b, t0 + milliseconds(6000)));
  EXPECT_TRUE(dispatcher.QueryFailed(b, t0 + milliseconds(6001)));
  EXPECT_THAT(dispatcher.Drop(b), ElementsAre(1u, 2u));
  EXPECT_FALSE(dispatcher.alive(b));
  EXPECT_TRUE(dispatcher.AnyAlive());
  EXPECT_FALSE(dispatcher.QueryFailed(b, t0 + milliseconds(9000))) << "dropped once";
  EXPECT_EQ(dispatcher.Pick(), a);
  EXPECT_EQ(dispatcher.Pick(true), a);
  dispatcher.Drop(a);
  EXPECT_FALSE(dispatcher.AnyAlive());
  EXPECT_EQ(dispatcher.Pick(true), -1);
}

TEST(HostDispatcherTest, CapacityFromGpusAndTheAgentsJobLimit) {
  // No GPUs asked, no limit: unknown.
  EXPECT_EQ(HostDispatcher::Capacity(8, 0, 0, 0), 0);
  // 8 GPUs, 2 per run: 4; "all": 1; a host with fewer GPUs than a run: 1.
  EXPECT_EQ(HostDispatcher::Capacity(8, 2, 0, 0), 4);
  EXPECT_EQ(HostDispatcher::Capacity(8, -1, 0, 0), 1);
  EXPECT_EQ(HostDispatcher::Capacity(1, 2, 0, 0), 1);
  // The per-caller limit less the caller's other unfinished jobs.
  EXPECT_EQ(HostDispatcher::Capacity(0, 0, 3, 1), 2);
  EXPECT_EQ(HostDispatcher::Capacity(0, 0, 3, 7), 1);
  EXPECT_EQ(HostDispatcher::Capacity(8, 1, 3, 0), 3);
  EXPECT_EQ(HostDispatcher::Capacity(2, 1, 3, 0), 2);
  EXPECT_EQ(HostDispatcher::GpusPerRun("", 0), 0);
  EXPECT_EQ(HostDispatcher::GpusPerRun("", 2), 2);
  EXPECT_EQ(HostDispatcher::GpusPerRun("3", 2), 3);
  EXPECT_EQ(HostDispatcher::GpusPerRun("all", 0), -1);
  EXPECT_EQ(HostDispatcher::GpusPerRun("device=0,1", 0), -1);
}

}  // namespace
}  // namespace mlcube
