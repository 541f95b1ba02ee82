#include "parti/manager/hearing_clock.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace parti {
namespace {

const TimePoint t0 = TimePoint{} + std::chrono::hours(1);

TEST(HearingClockTest, AComebackOpensARejoinWindowAndDeafnessHearsNothing) {
  HearingClock clock(t0, Millis(1600));
  EXPECT_EQ(clock.since(), t0);  // from the start
  clock.on_connection_lost();
  EXPECT_FALSE(clock.since());
  EXPECT_TRUE(clock.on_write_accepted(t0 + Millis(9000)));
  EXPECT_EQ(clock.since(), t0 + Millis(9000));
}

// A server still starting takes connections before its KV takes writes: the
// workers' heartbeats time out too, so the window cannot open before then.
TEST(HearingClockTest, AConnectionBackHearsNothingUntilTheServerAcceptsAWrite) {
  HearingClock clock(t0, Millis(1600));
  clock.on_connection_lost();
  EXPECT_FALSE(clock.since());
  EXPECT_TRUE(clock.on_write_accepted(t0 + Millis(6400)));
  EXPECT_EQ(clock.since(), t0 + Millis(6400));
}

TEST(HearingClockTest, AConnectionThatFlapsFasterThanTheWindowDoesNotKeepItOpen) {
  HearingClock clock(t0, Millis(1600));
  clock.on_connection_lost();
  clock.on_write_accepted(t0 + Millis(5300));
  const TimePoint opened = t0 + Millis(5300);
  // Down and back every 500 ms: each comeback falls in the window still open;
  // it gets a whole window, up to two windows after the one that opened it.
  for (int k = 1; k <= 6; ++k) {
    const TimePoint back = opened + Millis(500 * k);
    clock.on_connection_lost();
    clock.on_write_accepted(back);
    EXPECT_EQ(clock.since(), std::min(back, opened + Millis(1600))) << "comeback " << k;
  }
  // Once it has closed (two windows after it opened), the next comeback opens another.
  clock.on_connection_lost();
  clock.on_write_accepted(opened + Millis(3400));
  EXPECT_EQ(clock.since(), opened + Millis(3400));
}

TEST(HearingClockTest, AnOutageWithinTheStartsWindowGetsAWholeWindowAfterItsComeback) {
  HearingClock clock(t0, Millis(1600));
  clock.on_connection_lost();
  clock.on_write_accepted(t0 + Millis(1400));
  EXPECT_EQ(clock.since(), t0 + Millis(1400)) << "not the 200 ms left of the start's window";
}

TEST(HearingClockTest, WritesAcceptedWithoutAnOutageChangeNothing) {
  HearingClock clock(t0, Millis(1600));
  EXPECT_FALSE(clock.on_write_accepted(t0 + Millis(5000)));  // no outage before it
  EXPECT_EQ(clock.since(), t0);
}

}  // namespace
}  // namespace parti
