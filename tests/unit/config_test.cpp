#include "parti/core/config.h"

#include <gtest/gtest.h>

#include "parti/manager/manager_state.h"

namespace parti {

TEST(Config, DefaultsAndFastTimingsAreValid) {
  Config c;
  EXPECT_TRUE(validate(c).empty());
  c.timings = fast_timings();
  EXPECT_TRUE(validate(c).empty());
}

TEST(Config, EachBrokenRuleIsReported) {
  Config c;
  c.timings.heartbeat_ttl = c.timings.heartbeat_interval;
  c.replication_factor = 0;
  c.bucket_prefix = "bad.prefix";
  c.restart_ratio = 1.5;
  c.kv_replicas = 7;
  EXPECT_EQ(validate(c).size(), 5u);
}

TEST(ManagerState, OnlyListedTransitionsAreValid) {
  using S = ManagerState;
  EXPECT_TRUE(is_valid_transition(S::Init, S::ClaimingID));
  EXPECT_FALSE(is_valid_transition(S::Init, S::Stable));
  EXPECT_TRUE(is_valid_transition(S::WaitingAssignment, S::Stable));
  EXPECT_TRUE(is_valid_transition(S::Stable, S::Scaling));
  EXPECT_TRUE(is_valid_transition(S::Scaling, S::Rebalancing));
  EXPECT_TRUE(is_valid_transition(S::Stable, S::Degraded));
  EXPECT_TRUE(is_valid_transition(S::Degraded, S::Stable));
  EXPECT_FALSE(is_valid_transition(S::Degraded, S::Emergency));
  EXPECT_FALSE(is_valid_transition(S::Shutdown, S::Stable));
  EXPECT_FALSE(is_valid_transition(S::Stable, S::Stable));
  for (int s = 0; s <= int(S::Shutdown); ++s) {
    if (S(s) != S::Shutdown) {
      EXPECT_TRUE(is_valid_transition(S(s), S::Shutdown));
    }
  }
}

}  // namespace parti
