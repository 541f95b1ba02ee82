#include "partid/replication/handoff.h"

namespace partid::replication {

HandoffPlan plan_handoff(const HandoffInput& in) {
  if (in.handoff_heard) return HandoffPlan::AppointNow;
  if (!in.previous_leader) {
    return in.next_leader == in.self ? HandoffPlan::LookUpLeader : HandoffPlan::AppointNow;
  }
  if (*in.previous_leader == in.self) {
    return in.writes_in_flight ? HandoffPlan::DrainFirst : HandoffPlan::HandOver;
  }
  return in.previous_alive ? HandoffPlan::AwaitHandoff : HandoffPlan::AppointNow;
}

bool counts_as_failover(const TakeoverInput& in) {
  if (!in.leads_next || !in.was_replica || in.led_before) return false;
  return !in.handoff_heard || in.handoff_passes_failover;
}

}  // namespace partid::replication
