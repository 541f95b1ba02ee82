// replication: the planned leadership handoff (DESIGN 4.3), decided here and
// carried out by the Replicator.
//
// When the coordinator moves a partition to a new epoch while its leader is
// alive (a node joins or leaves, or a replica set changes), taking the
// appointment at once cuts off what the leader has in flight: the replicas
// promise the new epoch, the old leader's last writes can no longer commit in
// its epoch, and their clients hear leadership_lost (outcome unknown).
// Instead the leader of the old epoch takes no new writes (they are refused
// not_leader, which proves nothing was written, so the node the client reached
// holds and retries them), lets what it has in flight commit, then tells every
// replica of the old and new sets (a Handoff for the new epoch) and takes the
// appointment; the others take it when its Handoff arrives. Every wait ends
// at a deadline, after which the appointment is taken anyway.
//
// Guarantee: none needed for safety. Taking an appointment later is what a
// slow topology update does anyway; epochs and sealing fence the old leader
// whatever the order. The handoff only orders the change so that nothing in
// flight is lost to it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace partid::replication {

// The coordinator's word for one partition: its epoch and replica set.
struct Appointment {
  uint64_t epoch = 0;
  std::vector<std::string> members;  // leader first
  const std::string& leader() const { return members.front(); }
  bool operator==(const Appointment&) const = default;
};

enum class HandoffPlan {
  AppointNow,    // no live leader to hear from, or its Handoff already came
  HandOver,      // this node led and has nothing in flight: tell the others, appoint
  DrainFirst,    // this node led with writes in flight: let them commit, then HandOver
  AwaitHandoff,  // another node that is alive led: wait for its Handoff
  LookUpLeader,  // this node leads next and never saw who led: ask the seal register
};

struct HandoffInput {
  std::string self;
  // The leader this node's replica acts on now; nullopt when it acts on none.
  std::optional<std::string> previous_leader;
  bool previous_alive = false;  // it still has a node record
  std::string next_leader;
  bool writes_in_flight = false;  // proposed here, not yet committed
  bool handoff_heard = false;     // a Handoff for this epoch (or a later one) came already
};

HandoffPlan plan_handoff(const HandoffInput& in);

// What a replica knows when it is appointed to lead, for whether the
// leadership, once it serves, counts as a failover (ReplicatorStats).
struct TakeoverInput {
  bool leads_next = false;     // the appointment makes this node the leader
  bool was_replica = false;    // it acted on the partition before (not a first appointment)
  bool led_before = false;     // it led the epoch before
  bool handoff_heard = false;  // the previous leader's Handoff for this epoch came
  // That Handoff passed on a failover its sender never served
  // (pb::Handoff::passes_failover).
  bool handoff_passes_failover = false;
};

// A leadership taken from another node that handed nothing over is a
// failover; a first appointment or a planned move is not. A planned move
// away from a node that took the partition over and never served it passes
// the failover on: otherwise a dead leader's partition moved on again before
// its first successor served (a rebalance right after the emergency one)
// would be counted by nobody.
bool counts_as_failover(const TakeoverInput& in);

}  // namespace partid::replication
