#include "parti/core/assignment.h"

#include <gtest/gtest.h>

namespace parti {

Assignment small_assignment() {
  Assignment a;
  a.version = 7;
  a.leader_term = 3;
  a.leader = "node-0";
  a.replication_factor = 2;
  a.workers = {"node-0", "node-1", "node-2"};
  a.partitions = {{"a", 1}, {"b", 2}, {"c", 1}};
  a.replicas = {{0, 1}, {1, 2}, {2, 0}};
  return a;
}

TEST(Assignment, RoundTrips) {
  auto a = small_assignment();
  std::string err;
  auto back = decode_assignment(encode(a), &err);
  ASSERT_TRUE(back) << err;
  EXPECT_EQ(*back, a);
}

TEST(Assignment, RejectsMalformed) {
  auto a = small_assignment();
  a.replicas[1] = {1, 1};
  EXPECT_FALSE(decode_assignment(encode(a), nullptr));
  a = small_assignment();
  a.replicas[0] = {0, 9};
  EXPECT_FALSE(decode_assignment(encode(a), nullptr));
  a = small_assignment();
  a.replicas.pop_back();
  EXPECT_FALSE(decode_assignment(encode(a), nullptr));
  EXPECT_FALSE(decode_assignment("{\"version\":1}", nullptr));
  EXPECT_FALSE(decode_assignment("garbage", nullptr));
}

TEST(Assignment, RolesAndDeltasAreReal) {
  auto before = small_assignment();
  EXPECT_EQ(before.partitions_of("node-0"), (std::set<std::string>{"a", "c"}));
  EXPECT_EQ(before.led_by("node-0"), (std::set<std::string>{"a"}));
  auto after = before;
  after.version = 8;
  after.replicas = {{1, 2}, {1, 0}, {2, 0}};
  auto d = diff_for_worker(before, after, "node-0");
  EXPECT_EQ(d.added, (std::set<std::string>{"b"}));
  EXPECT_EQ(d.removed, (std::set<std::string>{"a"}));
  EXPECT_TRUE(diff_for_worker(before, after, "node-1").empty());
}

}  // namespace parti
