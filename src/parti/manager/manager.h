// manager: the public face of libparti. A Manager turns one process into a
// worker of a partitioned fleet: it claims a stable ID, takes part in leader
// election, publishes its node record, and receives versioned assignments.
//
// Guarantees:
//  - start() returns only once the worker holds an ID and an assignment that
//    lists it (state Stable), or throws StartError; stop() joins every thread
//    it started and deletes its keys; both are safe to call concurrently, and
//    a stop() during start() ends that start at once (StartError "stopped
//    while starting", thrown once the stop is done) rather than at its
//    startup timeout.
//  - Assignment versions seen through hooks and current_assignment() only grow;
//    on_assignment_changed receives true deltas.
//  - While NATS is unreachable, or has taken none of the worker's heartbeats
//    for a heartbeat TTL (after which the other workers count it gone), the
//    worker is Degraded and keeps its last assignment; it recovers by itself
//    once NATS takes its heartbeats again.
// The Manager delegates: StableIdClaimer (identity), LeaderElection (election),
// HeartbeatPublisher + MembershipTracker (membership), LeaderRole + calculator
// (assignment). It owns one event loop thread and a small blocking pool.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "parti/assignment/strategy.h"
#include "parti/coord/connection.h"
#include "parti/core/config.h"
#include "parti/core/node_record.h"
#include "parti/manager/coordination_stats.h"
#include "parti/manager/hooks.h"
#include "parti/manager/manager_state.h"
#include "parti/source/partition_source.h"

namespace parti {

class StartError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Manager {
 public:
  Manager(Config config, std::shared_ptr<coord::Connection> connection,
          std::shared_ptr<PartitionSource> source, std::shared_ptr<const Strategy> strategy,
          Hooks hooks = {});
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  void start();
  void stop();

  std::string worker_id() const;
  bool is_leader() const;
  Assignment current_assignment() const;
  ManagerState state() const;
  // Waits for `state` (or returns false at the deadline). Never call from a hook.
  bool wait_state(ManagerState state, std::chrono::milliseconds timeout) const;
  // Waits until the current assignment satisfies `pred`.
  bool wait_assignment(const std::function<bool(const Assignment&)>& pred,
                       std::chrono::milliseconds timeout) const;
  // Leader re-reads the partition source and rebalances, bypassing cooldown.
  void refresh_partitions();
  // Changes this worker's node record (published at once, HLC ticked).
  void update_record(std::function<void(NodeRecord&)> change);
  // Live members as this worker sees them.
  std::vector<NodeRecord> members() const;
  // Counters of this worker's coordination since start() (never blocks on
  // the loop: a copy of what the loop last published).
  CoordinationStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parti
