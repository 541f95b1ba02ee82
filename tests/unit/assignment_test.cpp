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

TEST(Assignment, SinceRoundTripsAndIsCheckedAgainstTheVersion) {
  auto a = small_assignment();
  a.since = {7, 5, 1};
  auto back = decode_assignment(encode(a), nullptr);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->since, a.since);
  a.since = {7, 5};
  EXPECT_FALSE(decode_assignment(encode(a), nullptr));
  a.since = {7, 8, 1};  // later than the assignment itself
  EXPECT_FALSE(decode_assignment(encode(a), nullptr));
  a.since = {7, 0, 1};
  EXPECT_FALSE(decode_assignment(encode(a), nullptr));
}

// A staged step says so; an assignment that does not (an older coordinator's,
// or a final one) reads as final.
TEST(Assignment, InterimRoundTripsAndIsFinalWhenAbsent) {
  auto a = small_assignment();
  a.interim = true;
  auto back = decode_assignment(encode(a), nullptr);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->interim);
  a.interim = false;
  EXPECT_EQ(encode(a).find("interim"), std::string::npos);
  EXPECT_FALSE(decode_assignment(encode(a), nullptr)->interim);
}

// The epochs partid derives from `since` must not depend on which versions
// a reader saw: it is carried from the replaced assignment by the
// coordinator, by partition id, through worker-index renumbering.
TEST(Assignment, SinceKeepsTheVersionOfAnUnchangedReplicaList) {
  auto v7 = small_assignment();
  v7.stamp_since(nullptr);
  EXPECT_EQ(v7.since, (std::vector<uint64_t>{7, 7, 7}));
  Assignment v8 = v7;
  v8.version = 8;
  v8.workers = {"node-1", "node-2", "node-3"};  // node-0 gone: indices shift
  v8.partitions = {{"d", 1}, {"c", 1}, {"b", 2}};
  v8.replicas = {{0, 1}, {1, 2}, {0, 1}};  // d new; c now node-2,node-3; b still node-1,node-2
  v8.stamp_since(&v7);
  EXPECT_EQ(v8.since, (std::vector<uint64_t>{8, 8, 7}));
  Assignment v9 = v8;
  v9.version = 9;
  v9.replicas = {{1, 0}, {1, 2}, {0, 1}};  // d's leader changes: a new list
  v9.stamp_since(&v8);
  EXPECT_EQ(v9.since, (std::vector<uint64_t>{9, 8, 7}));
  Assignment old_format = v8;
  old_format.since.clear();  // published before `since` existed
  v9.stamp_since(&old_format);
  EXPECT_EQ(v9.since, (std::vector<uint64_t>{9, 9, 9}));
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
