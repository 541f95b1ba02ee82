#include "parti/assignment/strategy.h"

#include <gtest/gtest.h>

#include <map>

#include "parti/source/partition_source.h"

namespace parti {

std::vector<WorkerInfo> workers(int n, uint32_t weight = 1) {
  std::vector<WorkerInfo> out;
  for (int i = 0; i < n; ++i) out.push_back({"node-" + std::to_string(i), weight, 0, {}});
  return out;
}

std::map<std::string, int> leader_counts(const Assignment& a) {
  std::map<std::string, int> c;
  for (const auto& r : a.replicas) ++c[a.workers[r.front()]];
  return c;
}

class EveryStrategy : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryStrategy, EveryPartitionGetsDistinctReplicasForAnyRf) {
  auto s = make_strategy(GetParam());
  auto parts = numbered_partitions(200);
  for (uint32_t rf : {1u, 2u, 3u, 5u}) {
    for (int n : {1, 2, 3, 7}) {
      auto a = build_assignment(*s, workers(n), parts, rf, nullptr, 1);
      std::string why;
      EXPECT_TRUE(is_well_formed(a, &why))
          << GetParam() << " rf=" << rf << " n=" << n << ": " << why;
    }
  }
}

TEST_P(EveryStrategy, IsDeterministic) {
  auto s = make_strategy(GetParam());
  auto parts = numbered_partitions(500);
  auto a = build_assignment(*s, workers(9), parts, 3, nullptr, 1);
  auto b = build_assignment(*s, workers(9), parts, 3, nullptr, 1);
  EXPECT_EQ(a.replicas, b.replicas);
}

TEST_P(EveryStrategy, LeadersAreBalancedWithReplicas) {
  auto s = make_strategy(GetParam());
  auto a = build_assignment(*s, workers(5), numbered_partitions(100), 3, nullptr, 1);
  for (const auto& [w, c] : leader_counts(a)) EXPECT_LE(c, 20) << GetParam() << " " << w;
}

TEST_P(EveryStrategy, NoWorkersMeansEmptyReplicaLists) {
  auto s = make_strategy(GetParam());
  auto a = build_assignment(*s, {}, numbered_partitions(10), 1, nullptr, 1);
  for (const auto& r : a.replicas) EXPECT_TRUE(r.empty());
}

INSTANTIATE_TEST_SUITE_P(Strategies, EveryStrategy,
                         ::testing::Values("consistent-hash", "weighted", "round-robin",
                                           "rendezvous"));

TEST(RoundRobin, WithinOneOnSevenWorkers) {
  auto a =
      build_assignment(*make_round_robin(), workers(7), numbered_partitions(100), 1, nullptr, 1);
  auto c = leader_counts(a);
  ASSERT_EQ(c.size(), 7u);
  for (const auto& [w, n] : c) {
    EXPECT_GE(n, 14);
    EXPECT_LE(n, 15);
  }
}

double affinity(const Assignment& before, const Assignment& after) {
  int kept = 0, total = 0;
  for (const auto& w : before.workers) {
    auto old_set = before.partitions_of(w);
    auto new_set = after.partitions_of(w);
    total += int(old_set.size());
    for (const auto& p : new_set) kept += int(old_set.count(p));
  }
  return double(kept) / total;
}

TEST(ConsistentHash, ScaleThreeToFourKeepsAtLeastEightyPercentInPlace) {
  auto s = make_consistent_hash();
  auto parts = numbered_partitions(100);
  auto before = build_assignment(*s, workers(3), parts, 1, nullptr, 1);
  auto after = build_assignment(*s, workers(4), parts, 1, &before, 2);
  EXPECT_GE(affinity(before, after), 0.80);
  // ... while every worker stays within +/-25% of its fair share of 25.
  for (const auto& [w, n] : leader_counts(after)) {
    EXPECT_GE(n, 18) << w;
    EXPECT_LE(n, 32) << w;
  }
  EXPECT_EQ(leader_counts(after).size(), 4u);
}

TEST(ConsistentHash, EveryWorkerGetsAtLeastItsLowerBound) {
  auto s = make_consistent_hash();
  for (int n : {2, 3, 5, 7}) {
    auto a = build_assignment(*s, workers(n), numbered_partitions(12 * n), 1, nullptr, 1);
    for (const auto& [w, c] : leader_counts(a)) {
      EXPECT_GE(c, 9) << n << " workers: " << w;  // floor(12 x 0.75)
      EXPECT_LE(c, 15) << n << " workers: " << w;
    }
  }
}

TEST(ConsistentHash, UnchangedTopologyMovesNothing) {
  auto s = make_consistent_hash();
  auto parts = numbered_partitions(300);
  auto a = build_assignment(*s, workers(6), parts, 1, nullptr, 1);
  auto b = build_assignment(*s, workers(6), parts, 1, &a, 2);
  EXPECT_EQ(a.replicas, b.replicas);
}

