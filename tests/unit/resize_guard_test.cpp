// The resize guard's decision, from GET /cluster/resize summaries.
#include "partid/api/resize_guard.h"

#include <gtest/gtest.h>

#include "partid/api/route.h"

namespace partid::api {
namespace {

using nlohmann::json;

json summary(json moving, json unreachable = json::array()) {
  return {{"moving", std::move(moving)}, {"unreachable", std::move(unreachable)}};
}

json moving(uint32_t p, const std::string& state, bool snapshot = false) {
  return {{"partition", p}, {"state", state}, {"behind", 3}, {"snapshot", snapshot}};
}

}  // namespace

TEST(ResizeGuardTest, ASettledClusterMayResize) {
  EXPECT_FALSE(resize_in_progress(summary(json::array())));
}

TEST(ResizeGuardTest, FollowersCatchingUpFromTheLogDoNotHoldAResizeBack) {
  EXPECT_FALSE(resize_in_progress(summary({moving(1, "catching_up"), moving(7, "catching_up")})));
}

TEST(ResizeGuardTest, ASnapshotCopyHoldsAResizeBack) {
  const auto why = resize_in_progress(summary({moving(1, "catching_up", true)}));
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("1 partition still moving (1 copying a snapshot)"), std::string::npos)
      << *why;
}

TEST(ResizeGuardTest, HandoffsSealingAndAbsentLeadersHoldAResizeBackAndAreCounted) {
  const auto why = resize_in_progress(
      summary({moving(0, "sealing"), moving(1, "handing_over"), moving(2, "sealing"),
               moving(3, "awaiting_leader"), moving(4, "catching_up")}));
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("4 partitions still moving (1 awaiting_leader, 1 handing_over, 2 sealing)"),
            std::string::npos)
      << *why;
  EXPECT_NE(why->find("force=true"), std::string::npos) << *why;
}

TEST(ResizeGuardTest, AnUnreachableNodeHoldsAResizeBackAndIsNamed) {
  const auto why = resize_in_progress(
      summary({moving(5, "leader_unreachable")}, json::array({"node-2", "node-4"})));
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("(1 leader_unreachable); node-2, node-4 unreachable"), std::string::npos)
      << *why;
}

// Between two steps of a staged move every partition may look settled; the
// assignment says more steps follow.
TEST(ResizeGuardTest, AStagedStepHoldsAResizeBackEvenWhenEveryPartitionLooksSettled) {
  json between_steps = summary(json::array());
  between_steps["staged_step"] = true;
  const auto why = resize_in_progress(between_steps);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("a resize is in progress: the assignment is a step of a staged move"),
            std::string::npos)
      << *why;
  between_steps["moving"] = json::array({moving(3, "sealing")});
  EXPECT_NE(resize_in_progress(between_steps)->find("(1 sealing); the assignment is a step"),
            std::string::npos);
}

TEST(ResizeGuardTest, TheForceFlagAcceptsTrueFalseOneAndZeroOnly) {
  Route r;
  bool force = false;
  EXPECT_TRUE(query_flag(r, "force", &force));
  EXPECT_FALSE(force);
  for (const char* yes : {"true", "1"}) {
    r.query["force"] = yes;
    force = false;
    EXPECT_TRUE(query_flag(r, "force", &force));
    EXPECT_TRUE(force) << yes;
  }
  for (const char* no : {"false", "0"}) {
    r.query["force"] = no;
    force = true;
    EXPECT_TRUE(query_flag(r, "force", &force));
    EXPECT_FALSE(force) << no;
  }
  r.query["force"] = "yes";
  EXPECT_FALSE(query_flag(r, "force", &force));
}

}  // namespace partid::api
