// InstallLane: the order of snapshot installs beside the group commit's
// batches: an install after what was added before it, its partition's next
// steps after it, one install on the disk at a time.
#include "partid/replication/install_lane.h"

#include <gtest/gtest.h>

namespace partid::replication {
namespace {

CommitStep install(uint32_t partition) {
  storage::change::ReplaceState r;
  r.partition = partition;
  r.items = storage::items_of({});
  return {partition, {r}, {}};
}

CommitStep save(uint32_t partition, uint64_t watermark) {
  return {partition, {storage::change::SaveState{partition, 1, watermark, false}}, {}};
}

const InstallLane::Clock::time_point t0{};

uint64_t watermark_of(const CommitStep& s) {
  return std::get<storage::change::SaveState>(s.changes.front()).watermark;
}

TEST(InstallLaneTest, OnlyAReplaceStateGoesToTheLane) {
  EXPECT_TRUE(installs_snapshot(install(1).changes));
  EXPECT_FALSE(installs_snapshot(save(1, 2).changes));
  EXPECT_FALSE(installs_snapshot({}));
}

TEST(InstallLaneTest, AnInstallStartsOnceTheBatchesBeforeItAreDone) {
  InstallLane lane;
  lane.queue(install(4), 2, t0);
  EXPECT_TRUE(lane.holds(4));
  EXPECT_FALSE(lane.holds(5));
  EXPECT_EQ(lane.start(1, t0), nullptr);
  auto writing = lane.start(2, t0 + std::chrono::seconds(3));
  ASSERT_NE(writing, nullptr);
  EXPECT_EQ(lane.waited(), std::chrono::seconds(3));
  EXPECT_EQ(lane.writing_since(), t0 + std::chrono::seconds(3));
  EXPECT_EQ(writing->partition, 4u);
  EXPECT_TRUE(lane.writing());
  EXPECT_TRUE(lane.holds(4));  // until durable
}

TEST(InstallLaneTest, ItsPartitionsStepsComeBackAfterItInTheirOrder) {
  InstallLane lane;
  lane.queue(install(4), 0, t0);
  lane.park(save(4, 10));
  lane.park(save(4, 11));
  ASSERT_NE(lane.start(0, t0), nullptr);
  auto steps = lane.finish();
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_TRUE(installs_snapshot(steps[0].changes));
  EXPECT_EQ(watermark_of(steps[1]), 10u);
  EXPECT_EQ(watermark_of(steps[2]), 11u);
  EXPECT_FALSE(lane.holds(4));
  EXPECT_FALSE(lane.writing());
  EXPECT_TRUE(lane.empty());
}

TEST(InstallLaneTest, OneInstallIsWrittenAtATimeInTheOrderAdded) {
  InstallLane lane;
  lane.queue(install(7), 0, t0);
  lane.queue(install(3), 0, t0);
  auto first = lane.start(5, t0);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->partition, 7u);
  EXPECT_EQ(lane.start(5, t0), nullptr);  // one on the disk at a time
  EXPECT_EQ(lane.finish().size(), 1u);
  EXPECT_TRUE(lane.holds(3));
  auto second = lane.start(5, t0);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->partition, 3u);
}

TEST(InstallLaneTest, FinishingWithNothingWrittenReturnsNothing) {
  InstallLane lane;
  EXPECT_TRUE(lane.finish().empty());
  EXPECT_TRUE(lane.empty());
}

}  // namespace
}  // namespace partid::replication
