#include "parti/assignment/successor.h"

#include <gtest/gtest.h>

namespace parti {
namespace {

WorkerInfo worker(std::string id, int64_t startup_ms, std::map<uint32_t, uint64_t> progress = {}) {
  return {std::move(id), 1, startup_ms, std::move(progress)};
}

// One partition "p0" that node-a led with node-b and node-c as followers.
Assignment previous_of_one_partition() {
  Assignment a;
  a.version = 7;
  a.replication_factor = 3;
  a.workers = {"node-a", "node-b", "node-c"};
  a.partitions = {{"p0", 1}};
  a.replicas = {{0, 1, 2}};
  return a;
}

std::string leader_after(const std::vector<WorkerInfo>& workers, Placement placement) {
  appoint_successors(placement, workers, {{"p0", 1}}, previous_of_one_partition());
  return workers[placement[0].front()].id;
}

TEST(Successor, TheSurvivorFurthestAlongLeads) {
  // node-a died; node-d joined in its place with progress it cannot have for p0.
  const std::vector<WorkerInfo> ws = {worker("node-b", 100, {{0, 5}}),
                                      worker("node-c", 200, {{0, 9}}),
                                      worker("node-d", 50, {{0, 99}})};
  EXPECT_EQ(leader_after(ws, {{2, 0, 1}}), "node-c");
}

TEST(Successor, EqualProgressGoesToTheOldestProcess) {
  const std::vector<WorkerInfo> ws = {worker("node-b", 300, {{0, 9}}),
                                      worker("node-c", 200, {{0, 9}})};
  EXPECT_EQ(leader_after(ws, {{0, 1}}), "node-c");
}

TEST(Successor, EqualProgressAndAgeGoToTheLowestId) {
  const std::vector<WorkerInfo> ws = {worker("node-b", 100), worker("node-c", 100)};
  EXPECT_EQ(leader_after(ws, {{1, 0}}), "node-b");
}

TEST(Successor, TheOtherReplicasKeepTheirOrder) {
  const std::vector<WorkerInfo> ws = {worker("node-b", 100), worker("node-c", 50),
                                      worker("node-d", 10)};
  Placement placement = {{2, 0, 1}};
  appoint_successors(placement, ws, {{"p0", 1}}, previous_of_one_partition());
  EXPECT_EQ(placement[0], (std::vector<uint32_t>{1, 2, 0}));
}

TEST(Successor, ALiveLeaderIsNotReplaced) {
  const std::vector<WorkerInfo> ws = {worker("node-a", 900), worker("node-b", 1, {{0, 50}}),
                                      worker("node-c", 1)};
  Placement placement = {{0, 1, 2}};
  appoint_successors(placement, ws, {{"p0", 1}}, previous_of_one_partition());
  EXPECT_EQ(placement[0], (std::vector<uint32_t>{0, 1, 2}));
}

TEST(Successor, AListWithNoSurvivorIsLeftToTheStrategy) {
  const std::vector<WorkerInfo> ws = {worker("node-d", 1), worker("node-e", 1)};
  Placement placement = {{1, 0}};
  appoint_successors(placement, ws, {{"p0", 1}}, previous_of_one_partition());
  EXPECT_EQ(placement[0], (std::vector<uint32_t>{1, 0}));
}

TEST(Successor, PartitionsAreMatchedToThePreviousAssignmentById) {
  // A new partition was inserted before p0: p0 is now at index 1.
  const std::vector<WorkerInfo> ws = {worker("node-b", 100), worker("node-c", 50)};
  Placement placement = {{0, 1}, {0, 1}};
  appoint_successors(placement, ws, {{"new", 1}, {"p0", 1}}, previous_of_one_partition());
  EXPECT_EQ(placement[0], (std::vector<uint32_t>{0, 1}));  // new partition: no previous
  EXPECT_EQ(placement[1], (std::vector<uint32_t>{1, 0}));  // p0: node-c started first
}

TEST(Successor, BuildAssignmentAppliesTheRuleAfterALeaderDies) {
  auto strategy = make_consistent_hash();
  std::vector<Partition> parts;
  for (int i = 0; i < 64; ++i) parts.push_back({"p" + std::to_string(i), 1});
  std::vector<WorkerInfo> five;
  for (int i = 0; i < 5; ++i) five.push_back(worker("node-" + std::to_string(i), 1000 + i));
  const Assignment before = build_assignment(*strategy, five, parts, 3, nullptr, 1);
  // node-0 dies; every survivor reports the partition index as its progress,
  // except node-4, which is furthest along everywhere it replicates.
  std::vector<WorkerInfo> survivors(five.begin() + 1, five.end());
  for (auto& w : survivors) {
    for (uint32_t p = 0; p < parts.size(); ++p) w.progress[p] = w.id == "node-4" ? 1000 : p;
  }
  const Assignment after = build_assignment(*strategy, survivors, parts, 3, &before, 2);
  int checked = 0;
  for (size_t p = 0; p < parts.size(); ++p) {
    const auto old_ids = before.replica_ids(p);
    if (old_ids.front() != "node-0") continue;
    const auto new_ids = after.replica_ids(p);
    const bool node4_was_replica =
        std::find(old_ids.begin(), old_ids.end(), "node-4") != old_ids.end();
    const bool node4_is_replica =
        std::find(new_ids.begin(), new_ids.end(), "node-4") != new_ids.end();
    if (node4_was_replica && node4_is_replica) {
      EXPECT_EQ(new_ids.front(), "node-4") << "partition " << p;
    } else {
      // Equal progress among the others: the oldest process (lowest number
      // here) among the previous replicas still listed.
      std::string expected;
      for (const char* id : {"node-1", "node-2", "node-3"}) {
        if (std::find(old_ids.begin(), old_ids.end(), id) != old_ids.end() &&
            std::find(new_ids.begin(), new_ids.end(), id) != new_ids.end()) {
          expected = id;
          break;
        }
      }
      if (!expected.empty()) {
        EXPECT_EQ(new_ids.front(), expected) << "partition " << p;
      }
    }
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

// After the rule, build_assignment gives way to the next choice when the
// rule's first asks not to lead (WorkerInfo::avoid_leading).
TEST(Successor, TheRulesNextChoiceLeadsWhenItsFirstAsksNotToLead) {
  // node-a died; node-b is furthest along but asks not to lead.
  std::vector<WorkerInfo> survivors = {worker("node-b", 100, {{0, 9}}),
                                       worker("node-c", 200, {{0, 5}})};
  survivors[0].avoid_leading = true;
  auto strategy = make_consistent_hash();
  const Assignment previous = previous_of_one_partition();
  auto leader = [&] {
    return build_assignment(*strategy, survivors, previous.partitions, 3, &previous, 8)
        .replica_ids(0)
        .front();
  };
  EXPECT_EQ(leader(), "node-c");
  survivors[0].avoid_leading = false;
  EXPECT_EQ(leader(), "node-b");
}

}  // namespace
}  // namespace parti
