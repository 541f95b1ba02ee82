// replication: EpochGate, which replication messages may reach a partition's
// core, judged from this node's topology alone.
//
// The core trusts a message's epoch: a higher one raises the replica's
// promise, durably, and from then on it refuses every leader of a lower
// epoch. Epochs are assignment versions (`since`: the version that appointed
// a partition's leader and set), so a message whose epoch no assignment ever
// appointed, a corrupt or forged one, would wedge the partition for good: no
// real leader could seal it again until the assignment version passed that
// number (a fuzzed peer message did this to six partitions of a local
// cluster). The gate drops such messages before the core sees them:
//   - an epoch above the highest epoch this node's topology knows for the
//     partition: either the sender saw a newer assignment first (it repeats
//     its messages, and they pass once this node's topology catches up) or no
//     leader was ever appointed at it;
//   - a leader's message (Replicate, BeginEpoch, InstallSnapshot) at the
//     partition's current epoch from a node that is not its appointed leader.
// While the assignment carries no `since` (a coordinator of an older build)
// nodes may compute different epochs for one partition, so only epochs above
// the assignment version itself are dropped then.
//
// Guarantee: only drops, and only what a real peer repeats or never sends;
// dropping is always safe in the replication protocol (messages may be lost).
// Not a defence against a peer that forges a leader's messages at an epoch
// it holds: the peer transport trusts the nodes of its cluster.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "partid/replication/core/types.h"
#include "partid/routing/topology.h"

namespace partid::replication {

class EpochGate {
 public:
  enum class Verdict { Deliver, AheadOfTopology, NotTheLeader };

  void on_topology(const routing::Topology& topology);
  Verdict admit(const std::string& from, uint32_t partition, const core::Message& message) const;

 private:
  uint64_t version_ = 0;
  bool epochs_agreed_ = false;
  std::vector<uint64_t> epochs_;      // per partition: the epoch of its current leader
  std::vector<std::string> leaders_;  // per partition
};

uint64_t epoch_of(const core::Message& message);
// Only a partition's leader sends these.
bool sent_by_leader(const core::Message& message);

}  // namespace partid::replication
