// The offset between two wall clocks from one ping, as NTP estimates it, and
// when it is certainly past a limit.
#include "partid/node/clock_probe.h"

#include <gtest/gtest.h>

namespace partid::node {
namespace {

using std::chrono::milliseconds;

TEST(ClockOffsetTest, ThePeersClockIsComparedWithTheMiddleOfTheRoundTrip) {
  const ClockOffset ahead = estimate_offset(1'000, 1'305, 1'010);
  EXPECT_EQ(ahead.offset_ms, 300);
  EXPECT_EQ(ahead.uncertainty_ms, 5);
  const ClockOffset behind = estimate_offset(1'000, 800, 1'000);
  EXPECT_EQ(behind.offset_ms, -200);
  EXPECT_EQ(behind.uncertainty_ms, 0);
}

TEST(ClockOffsetTest, AClockThatWentBackDuringThePingCountsAsNoRoundTrip) {
  const ClockOffset o = estimate_offset(1'000, 1'000, 990);
  EXPECT_EQ(o.offset_ms, 0);
  EXPECT_EQ(o.uncertainty_ms, 0);
}

TEST(ClockOffsetTest, AnOffsetIsPastALimitOnlyBeyondWhatTheRoundTripHides) {
  EXPECT_FALSE(certainly_beyond({300, 60}, milliseconds(250)));
  EXPECT_TRUE(certainly_beyond({300, 40}, milliseconds(250)));
  EXPECT_TRUE(certainly_beyond({-300, 40}, milliseconds(250)));
  EXPECT_FALSE(certainly_beyond({0, 0}, milliseconds(0)));
}

}  // namespace
}  // namespace partid::node
