#include "parti/manager/hearing_clock.h"

#include <gtest/gtest.h>

namespace parti {
namespace {

const TimePoint t0 = TimePoint{} + std::chrono::hours(1);

TEST(HearingClockTest, AComebackOpensARejoinWindowAndDeafnessHearsNothing) {
  HearingClock clock(t0, Millis(1600));
  EXPECT_EQ(clock.since(), t0);  // from the start
  clock.on_connection(false, t0 + Millis(5000));
  EXPECT_FALSE(clock.since());
  clock.on_connection(true, t0 + Millis(9000));
  EXPECT_EQ(clock.since(), t0 + Millis(9000));
}

TEST(HearingClockTest, AConnectionThatFlapsFasterThanTheWindowDoesNotKeepItOpen) {
  HearingClock clock(t0, Millis(1600));
  clock.on_connection(false, t0 + Millis(5000));
  clock.on_connection(true, t0 + Millis(5300));
  const TimePoint window = t0 + Millis(5300);
  // Down and back every 500 ms: each comeback falls in the window still open.
  for (int k = 1; k <= 3; ++k) {
    clock.on_connection(false, window + Millis(500 * k - 200));
    clock.on_connection(true, window + Millis(500 * k));
    EXPECT_EQ(clock.since(), window) << "comeback " << k;
  }
  // Once it has closed, the next comeback opens another.
  clock.on_connection(false, window + Millis(1700));
  clock.on_connection(true, window + Millis(1900));
  EXPECT_EQ(clock.since(), window + Millis(1900));
}

TEST(HearingClockTest, ARepeatedUpChangesNothing) {
  HearingClock clock(t0, Millis(1600));
  clock.on_connection(true, t0 + Millis(5000));  // no outage before it
  EXPECT_EQ(clock.since(), t0);
}

}  // namespace
}  // namespace parti
