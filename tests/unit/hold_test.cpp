// api::worth_holding: which refusals the node a client reached retries.
#include "partid/api/hold.h"

#include <gtest/gtest.h>

namespace partid::api {
namespace {

using K = Route::Kind;

bool worth_holding(K kind, int status, std::string_view body) {
  Route route;
  route.kind = kind;
  return api::worth_holding(route, status, body);
}

std::string refusal(const std::string& code) {
  return R"({"error":{"code":")" + code + R"(","message":"m"}})";
}

TEST(HoldTest, WritesAreRetriedOnlyAfterRefusalsThatProveNothingWasWritten) {
  for (const char* code : {"no_assignment", "routing_loop", "hop_limit", "leader_unreachable",
                           "partition_locked", "peer_circuit_open", "forward_failed", "not_leader",
                           "partition_not_ready", "partition_splitting", "partition_moved"}) {
    EXPECT_TRUE(worth_holding(K::PutItem, 503, refusal(code))) << code;
    EXPECT_TRUE(worth_holding(K::DeleteItem, 503, refusal(code))) << code;
  }
  // Outcome unknown: a retry could apply the write twice or over a newer one.
  for (const char* code : {"leadership_lost", "overloaded", "leadership_unconfirmed"}) {
    EXPECT_FALSE(worth_holding(K::PutItem, 503, refusal(code))) << code;
  }
  EXPECT_FALSE(worth_holding(K::PutItem, 504, refusal("quorum_timeout")));
  EXPECT_FALSE(worth_holding(K::PutItem, 504, refusal("forward_interrupted")));
  EXPECT_FALSE(worth_holding(K::PutItem, 200, "{}"));
  EXPECT_FALSE(worth_holding(K::PutItem, 503, "not json"));
}

TEST(HoldTest, ABatchIsRetriedOnlyWhenRefusedWhole) {
  EXPECT_TRUE(worth_holding(K::PutBatch, 503, refusal("leader_unreachable")));
  // Some items may have been written: per-item results mean no retry.
  const std::string partial =
      R"({"results":[{"sequence":1},{"error":{"code":"not_leader"}}],"error":{"code":"not_leader"}})";
  EXPECT_FALSE(worth_holding(K::PutBatch, 503, partial));
}

TEST(HoldTest, ReadsAreRetriedOnAnyUnavailableButNothingElseIs) {
  EXPECT_TRUE(worth_holding(K::GetItem, 503, refusal("leadership_unconfirmed")));
  EXPECT_TRUE(worth_holding(K::GetItems, 503, refusal("anything")));
  EXPECT_FALSE(worth_holding(K::GetItem, 404, refusal("not_found")));
  EXPECT_FALSE(worth_holding(K::GetItem, 504, refusal("forward_timeout")));
  EXPECT_FALSE(worth_holding(K::Admin, 503, refusal("not_leader")));
  EXPECT_FALSE(worth_holding(K::Status, 503, refusal("not_leader")));
}

TEST(HoldTest, PausesDoubleFromTenToAHundredAndSixtyMilliseconds) {
  EXPECT_EQ(hold_pause(1).count(), 10);
  EXPECT_EQ(hold_pause(2).count(), 20);
  EXPECT_EQ(hold_pause(5).count(), 160);
  EXPECT_EQ(hold_pause(50).count(), 160);
}

}  // namespace
}  // namespace partid::api
