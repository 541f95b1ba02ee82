// replication: how the Replicator takes a partition's appointments from the
// routing topology: at once, or held until the previous leader's Handoff
// (handoff.h decides which), and how it leaves a partition.
#include "partid/replication/replicator_state.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

namespace partid::replication {

void Replicator::take(uint32_t partition, Replica& r, Appointment next) {
  HandoffInput in;
  in.self = self_;
  if (r.active) in.previous_leader = r.leader;
  in.previous_alive = in.previous_leader && recorded_nodes_.contains(*in.previous_leader);
  in.next_leader = next.leader();
  in.writes_in_flight = !r.waiting.empty();
  in.handoff_heard = handoff_heard(partition, next.epoch);
  const HandoffPlan plan = plan_handoff(in);
  const auto now = std::chrono::steady_clock::now();
  // The others wait longer than a leader drains: its Handoff comes after.
  const auto wait =
      plan == HandoffPlan::DrainFirst ? options_.handoff_timeout : 2 * options_.handoff_timeout;
  switch (plan) {
    case HandoffPlan::AppointNow:
      return appoint(partition, r, next);
    case HandoffPlan::HandOver:
      return hand_over(partition, r, next);
    case HandoffPlan::DrainFirst:
    case HandoffPlan::AwaitHandoff:
      r.held = Replica::Held{std::move(next), plan, in.previous_leader.value_or(""), now + wait};
      return;
    case HandoffPlan::LookUpLeader:
      r.held = Replica::Held{next, plan, "", now + wait};
      return look_up_leader(partition, std::move(next));
  }
}

// Not a replica any more: it keeps its data and still answers sealing (it
// may be one of the sealed set a new leader must hear from), but takes no
// writes.
void Replicator::appoint(uint32_t partition, Replica& r, const Appointment& next) {
  r.held.reset();
  if (std::find(next.members.begin(), next.members.end(), self_) == next.members.end()) {
    if (r.active) deactivate(r);
    return;
  }
  // Before r.leader changes (ReplicatorStats::failovers).
  const HeardHandoff* heard = heard_handoff(partition, next.epoch);
  r.takes_over = counts_as_failover({.leads_next = next.leader() == self_,
                                     .was_replica = r.active,
                                     .led_before = r.leader == self_,
                                     .handoff_heard = heard != nullptr,
                                     .handoff_passes_failover = heard && heard->passes_failover});
  r.active = true;
  r.epoch = next.epoch;
  r.leader = next.leader();
  r.members = next.members;
  r.appointed_at = std::chrono::steady_clock::now();
  step(partition, r, r.core.appoint(next.epoch, r.leader, next.members));
}

void Replicator::hand_over(uint32_t partition, Replica& r, const Appointment& next) {
  std::set<std::string> told(r.members.begin(), r.members.end());
  told.insert(next.members.begin(), next.members.end());
  told.erase(self_);
  // A failover taken here and never served is the next leader's to count.
  const bool passes_failover = r.takes_over && !r.leading;
  for (const auto& node : told) {
    outbox_.add_handoff(node, partition, next.epoch, passes_failover);
  }
  ++stats_.handoffs_sent;
  appoint(partition, r, next);
}

// A replica that never acted on this partition learns who led it from the
// register: its set's leader, if it still has a node record, hands over.
void Replicator::look_up_leader(uint32_t partition, Appointment next) {
  seals_->read(partition, [this, partition, next, alive = alive_](core::SealRecord read) {
    if (!*alive) return;
    const core::SealRecord record = incarnation_view(partition, std::move(read));
    with_replica(partition, [&](Replica& r) {
      if (!r.held || r.held->plan != HandoffPlan::LookUpLeader || !(r.held->next == next)) return;
      const auto& sealed = record.config.members;
      if (sealed.empty() || sealed.front() == self_ || !recorded_nodes_.contains(sealed.front()) ||
          handoff_heard(partition, next.epoch)) {
        return appoint(partition, r, next);
      }
      r.held->plan = HandoffPlan::AwaitHandoff;
      r.held->from = sealed.front();
    });
  });
}

const Replicator::HeardHandoff* Replicator::heard_handoff(uint32_t partition,
                                                          uint64_t epoch) const {
  auto heard = handoffs_heard_.find(partition);
  return heard != handoffs_heard_.end() && heard->second.epoch >= epoch ? &heard->second : nullptr;
}

void Replicator::on_handoff(const std::string& from, const pb::Handoff& handoff) {
  const uint32_t partition = handoff.partition();
  const uint64_t epoch = handoff.epoch();
  HeardHandoff& heard = handoffs_heard_[partition];
  if (epoch > heard.epoch) heard = {epoch, false};
  if (epoch == heard.epoch) heard.passes_failover |= handoff.passes_failover();
  with_replica(partition, [&](Replica& r) {
    if (!r.held || r.held->plan == HandoffPlan::DrainFirst || epoch < r.held->next.epoch) return;
    if (r.held->plan == HandoffPlan::AwaitHandoff && r.held->from != from) return;
    ++stats_.handoffs_received;
    const Appointment next = r.held->next;  // appoint() clears the hold
    appoint(partition, r, next);
  });
}

// A leader handing over once what it had in flight is answered; any held
// appointment whose wait is over.
void Replicator::settle_held(uint32_t partition, Replica& r,
                             std::chrono::steady_clock::time_point now) {
  if (!r.held) return;
  const bool drained = r.held->plan == HandoffPlan::DrainFirst && r.waiting.empty();
  if (!drained && now < r.held->deadline) return;
  if (!drained) {
    ++stats_.handoffs_timed_out;
    spdlog::info("partition {}: appointment of epoch {} taken without a handoff ({})", partition,
                 r.held->next.epoch,
                 r.held->plan == HandoffPlan::DrainFirst ? "writes in flight did not commit"
                                                         : "no handoff came");
  }
  Appointment next = r.held->next;
  if (r.held->plan == HandoffPlan::DrainFirst) return hand_over(partition, r, next);
  appoint(partition, r, next);
}

void Replicator::deactivate(Replica& r) {
  r.active = false;
  watch_stall(r);
  r.follower_stalls.clear();
  // Queued writes were never proposed: nothing of them exists anywhere. Those
  // proposed may still commit under the next leader: their outcome is unknown.
  for (auto& q : r.queued) {
    writes_.complete(q.slot, {false, 0, 0, "not_leader", "this node left the partition"});
  }
  r.queued.clear();
  for (const auto& [seq, w] : r.waiting) {
    writes_.complete(w.slot, {false, 0, 0, "leadership_lost",
                              "this node left the partition; the write may or may not be applied"});
  }
  r.waiting.clear();
  while (!r.reads.empty()) settle_read(r, r.reads.begin()->first, false);
}

}  // namespace partid::replication
