// Leader balancing (parti/assignment/build.cpp): leadership is spread evenly,
// and the partitions whose leader stays are the last to lose it, so a
// partition added to the cluster moves no serving leader when it need not.
#include <gtest/gtest.h>

#include <set>

#include "parti/assignment/strategy.h"

namespace parti {
namespace {

size_t leads_of(const Placement& placement, uint32_t worker) {
  size_t n = 0;
  for (const auto& r : placement) n += r.front() == worker ? 1 : 0;
  return n;
}

TEST(LeaderBalance, ANewPartitionTakesTheFreeLeadershipAndTheSettledOnesKeepTheirs) {
  // Eight partitions led 3 / 3 / 2, every worker a replica of each (RF 3 on
  // three workers); the ninth arrives led by worker 0, which leads 3.
  Placement placement = {{0, 1, 2}, {0, 1, 2}, {0, 1, 2}, {1, 2, 0}, {1, 2, 0},
                         {1, 2, 0}, {2, 0, 1}, {2, 0, 1}, {0, 1, 2}};
  std::vector<bool> settled(9, true);
  settled[8] = false;
  const Placement before = placement;
  balance_leaders(placement, 3, settled);
  for (size_t p = 0; p < 8; ++p) EXPECT_EQ(placement[p], before[p]) << "partition " << p;
  EXPECT_EQ(placement[8].front(), 2u);
  for (uint32_t w = 0; w < 3; ++w) EXPECT_EQ(leads_of(placement, w), 3u) << "worker " << w;
}

TEST(LeaderBalance, SettledLeadersMoveWhenNothingElseCanEvenItOut) {
  Placement placement = {{0, 1}, {0, 1}, {0, 1}, {0, 1}};  // worker 0 leads all four
  balance_leaders(placement, 2, std::vector<bool>(4, true));
  EXPECT_EQ(leads_of(placement, 0), 2u);
  EXPECT_EQ(leads_of(placement, 1), 2u);
}

TEST(LeaderBalance, BuildAssignmentAddsAPartitionWithoutMovingServingLeaders) {
  auto strategy = make_consistent_hash();
  std::vector<WorkerInfo> workers;
  for (int i = 0; i < 3; ++i) workers.push_back({"node-" + std::to_string(i), 1, 1000 + i, {}});
  std::vector<Partition> parts;
  for (int i = 0; i < 8; ++i) parts.push_back({std::to_string(i), 1});
  const Assignment before = build_assignment(*strategy, workers, parts, 3, nullptr, 1);
  parts.push_back({"8", 1});
  const Assignment after = build_assignment(*strategy, workers, parts, 3, &before, 2);
  for (size_t p = 0; p < 8; ++p) {
    EXPECT_EQ(after.replica_ids(p).front(), before.replica_ids(p).front()) << "partition " << p;
  }
  for (const auto& w : workers) EXPECT_LE(after.led_by(w.id).size(), 3u) << w.id;
}

std::vector<WorkerInfo> four_workers_asking(const std::set<std::string>& asking) {
  std::vector<WorkerInfo> workers;
  for (int i = 0; i < 4; ++i) {
    WorkerInfo w{"node-" + std::to_string(i), 1, 1000 + i, {}};
    w.avoid_leading = asking.contains(w.id);
    workers.push_back(w);
  }
  return workers;
}

std::vector<Partition> partitions(int n) {
  std::vector<Partition> parts;
  for (int i = 0; i < n; ++i) parts.push_back({std::to_string(i), 1});
  return parts;
}

std::vector<std::set<std::string>> replica_sets(const Assignment& a) {
  std::vector<std::set<std::string>> out;
  for (size_t p = 0; p < a.replicas.size(); ++p) {
    const auto ids = a.replica_ids(p);
    out.emplace_back(ids.begin(), ids.end());
  }
  return out;
}

TEST(LeaderBalance, AWorkerThatAsksNotToLeadStaysAReplicaAndLeadsNothing) {
  auto strategy = make_consistent_hash();
  const auto parts = partitions(60);
  const Assignment plain =
      build_assignment(*strategy, four_workers_asking({}), parts, 3, nullptr, 1);
  const Assignment asked =
      build_assignment(*strategy, four_workers_asking({"node-2"}), parts, 3, nullptr, 1);
  EXPECT_EQ(replica_sets(asked), replica_sets(plain)) << "only leadership moves";
  EXPECT_TRUE(asked.led_by("node-2").empty());
  for (const char* id : {"node-0", "node-1", "node-3"}) {
    EXPECT_EQ(asked.led_by(id).size(), 20u) << id << ": the others share it evenly";
  }
}

TEST(LeaderBalance, APartitionWhoseEveryReplicaAsksKeepsALeader) {
  auto strategy = make_consistent_hash();
  const auto parts = partitions(12);
  const Assignment a =
      build_assignment(*strategy, four_workers_asking({"node-0", "node-1", "node-2", "node-3"}),
                       parts, 1, nullptr, 1);
  const Assignment plain =
      build_assignment(*strategy, four_workers_asking({}), parts, 1, nullptr, 1);
  EXPECT_EQ(a.replicas, plain.replicas);
  // RF 1: the only replica leads, asked or not.
  const Assignment one =
      build_assignment(*strategy, four_workers_asking({"node-1"}), parts, 1, nullptr, 1);
  EXPECT_EQ(one.replicas, plain.replicas);
}

TEST(LeaderBalance, BalancingNeverGivesALeadershipToAWorkerThatMayNotLead) {
  Placement placement = {{0, 1, 2}, {0, 1, 2}, {0, 2, 1}, {0, 2, 1}};  // worker 0 leads all
  balance_leaders(placement, 3, std::vector<bool>(4, true), {true, false, true});
  EXPECT_EQ(leads_of(placement, 1), 0u);
  EXPECT_EQ(leads_of(placement, 0), 2u);
  EXPECT_EQ(leads_of(placement, 2), 2u);
}

// Assignment::since is stamped only while every worker reads it: a build
// from before it derives epochs from the versions it saw, and would disagree.
TEST(AssignmentSince, IsStampedOnlyWhileEveryWorkerReadsIt) {
  auto strategy = make_consistent_hash();
  std::vector<WorkerInfo> workers;
  for (int i = 0; i < 3; ++i) {
    WorkerInfo w{"node-" + std::to_string(i), 1, 1000 + i, {}};
    w.reads_since = true;
    workers.push_back(w);
  }
  std::vector<Partition> parts;
  for (int i = 0; i < 6; ++i) parts.push_back({std::to_string(i), 1});
  const Assignment v1 = build_assignment(*strategy, workers, parts, 2, nullptr, 1);
  EXPECT_EQ(v1.since, std::vector<uint64_t>(6, 1));
  workers.push_back({"node-old", 1, 900, {}});  // an older build joins
  const Assignment v2 = build_assignment(*strategy, workers, parts, 2, &v1, 2);
  EXPECT_TRUE(v2.since.empty());
  workers.pop_back();  // upgraded away again: every list starts afresh
  const Assignment v3 = build_assignment(*strategy, workers, parts, 2, &v2, 3);
  EXPECT_EQ(v3.since, std::vector<uint64_t>(6, 3));
}

}  // namespace
}  // namespace parti
