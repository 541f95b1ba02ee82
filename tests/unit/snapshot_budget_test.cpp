// SnapshotBudget: what a leader's built snapshots hold, and when a build may start.
#include "partid/replication/snapshot_budget.h"

#include <gtest/gtest.h>

namespace partid::replication {
namespace {

TEST(SnapshotBudgetTest, BytesCountAsHeldUntilTheirLastCopyIsDropped) {
  SnapshotBudget budget(100);
  core::SnapshotBytes a = budget.hold(std::string(60, 'a'));
  EXPECT_EQ(*a, std::string(60, 'a'));
  core::SnapshotBytes copy = a;
  core::SnapshotBytes b = budget.hold(std::string(30, 'b'));
  EXPECT_EQ(budget.held(), 90u);
  a.reset();
  EXPECT_EQ(budget.held(), 90u);  // the copy still holds them
  copy.reset();
  EXPECT_EQ(budget.held(), 30u);
  b.reset();
  EXPECT_EQ(budget.held(), 0u);
}

TEST(SnapshotBudgetTest, ABuildMayStartUnderTheBudgetAndAlwaysWhenNothingIsHeld) {
  SnapshotBudget budget(100);
  const SnapshotBudget handle = budget;  // a copy shares the count
  EXPECT_TRUE(budget.has_room());
  auto big = budget.hold(std::string(500, 'x'));  // larger than the budget: allowed alone
  EXPECT_FALSE(handle.has_room());
  big.reset();
  auto under = handle.hold(std::string(99, 'x'));
  EXPECT_TRUE(budget.has_room());
  auto at = budget.hold(std::string(1, 'x'));
  EXPECT_FALSE(budget.has_room());
  at.reset();
  EXPECT_TRUE(budget.has_room());
}

TEST(SnapshotBudgetTest, BytesOutlivingTheBudgetAreStillReleasedSafely) {
  core::SnapshotBytes kept;
  {
    SnapshotBudget budget(10);
    kept = budget.hold("abc");
  }
  EXPECT_EQ(*kept, "abc");
  kept.reset();  // the count it decrements lives on with the bytes
}

}  // namespace
}  // namespace partid::replication
