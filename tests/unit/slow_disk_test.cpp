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
  SlowDiskJudge judge{{milliseconds(100), milliseconds(1000), 5}};
  Clock::time_point t = Clock::time_point{} + std::chrono::hours(1);
  // `n` writes that took `took` each, one every `every`.
  void writes(int n, milliseconds took, milliseconds every = milliseconds(10)) {
    for (int i = 0; i < n; ++i) {
      t += every;
      judge.observe(took, t);
    }
  }
  bool judged() { return judge.judge(t, {}); }
};

TEST_F(SlowDiskTest, FastWritesAreNotSlow) {
  writes(50, milliseconds(2));
  EXPECT_FALSE(judged());
  EXPECT_EQ(judge.median(), milliseconds(2));
}

TEST_F(SlowDiskTest, AMedianAtTheThresholdIsSlowOnEnoughWrites) {
  writes(4, milliseconds(150));
  EXPECT_FALSE(judged()) << "four writes are not evidence enough";
  writes(1, milliseconds(150));
  EXPECT_TRUE(judged());
  EXPECT_TRUE(judge.slow());
}

TEST_F(SlowDiskTest, AFewLongWritesAmongFastOnesAreNotSlow) {
  writes(20, milliseconds(2));
  writes(3, milliseconds(5000));  // a large snapshot installed, say
  EXPECT_FALSE(judged());
}

TEST_F(SlowDiskTest, ADiskSoSlowItFinishesFewWritesIsJudgedOnItsLastOnes) {
  writes(5, milliseconds(3000), milliseconds(3000));  // one per 3 s, a window of 1 s
  EXPECT_TRUE(judged());
}

TEST_F(SlowDiskTest, TheWriteInFlightCountsOncePastTheThreshold) {
  writes(4, milliseconds(150));
  EXPECT_FALSE(judge.judge(t, milliseconds(99)));
  EXPECT_TRUE(judge.judge(t, milliseconds(100)));
}

TEST_F(SlowDiskTest, FastAgainOnlyBelowHalfTheThresholdAndAWholeWindowAfterItWasLastSlow) {
  writes(10, milliseconds(200));
  ASSERT_TRUE(judged());
  const auto slow_at = t;
  writes(30, milliseconds(60));  // below the threshold, not below half of it
  EXPECT_TRUE(judged());
  writes(100, milliseconds(2), milliseconds(5));
  ASSERT_EQ(t - slow_at, milliseconds(800));
  EXPECT_TRUE(judged()) << "fast, but not a whole window since it was last slow";
  writes(50, milliseconds(2), milliseconds(5));
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
  for (int i = 0; i < 10; ++i) off.observe(std::chrono::seconds(10), t);
  EXPECT_FALSE(off.judge(t, std::chrono::seconds(30)));
}

}  // namespace
}  // namespace partid::replication
