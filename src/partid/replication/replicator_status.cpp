// replication: what the Replicator reports: which partitions this node may
// serve, and the statuses and counters behind /status, /metrics and admin.
#include "partid/replication/replicator_state.h"

#include <fmt/ranges.h>

#include <algorithm>

namespace partid::replication {

bool Replicator::serves_reads(uint32_t partition) const {
  auto it = replicas_.find(partition);
  if (it == replicas_.end() || !it->second->active) return false;
  return it->second->core.serves_reads();
}

bool Replicator::confirms_reads_alone(uint32_t partition) const {
  auto it = replicas_.find(partition);
  if (it == replicas_.end() || !it->second->active) return false;
  const Replica& r = *it->second;
  // A new leader's core counts adopted entries committed while their apply
  // is still on its way to disk: until it has landed, the read goes the long
  // way, settled behind those commits (Effects::reads_confirmed).
  return r.core.confirms_reads_alone() && r.applied_epoch == r.core.epoch() &&
         r.applied_commit >= r.core.commit();
}

std::optional<std::string> Replicator::quorum_lost(uint32_t partition) const {
  auto it = replicas_.find(partition);
  if (it == replicas_.end() || !it->second->active) return std::nullopt;
  auto set = it->second->core.set_out_of_reach(live_nodes_);
  if (!set) return std::nullopt;
  size_t alive = 0;
  for (const auto& node : *set) alive += node == self_ || live_nodes_.contains(node) ? 1 : 0;
  return fmt::format(
      "partition {} has lost a majority of its replicas ({} of {} alive: {}; {} needed): it is "
      "served again when enough of them return, or after an operator runs drop-lost-replicas",
      partition, alive, set->size(), fmt::join(*set, ", "), set->size() / 2 + 1);
}

bool Replicator::serves_replica_reads(uint32_t partition) const {
  auto it = replicas_.find(partition);
  return it != replicas_.end() && it->second->active && !it->second->core.rebuilding();
}

std::vector<ReplicaStatus> Replicator::statuses() const {
  std::vector<ReplicaStatus> out;
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [p, r] : replicas_) {
    const auto& c = r->core;
    // A leader that has not claimed its set yet is still sealing.
    const bool claiming = c.role() == core::Role::leader && !c.serving();
    ReplicaStatus s{p,
                    r->active,
                    claiming ? core::Role::sealing : c.role(),
                    c.epoch(),
                    c.promised_epoch(),
                    c.commit(),
                    c.last().seq,
                    0,
                    c.buffered_entries(),
                    c.rebuilding(),
                    c.waits_for_data(),
                    r->leader,
                    serves_reads(p),
                    r->stall.stalled_seconds(now),
                    {},
                    {},
                    0,
                    {}};
    if (c.role() == core::Role::leader) {
      for (const auto& [node, match] : c.follower_matches()) {
        s.lag = std::max(s.lag, c.last().seq - std::min(match, c.last().seq));
        auto stall = r->follower_stalls.find(node);
        s.followers.push_back(
            {node, match, c.log().payload_bytes_after(match), match < c.log().base().seq,
             stall == r->follower_stalls.end() ? 0 : stall->second.stalled_seconds(now)});
      }
    }
    if (r->held) {
      const auto plan = r->held->plan;
      s.handoff = plan == HandoffPlan::DrainFirst     ? "draining"
                  : plan == HandoffPlan::LookUpLeader ? "looking_up"
                                                      : "awaiting";
      s.handoff_epoch = r->held->next.epoch;
      s.handoff_from = r->held->from;
    }
    out.push_back(std::move(s));
  }
  return out;
}

bool Replicator::held_for_handoff(uint32_t partition) const {
  auto it = replicas_.find(partition);
  return it != replicas_.end() && it->second->active && it->second->held.has_value();
}

ReplicatorStats Replicator::stats() const {
  ReplicatorStats s = stats_;
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [p, r] : replicas_) {
    const auto& cs = r->core.stats();
    s.sync_requests += cs.sync_requests;
    s.buffer_overflows += cs.buffer_overflows;
    s.refused += cs.refused;
    s.read_rounds += cs.read_rounds;
    s.log_held_bytes += r->core.held_log_bytes();
    const auto too_long = [&](const StallClock& clock) {
      return std::chrono::duration<double>(clock.stalled_seconds(now)) >= options_.write_timeout;
    };
    s.stalled_partitions += too_long(r->stall) ? 1 : 0;
    for (const auto& [node, clock] : r->follower_stalls)
      s.lagging_followers += too_long(clock) ? 1 : 0;
  }
  s.snapshot_bytes_held = snapshot_budget_.held();
  s.messages_sent = outbox_.sent_messages();
  s.messages_dropped = outbox_.dropped_messages();
  s.transfers_started = outbox_.fragments().started();
  s.transfers_abandoned = outbox_.fragments().abandoned();
  s.transfers_waited_busy = outbox_.fragments().busy_refusals();
  s.snapshot_bytes_receiving = inbox_.received_bytes_held();
  s.log_holds_released = holds_released_;
  s.disk_writes = commit_.writes();
  s.disk_slow = slow_disk_.slow();
  s.disk_write_median_seconds = std::chrono::duration<double>(slow_disk_.median()).count();
  s.disk_write_steps = commit_.steps_written();
  s.installs_ingested = store_.installs_ingested();
  s.installs_sorted = store_.installs_sorted();
  s.pending_writes = writes_.pending();
  s.committed_writes = writes_.committed();
  s.failed_writes = writes_.failed();
  return s;
}
}  // namespace partid::replication
