#include <gtest/gtest.h>

#include "partid/routing/decide_routing.h"
#include "partid/routing/topology.h"

namespace partid::routing {
namespace {

parti::Assignment assignment(uint64_t version, std::vector<std::vector<uint32_t>> replicas) {
  parti::Assignment a;
  a.version = version;
  a.replication_factor = static_cast<uint32_t>(replicas.front().size());
  a.workers = {"node-0", "node-1", "node-2"};
  for (size_t p = 0; p < replicas.size(); ++p) a.partitions.push_back({std::to_string(p), 1});
  a.replicas = std::move(replicas);
  return a;
}

std::vector<parti::NodeRecord> members() {
  std::vector<parti::NodeRecord> out;
  for (int i = 0; i < 3; ++i) {
    parti::NodeRecord r;
    r.id = "node-" + std::to_string(i);
    r.peer_address = "127.0.0.1:900" + std::to_string(i);
    out.push_back(r);
  }
  return out;
}

LayoutRecord unsplit(uint32_t partitions) { return {Layout::unsplit(partitions), {}, {}, 0}; }

class RoutingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    topo = *build_topology(assignment(7, {{0, 1, 2}, {1, 2, 0}, {2, 0, 1}}), members(), unsplit(3),
                           nullptr, &error);
  }
  RouteDecision decide(uint32_t p, Access access, const std::string& self, bool locked = false) {
    RoutingInput in;
    in.partition = p;
    in.access = access;
    in.self = &self;
    in.topology = &topo;
    in.locally_locked = locked;
    in.hop = &hop;
    return decide_routing(in);
  }
  Topology topo;
  api::Hop hop;
};

TEST_F(RoutingTest, WritesRunOnTheLeaderAndAreForwardedElsewhere) {
  EXPECT_EQ(decide(0, Access::Write, "node-0").kind, RouteDecision::Kind::Local);
  auto d = decide(0, Access::Write, "node-1");
  EXPECT_EQ(d.kind, RouteDecision::Kind::Forward);
  EXPECT_EQ(d.node, "node-0");
  EXPECT_EQ(d.peer_address, "127.0.0.1:9000");
  EXPECT_EQ(decide(1, Access::Read, "node-0").node, "node-1");
}

TEST_F(RoutingTest, ReplicaReadsAreServedByAnyReplica) {
  EXPECT_EQ(decide(0, Access::ReplicaRead, "node-2").kind, RouteDecision::Kind::Local);
  EXPECT_EQ(decide(0, Access::Read, "node-2").kind, RouteDecision::Kind::Forward);
}

TEST_F(RoutingTest, ALockedPartitionRefusesWritesButServesReads) {
  auto w = decide(0, Access::Write, "node-0", true);
  EXPECT_EQ(w.kind, RouteDecision::Kind::Fail);
  EXPECT_EQ(w.error.code, "partition_locked");
  EXPECT_EQ(w.error.status, 503);
  EXPECT_EQ(decide(0, Access::Read, "node-0", true).kind, RouteDecision::Kind::Local);
}

TEST_F(RoutingTest, ForwardingNeverRevisitsANodeAndStopsAtTheHopLimit) {
  hop.tried = {"node-0"};
  auto loop = decide(0, Access::Write, "node-1");
  EXPECT_EQ(loop.kind, RouteDecision::Kind::Fail);
  EXPECT_EQ(loop.error.code, "routing_loop");
  hop.tried.clear();
  hop.hops = 3;
  EXPECT_EQ(decide(0, Access::Write, "node-1").error.code, "hop_limit");
}

TEST_F(RoutingTest, NoAssignmentOrNoAddressIsUnavailable) {
  Topology empty;
  const std::string self = "node-0";
  RoutingInput in;
  in.self = &self;
  in.topology = &empty;
  in.hop = &hop;
  EXPECT_EQ(decide_routing(in).error.code, "no_assignment");
  topo.nodes.erase("node-0");
  EXPECT_EQ(decide(0, Access::Write, "node-1").error.code, "leader_unreachable");
}

// With NATS out of reach a node's view of the others' heartbeats lapses, but
// it keeps the assignment, so it keeps the way to its leaders too: the last
// address it knew of each node the assignment names, never shown as a live
// record, and forgotten once the assignment no longer names the node.
TEST(TopologyTest, ANodeWhoseRecordLapsedIsReachedAtItsLastKnownAddress) {
  std::string error;
  auto v1 = build_topology(assignment(1, {{0, 1}, {1, 2}, {2, 0}}), members(), unsplit(3), nullptr,
                           &error);
  ASSERT_TRUE(v1);
  auto only_node_2 = members();
  only_node_2.erase(only_node_2.begin(), only_node_2.begin() + 2);
  auto lapsed = build_topology(assignment(1, {{0, 1}, {1, 2}, {2, 0}}), only_node_2, unsplit(3),
                               &*v1, &error);
  ASSERT_TRUE(lapsed);
  EXPECT_EQ(lapsed->nodes.size(), 1u) << "only records seen now are listed";
  ASSERT_NE(lapsed->address_of("node-0"), nullptr);
  EXPECT_EQ(lapsed->address_of("node-0")->peer, "127.0.0.1:9000");
  // Carried over from one lapsed topology to the next.
  auto again = build_topology(assignment(1, {{0, 1}, {1, 2}, {2, 0}}), only_node_2, unsplit(3),
                              &*lapsed, &error);
  ASSERT_TRUE(again);
  ASSERT_NE(again->address_of("node-1"), nullptr);
  EXPECT_EQ(again->address_of("node-1")->peer, "127.0.0.1:9001");
  // An assignment without node 0 forgets it.
  auto replaced = build_topology(assignment(2, {{2, 1}, {1, 2}, {2, 1}}), only_node_2, unsplit(3),
                                 &*again, &error);
  ASSERT_TRUE(replaced);
  EXPECT_EQ(replaced->address_of("node-0"), nullptr);
  EXPECT_NE(replaced->address_of("node-1"), nullptr);
}