TEST(ConsistentHash, LosingAWorkerMovesOnlyItsPartitionsWhenBalanceAllows) {
  auto s = make_consistent_hash();
  auto parts = numbered_partitions(400);
  auto before = build_assignment(*s, workers(5), parts, 1, nullptr, 1);
  auto survivors = workers(5);
  survivors.erase(survivors.begin() + 1);
  auto after = build_assignment(*s, survivors, parts, 1, &before, 2);
  int moved_between_survivors = 0;
  for (size_t p = 0; p < parts.size(); ++p) {
    const auto& was = before.workers[before.replicas[p][0]];
    if (was != "node-1" && after.workers[after.replicas[p][0]] != was) ++moved_between_survivors;
  }
  EXPECT_EQ(moved_between_survivors, 0);
}

TEST(ConsistentHash, OnlyPartitionsOfALostWorkerMove) {
  auto s = make_consistent_hash(150, 0, -1.0);  // unbounded: pure ring
  auto parts = numbered_partitions(1000);
  auto before = build_assignment(*s, workers(5), parts, 1, nullptr, 1);
  auto survivors = workers(5);
  survivors.erase(survivors.begin() + 2);
  auto after = build_assignment(*s, survivors, parts, 1, &before, 2);
  for (size_t p = 0; p < parts.size(); ++p) {
    const auto& old_owner = before.workers[before.replicas[p][0]];
    if (old_owner != "node-2") {
      EXPECT_EQ(after.workers[after.replicas[p][0]], old_owner);
    }
  }
}

TEST(WeightedConsistentHash, HeavierWorkersTakeMoreWeight) {
  auto s = make_weighted_consistent_hash();
  std::vector<WorkerInfo> ws = {{"node-0", 1, 0, {}}, {"node-1", 1, 0, {}}, {"node-2", 2, 0, {}}};
  std::vector<Partition> parts;
  for (int i = 0; i < 300; ++i) parts.push_back({"p-" + std::to_string(i), uint32_t(1 + i % 3)});
  auto a = build_assignment(*s, ws, parts, 1, nullptr, 1);
  std::map<std::string, double> load;
  double total = 0;
  for (size_t p = 0; p < parts.size(); ++p) {
    load[a.workers[a.replicas[p][0]]] += parts[p].weight;
    total += parts[p].weight;
  }
  // Fair shares are 25%, 25%, 50%; the overload bound is 15%.
  EXPECT_LE(load["node-0"], total * 0.25 * 1.15 + 3);
  EXPECT_LE(load["node-1"], total * 0.25 * 1.15 + 3);
  EXPECT_GE(load["node-2"], total * 0.40);
}

TEST(WeightedConsistentHash, BalancesMixedPartitionWeightsWithinTolerance) {
  auto s = make_weighted_consistent_hash();
  std::vector<Partition> parts;
  for (int i = 0; i < 10; ++i) parts.push_back({"light-" + std::to_string(i), 1});
  for (int i = 0; i < 5; ++i) parts.push_back({"medium-" + std::to_string(i), 2});
  for (int i = 0; i < 2; ++i) parts.push_back({"heavy-" + std::to_string(i), 5});
  auto a = build_assignment(*s, workers(4), parts, 1, nullptr, 1);
  std::map<std::string, int> load;
  for (size_t p = 0; p < parts.size(); ++p) load[a.workers[a.replicas[p][0]]] += parts[p].weight;
  for (const auto& [w, l] : load) EXPECT_LE(std::abs(l - 7.5), 7.5 * 0.65) << w << " has " << l;
}

TEST(Rendezvous, SpreadsEvenlyForEveryReplicationFactor) {
  auto s = make_rendezvous();
  for (uint32_t rf : {1u, 3u}) {
    auto a = build_assignment(*s, workers(10), numbered_partitions(10000), rf, nullptr, 1);
    std::map<std::string, int> held;
    for (const auto& r : a.replicas) {
      for (uint32_t w : r) ++held[a.workers[w]];
    }
    for (const auto& [w, n] : held) {
      EXPECT_NEAR(n, 1000.0 * rf, 100.0 * rf) << "rf=" << rf << " " << w;  // within 10%
    }
  }
}

TEST(Rendezvous, ParallelPlacementEqualsSerialPlacement) {
  auto s = make_rendezvous();
  auto ws = workers(1000);
  auto parts = numbered_partitions(5000);  // 5M pairs: split across threads
  for (uint32_t rf : {1u, 3u}) {
    auto whole = s->place({ws, parts, rf, nullptr});
    for (size_t p = 0; p < parts.size(); p += 97) {
      std::vector<Partition> one = {parts[p]};
      EXPECT_EQ(s->place({ws, one, rf, nullptr})[0], whole[p]) << parts[p].id << " rf=" << rf;
    }
  }
}

TEST(Rendezvous, RemovingAWorkerOnlyMovesItsReplicas) {
  auto s = make_rendezvous();
  auto parts = numbered_partitions(500);
  auto before = build_assignment(*s, workers(6), parts, 1, nullptr, 1);
  auto survivors = workers(6);
  survivors.erase(survivors.begin());
  auto after = build_assignment(*s, survivors, parts, 1, &before, 2);
  for (size_t p = 0; p < parts.size(); ++p) {
    const auto& old_owner = before.workers[before.replicas[p][0]];
    if (old_owner != "node-0") {
      EXPECT_EQ(after.workers[after.replicas[p][0]], old_owner);
    }
  }
}

}  // namespace parti
