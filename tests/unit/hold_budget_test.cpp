// The node-wide budget for held logs: within it nothing ends; past it the
// largest holds end first, and no more of them than it takes.
#include "partid/replication/hold_budget.h"

#include <gtest/gtest.h>

namespace partid::replication {
namespace {

using Ended = std::vector<uint32_t>;

TEST(HoldBudget, HoldsWithinTheBudgetAllStay) {
  EXPECT_EQ(holds_past_budget({{1, 40}, {2, 60}}, 100), Ended{});
  EXPECT_EQ(holds_past_budget({}, 0), Ended{});
}

TEST(HoldBudget, PastTheBudgetTheLargestHoldsEndFirstAndOnlyAsManyAsItTakes) {
  // 170 held, 100 allowed: ending 80 alone suffices.
  EXPECT_EQ(holds_past_budget({{1, 30}, {2, 80}, {3, 60}}, 100), Ended{2});
  // 230 held, 60 allowed: 90 and then 80 end; 60 stays.
  EXPECT_EQ(holds_past_budget({{1, 60}, {2, 80}, {3, 90}}, 60), (Ended{3, 2}));
}

TEST(HoldBudget, EqualHoldsEndInPartitionOrderAndAZeroBudgetEndsThemAll) {
  EXPECT_EQ(holds_past_budget({{7, 50}, {3, 50}, {5, 50}}, 100), Ended{3});
  EXPECT_EQ(holds_past_budget({{7, 50}, {3, 50}}, 0), (Ended{3, 7}));
}

}  // namespace
}  // namespace partid::replication
