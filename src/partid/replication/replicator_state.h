// replication: what the Replicator keeps per partition, shared by the files
// that make up the Replicator (replicator*.cpp) and included by nothing else.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "partid/replication/replicator.h"

namespace partid::replication {

struct Replicator::Queued {
  storage::WriteOp op;
  PendingWrites::Slot slot;
};

struct Replicator::Replica {
  explicit Replica(core::ReplicaCore c) : core(std::move(c)) {}
  core::ReplicaCore core;
  bool active = false;
  uint64_t epoch = 0;  // the appointment this replica acts on
  std::string leader;
  std::vector<std::string> members;
  struct Waiter {
    PendingWrites::Slot slot;
    uint64_t hlc = 0;
    std::optional<storage::Refusal> refused;  // committed without effect
  };
  std::map<uint64_t, Waiter> waiting;  // by sequence
  std::map<uint64_t, ReadDone> reads;  // by read id, awaiting confirmation
  std::vector<Queued> queued;          // this turn's writes, not yet proposed
  bool leading = false;
  std::chrono::steady_clock::time_point appointed_at;
  // Appointed leader in place of another node without its Handoff (it died,
  // or its handoff never came): the leadership, once taken, is a failover.
  bool takes_over = false;
  StallClock stall;
  std::map<std::string, StallClock> follower_stalls;  // while it leads
  // An appointment not taken yet (handoff.h): this node's writes in flight
  // are committing (DrainFirst), or the previous leader's Handoff is awaited.
  struct Held {
    Appointment next;
    HandoffPlan plan = HandoffPlan::AwaitHandoff;
    std::string from;  // AwaitHandoff: the previous leader
    std::chrono::steady_clock::time_point deadline;
  };
  std::optional<Held> held;
  // The core's epoch and commit as of the last step whose changes are durable
  // and applied (steps run in order): once they are the core's own, the
  // storage holds every entry the core counts committed, and a read needs
  // no ordering behind the commits in flight (confirms_reads_alone).
  uint64_t applied_epoch = 0;
  uint64_t applied_commit = 0;
};

template <class F>
void Replicator::with_replica(uint32_t partition, F f) {
  auto it = replicas_.find(partition);
  if (it != replicas_.end()) f(*it->second);
}

}  // namespace partid::replication
