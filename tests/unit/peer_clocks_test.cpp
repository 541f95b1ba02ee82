// The offset between two wall clocks from one ping, as NTP estimates it, and
// a peer's time read on this node's clock through it (PeerClocks).
#include "partid/peer/peer_clocks.h"

#include <gtest/gtest.h>

namespace partid::peer {
namespace {

using std::chrono::milliseconds;
using Steady = PeerClocks::Steady;

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

TEST(PeerClocksTest, APeerNotMeasuredIsTakenAtItsWordWithinTheAssumedBound) {
  const PeerClocks clocks(milliseconds(500));
  const OnOurClock t = clocks.on_our_clock("b", 10'000, Steady::now());
  EXPECT_EQ(t.unix_ms, 10'000u);
  EXPECT_EQ(t.margin, milliseconds(500));
}

TEST(PeerClocksTest, APeersTimeIsMovedByItsMeasuredOffsetWithinTheMeasurementsUncertainty) {
  PeerClocks clocks(milliseconds(500));
  const auto at = Steady::now();
  clocks.record("ahead", {3'000, 2}, at);
  clocks.record("behind", {-3'000, 1}, at);
  const OnOurClock a = clocks.on_our_clock("ahead", 10'000, at);
  EXPECT_EQ(a.unix_ms, 7'000u) << "3 s ahead: its 10.0 s is our 7.0 s";
  EXPECT_EQ(a.margin, milliseconds(2));
  const OnOurClock b = clocks.on_our_clock("behind", 10'000, at);
  EXPECT_EQ(b.unix_ms, 13'000u);
  EXPECT_EQ(b.margin, milliseconds(1));
}

TEST(PeerClocksTest, AMeasurementGrowsLessCertainAsItAges) {
  PeerClocks clocks(milliseconds(500));
  const auto at = Steady::now();
  clocks.record("b", {100, 2}, at);
  EXPECT_EQ(clocks.offset("b", at)->uncertainty_ms, 2);
  EXPECT_EQ(clocks.offset("b", at + milliseconds(1))->uncertainty_ms, 3) << "rounded up";
  EXPECT_EQ(clocks.offset("b", at + milliseconds(10'000))->uncertainty_ms,
            2 + 10 * PeerClocks::kDriftPerSecond);
  EXPECT_EQ(clocks.offset("b", at + milliseconds(10'000))->offset_ms, 100);
}

TEST(PeerClocksTest, AMeasurementIsKeptUntilItsPeerLeaves) {
  PeerClocks clocks(milliseconds(500));
  const auto at = Steady::now();
  clocks.record("old", {3'000, 1}, at);
  clocks.record("gone", {10'000, 1}, at);
  EXPECT_EQ(clocks.largest_offset_ms(), 10'000);
  const auto hour_later = at + std::chrono::hours(1);
  EXPECT_EQ(clocks.on_our_clock("old", 10'000, hour_later).unix_ms, 7'000u)
      << "a peer unheard for an hour sent what arrives now by the clock last measured";
  EXPECT_EQ(clocks.on_our_clock("old", 10'000, hour_later).margin,
            milliseconds(1 + 3'600 * PeerClocks::kDriftPerSecond));
  clocks.keep_only({"old"});
  EXPECT_FALSE(clocks.offset("gone", at).has_value());
  EXPECT_EQ(clocks.on_our_clock("gone", 10'000, at).margin, milliseconds(500));
  EXPECT_EQ(clocks.largest_offset_ms(), 3'000);
}

TEST(PeerClocksTest, ATimeBeforeTheEpochOnOurClockStaysATime) {
  PeerClocks clocks(milliseconds(0));
  clocks.record("far", {5'000, 0}, Steady::now());
  EXPECT_EQ(clocks.on_our_clock("far", 1'000, Steady::now()).unix_ms, 1u)
      << "0 would read as no deadline at all";
}

TEST(PeerClocksTest, APeerMayRunAheadByItsOffsetAndItsUncertaintyOrTheBoundWhenNotMeasured) {
  PeerClocks clocks(milliseconds(500));
  const auto at = Steady::now();
  clocks.record("ahead", {3'000, 2}, at);
  clocks.record("behind", {-3'000, 2}, at);
  clocks.record("close", {-1, 2}, at);
  EXPECT_EQ(clocks.ahead_at_most("ahead", at), milliseconds(3'002));
  EXPECT_EQ(clocks.ahead_at_most("ahead", at + milliseconds(10'000)),
            milliseconds(3'002 + 10 * PeerClocks::kDriftPerSecond));
  EXPECT_EQ(clocks.ahead_at_most("behind", at), milliseconds(0));
  EXPECT_EQ(clocks.ahead_at_most("close", at), milliseconds(1)) << "within its uncertainty";
  EXPECT_EQ(clocks.ahead_at_most("unknown", at), milliseconds(500));
}

}  // namespace
}  // namespace partid::peer