TEST(TopologyTest, ANodeJustStartedWithoutEveryRecordCannotReachEveryWorker) {
  std::string error;
  auto only_node_2 = members();
  only_node_2.erase(only_node_2.begin(), only_node_2.begin() + 2);
  // Started with the assignment, before the watch delivered the others' records.
  auto started = build_topology(assignment(1, {{0, 1}, {1, 2}, {2, 0}}), only_node_2, unsplit(3),
                                nullptr, &error);
  ASSERT_TRUE(started);
  EXPECT_FALSE(started->every_worker_addressable());
  auto heard = build_topology(assignment(1, {{0, 1}, {1, 2}, {2, 0}}), members(), unsplit(3),
                              &*started, &error);
  ASSERT_TRUE(heard);
  EXPECT_TRUE(heard->every_worker_addressable());
  // Records lost later (NATS down) leave the last known addresses.
  auto lapsed = build_topology(assignment(1, {{0, 1}, {1, 2}, {2, 0}}), only_node_2, unsplit(3),
                               &*heard, &error);
  ASSERT_TRUE(lapsed);
  EXPECT_TRUE(lapsed->every_worker_addressable());
  EXPECT_FALSE(Topology{}.every_worker_addressable()) << "no assignment yet";
}

TEST(TopologyTest, LeaderEpochsCarryOverWhileTheLeaderStays) {
  std::string error;
  auto v1 = build_topology(assignment(1, {{0}, {1}, {2}}), members(), unsplit(3), nullptr, &error);
  ASSERT_TRUE(v1);
  auto v2 = build_topology(assignment(2, {{0}, {2}, {2}}), members(), unsplit(3), &*v1, &error);
  ASSERT_TRUE(v2);
  EXPECT_EQ(v2->leader_epoch, (std::vector<uint64_t>{1, 2, 1}));
  EXPECT_FALSE(build_topology(assignment(3, {{0}, {1}}), members(), unsplit(3), nullptr, &error));
  EXPECT_NE(error.find("has 2 partitions, the layout 3"), std::string::npos) << error;
}

// Two assignments published 11 ms apart (an emergency, then the partition
// count changing) once reached one node as v3 then v5 and another as v3, v4,
// v5: compared locally, the first gave partition 0 epoch 5 and the second
// epoch 4, and its leader and followers never agreed again (seen in
// SplitTest). Epochs come from the coordinator's `since` now.
TEST(TopologyTest, ANodeThatSkippedAVersionComputesTheSameEpochs) {
  std::string error;
  auto v3 = assignment(3, {{1, 0, 2}, {2, 0, 1}, {1, 2, 0}});
  v3.stamp_since(nullptr);
  auto v4 = assignment(4, {{0, 2}, {2, 0}, {2, 0}});  // node-1 died
  v4.replication_factor = 2;
  v4.stamp_since(&v3);
  auto v5 = v4;
  v5.version = 5;
  v5.replicas[2] = {0, 2};  // leadership rebalanced
  v5.stamp_since(&v4);
  auto t3 = build_topology(v3, members(), unsplit(3), nullptr, &error);
  ASSERT_TRUE(t3) << error;
  auto t4 = build_topology(v4, members(), unsplit(3), &*t3, &error);
  ASSERT_TRUE(t4) << error;
  auto saw_all = build_topology(v5, members(), unsplit(3), &*t4, &error);
  auto skipped = build_topology(v5, members(), unsplit(3), &*t3, &error);
  auto started_late = build_topology(v5, members(), unsplit(3), nullptr, &error);
  ASSERT_TRUE(saw_all && skipped && started_late) << error;
  EXPECT_EQ(saw_all->leader_epoch, (std::vector<uint64_t>{4, 4, 5}));
  EXPECT_EQ(skipped->leader_epoch, saw_all->leader_epoch);
  EXPECT_EQ(started_late->leader_epoch, saw_all->leader_epoch);
}

TEST(TopologyTest, KeepsTheAssignmentsWorkersApartFromTheNodeRecords) {
  auto extra = members();
  extra.push_back(extra.back());
  extra.back().id = "node-dead";  // a record whose heartbeat has not expired yet
  std::string error;
  auto t = build_topology(assignment(1, {{0}, {1}, {2}}), extra, unsplit(3), nullptr, &error);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->nodes.size(), 4u);
  EXPECT_EQ(t->workers, (std::vector<std::string>{"node-0", "node-1", "node-2"}));
}

TEST(TopologyTest, PartitionOfIsStableAndInRange) {
  EXPECT_EQ(partition_of("user-1", 256), partition_of("user-1", 256));
  for (int k = 0; k < 1000; ++k) EXPECT_LT(partition_of("k" + std::to_string(k), 7), 7u);
}

}  // namespace
}  // namespace partid::routing
