// EpochGate: which replication messages may reach a partition's core, from
// the node's topology alone.
#include "partid/replication/epoch_gate.h"

#include <gtest/gtest.h>

namespace partid::replication {
namespace {

using Verdict = EpochGate::Verdict;

// Assignment v9: partition 0's leader "a" was appointed at 4, partition 1's
// leader "b" at 9.
routing::Topology topology(bool epochs_agreed = true) {
  routing::Topology t;
  t.version = 9;
  t.partitions = 2;
  t.replicas = {{"a", "b", "c"}, {"b", "c", "a"}};
  t.leader_epoch = {4, 9};
  t.epochs_agreed = epochs_agreed;
  return t;
}

EpochGate gate_for(const routing::Topology& t) {
  EpochGate gate;
  gate.on_topology(t);
  return gate;
}

TEST(EpochGate, DeliversTheAppointedLeadersMessagesAndItsFollowersAnswers) {
  const EpochGate gate = gate_for(topology());
  EXPECT_EQ(gate.admit("a", 0, core::BeginEpoch{4}), Verdict::Deliver);
  EXPECT_EQ(gate.admit("a", 0, core::Replicate{4, {}, {}, 0, 0, 0, 0}), Verdict::Deliver);
  EXPECT_EQ(gate.admit("b", 0, core::ReplicateAck{4, true, 3, 0, 0, 0}), Verdict::Deliver);
  EXPECT_EQ(gate.admit("c", 0, core::EpochPromise{4, {}, 0, false}), Verdict::Deliver);
  EXPECT_EQ(gate.admit("b", 1, core::Replicate{9, {}, {}, 0, 0, 0, 0}), Verdict::Deliver);
}

TEST(EpochGate, PassesOlderEpochsOnForTheCoreToRefuse) {
  const EpochGate gate = gate_for(topology());
  EXPECT_EQ(gate.admit("c", 0, core::Replicate{3, {}, {}, 0, 0, 0, 0}), Verdict::Deliver);
  EXPECT_EQ(gate.admit("a", 1, core::BeginEpoch{4}), Verdict::Deliver);
}

TEST(EpochGate, DropsAnEpochAboveThePartitionsEvenWithinTheAssignmentVersion) {
  const EpochGate gate = gate_for(topology());
  EXPECT_EQ(gate.admit("a", 0, core::BeginEpoch{5}), Verdict::AheadOfTopology);
  EXPECT_EQ(gate.admit("a", 0, core::BeginEpoch{UINT64_MAX}), Verdict::AheadOfTopology);
  EXPECT_EQ(gate.admit("b", 0, core::Refuse{9}), Verdict::AheadOfTopology);
  EXPECT_EQ(gate.admit("b", 1, core::EpochPromise{10, {}, 0, false}), Verdict::AheadOfTopology);
}

TEST(EpochGate, DropsALeadersMessageAtTheCurrentEpochFromAnotherNode) {
  const EpochGate gate = gate_for(topology());
  EXPECT_EQ(gate.admit("b", 0, core::BeginEpoch{4}), Verdict::NotTheLeader);
  EXPECT_EQ(gate.admit("c", 0, core::Replicate{4, {}, {}, 0, 0, 0, 0}), Verdict::NotTheLeader);
  EXPECT_EQ(gate.admit("c", 0, core::InstallSnapshot{4, {}, 0, 0}), Verdict::NotTheLeader);
  // Catch-up and adoption run both ways: not judged by sender.
  EXPECT_EQ(gate.admit("c", 0, core::SyncRequest{4, 1, 0}), Verdict::Deliver);
}

TEST(EpochGate, WithoutTheAssignmentsEpochsOnlyEpochsAboveItsVersionAreDropped) {
  // Nodes then compute epochs themselves and may disagree: a sender's epoch
  // above this node's for the partition may be real.
  const EpochGate gate = gate_for(topology(false));
  EXPECT_EQ(gate.admit("c", 0, core::BeginEpoch{7}), Verdict::Deliver);
  EXPECT_EQ(gate.admit("b", 0, core::BeginEpoch{4}), Verdict::Deliver);
  EXPECT_EQ(gate.admit("c", 0, core::BeginEpoch{10}), Verdict::AheadOfTopology);
}

TEST(EpochGate, DropsEveryEpochBeforeTheFirstTopology) {
  const EpochGate gate;
  EXPECT_EQ(gate.admit("a", 0, core::BeginEpoch{1}), Verdict::AheadOfTopology);
}

}  // namespace
}  // namespace partid::replication
