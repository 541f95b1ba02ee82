#include "partid/replication/stall_clock.h"

#include <gtest/gtest.h>

namespace partid::replication {
namespace {

using namespace std::chrono_literals;

class StallClockTest : public ::testing::Test {
 protected:
  StallClock clock;
  StallClock::Clock::time_point t0 = StallClock::Clock::time_point{} + 1h;
};

TEST_F(StallClockTest, NothingPendingIsNeverStalled) {
  clock.observe(false, 5, t0);
  EXPECT_EQ(clock.stalled_seconds(t0 + 10s), 0.0);
}

TEST_F(StallClockTest, PendingWorkWithAStillWatermarkGrowsFromWhenTheWorkAppeared) {
  clock.observe(false, 5, t0);
  clock.observe(true, 5, t0 + 3s);  // work appears long after the last progress
  clock.observe(true, 5, t0 + 4s);
  EXPECT_DOUBLE_EQ(clock.stalled_seconds(t0 + 6s), 3.0);
}

TEST_F(StallClockTest, AMovingWatermarkRestartsItAndFinishedWorkClearsIt) {
  clock.observe(true, 5, t0);
  clock.observe(true, 6, t0 + 2s);  // progress while more is pending: steady writes
  EXPECT_DOUBLE_EQ(clock.stalled_seconds(t0 + 3s), 1.0);
  clock.observe(false, 7, t0 + 4s);
  EXPECT_EQ(clock.stalled_seconds(t0 + 9s), 0.0);
}

}  // namespace
}  // namespace partid::replication
