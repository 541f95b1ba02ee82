#include "parti/core/hlc.h"

#include <gtest/gtest.h>

namespace parti {

TEST(Hlc, TickIsStrictlyIncreasingEvenWhenWallClockStalls) {
  HybridLogicalClock c;
  auto a = c.tick(1000);
  auto b = c.tick(1000);
  auto d = c.tick(999);  // wall clock stepped back
  EXPECT_LT(a, b);
  EXPECT_LT(b, d);
  EXPECT_EQ(d.physical_ms, 1000);
}

TEST(Hlc, MergeExceedsBothLocalAndRemote) {
  HybridLogicalClock c;
  c.tick(1000);
  HlcTimestamp remote{5000, 7};
  auto m = c.merge(remote, 1200);
  EXPECT_GT(m, remote);
  EXPECT_EQ(m.physical_ms, 5000);
  EXPECT_EQ(m.logical, 8u);
  EXPECT_GT(c.tick(1300), m);
}

TEST(Hlc, MergeWithOlderRemoteAdvancesLocally) {
  HybridLogicalClock c;
  auto local = c.tick(9000);
  auto m = c.merge({100, 3}, 8000);
  EXPECT_GT(m, local);
  EXPECT_EQ(m.physical_ms, 9000);
}

}  // namespace parti
