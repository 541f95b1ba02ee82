// SlowDiskJudge (replication/slow_disk.h): when a node's disk counts as slow,
// so that the node asks not to lead, and when it counts as fast again.
#include "partid/replication/slow_disk.h"

#include <gtest/gtest.h>

namespace partid::replication {
namespace {

using std::chrono::milliseconds;
using Clock = SlowDiskJudge::Clock;

class SlowDiskTest : public ::testing::Test {
 protected:
  // Threshold 100 ms, calm 1 s, the last 5 writes.
  SlowDiskJudge judge{{milliseconds(100), milliseconds(1000), 5}};
  Clock::time_point t = Clock::time_point{} + std::chrono::hours(1);
  // `n` writes that took `took` each, one after the other.
  void writes(int n, milliseconds took) {
    for (int i = 0; i < n; ++i) {
      t += took;
      judge.observe(took);
    }
  }
  bool judged() { return judge.judge(t, {}); }
};

TEST_F(SlowDiskTest, FastWritesAreNotSlow) {
  writes(50, milliseconds(2));
  EXPECT_FALSE(judged());
  EXPECT_EQ(judge.median(), milliseconds(2));
}

TEST_F(SlowDiskTest, MostOfTheLastWritesAtTheThresholdAreSlow) {
  writes(2, milliseconds(150));
  EXPECT_FALSE(judged()) << "two writes are not evidence enough";
  writes(2, milliseconds(2));
  writes(1, milliseconds(150));
  EXPECT_TRUE(judged()) << "three of the last five";
  EXPECT_TRUE(judge.slow());
}

TEST_F(SlowDiskTest, AFastPastDoesNotDelayTheJudgment) {
  writes(100000, milliseconds(1));  // a busy, healthy disk
  writes(2, milliseconds(150));
  EXPECT_FALSE(judged());
  writes(1, milliseconds(150));
  EXPECT_TRUE(judged()) << "as soon as most of the last writes were slow";
}

TEST_F(SlowDiskTest, AFewLongWritesAmongFastOnesAreNotSlow) {
  writes(20, milliseconds(2));
  writes(2, milliseconds(5000));  // a large snapshot installed, say
  writes(1, milliseconds(2));
  EXPECT_FALSE(judged());
}

TEST_F(SlowDiskTest, TheWriteInFlightCountsOncePastTheThreshold) {
  writes(3, milliseconds(2));
  writes(2, milliseconds(150));
  EXPECT_FALSE(judge.judge(t, milliseconds(99))) << "two of the last five";
  EXPECT_TRUE(judge.judge(t, milliseconds(100))) << "and the one waiting: three of six";
}

TEST_F(SlowDiskTest, FastAgainOnlyBelowHalfTheThresholdAndACalmAfterItWasLastSlow) {
  writes(5, milliseconds(200));
  ASSERT_TRUE(judged());
  const auto slow_at = t;
  writes(5, milliseconds(60));  // below the threshold, not below half of it
  EXPECT_TRUE(judged());
  writes(5, milliseconds(2));
  ASSERT_LT(t - slow_at, milliseconds(1000));
  EXPECT_TRUE(judged()) << "fast, but not calm for long enough since it was last slow";
  t = slow_at + milliseconds(1000);
  EXPECT_FALSE(judged());
}

TEST_F(SlowDiskTest, WithoutWritesTheJudgmentStays) {
  writes(10, milliseconds(200));
  ASSERT_TRUE(judged());
  t += std::chrono::hours(1);
  EXPECT_TRUE(judged()) << "no evidence that it is fast";
}

TEST_F(SlowDiskTest, AZeroThresholdNeverJudgesSlow) {
  SlowDiskJudge off{{milliseconds(0), milliseconds(1000), 5}};
  for (int i = 0; i < 10; ++i) off.observe(std::chrono::seconds(10));
  EXPECT_FALSE(off.judge(t, std::chrono::seconds(30)));
}

}  // namespace
}  // namespace partid::replication
