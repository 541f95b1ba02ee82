// manager: renewing the stable ID, and what happens when it is lost. Only
// id_loop() (and start-up, before it runs) touches StableIdClaimer.
#include "parti/manager/manager_impl.h"

namespace parti {

asio::awaitable<void> Manager::Impl::id_loop() {
  const Millis tick = cfg.timings.id_ttl / 3;
  while (running) {
    co_await id_wake.sleep(tick);
    if (!running) break;
    if (reclaiming) continue;
    auto st = co_await run_blocking(*pool, [c = id.get()] { return c->renew(); });
    if (!running) break;
    if (!st.ok() && !st.transient()) co_await on_id_lost(st.message);
  }
  co_await run_blocking(*pool, [c = id.get()] { return c->release(); });
}

asio::awaitable<void> Manager::Impl::on_id_lost(const std::string& why) {
  const std::string old_id = heartbeat->record().id;
  count(&CoordinationStats::id_reclaims);
  error("stable ID " + old_id + " lost (" + why + "); reclaiming");
  reclaiming = true;
  lose_leadership("stable ID lost");
  const Assignment empty;
  const AssignmentDelta delta = diff_for_worker(assignment, empty, old_id);
  if (!delta.empty() && hooks.on_assignment_changed) hooks.on_assignment_changed(delta, empty);
  assignment = Assignment{};
  publish_shared([&](Shared& s) { s.assignment = Assignment{}; });
  set_state(ManagerState::ClaimingID);
  co_await run_blocking(*pool, [b = buckets.heartbeat.get(), k = &old_id] { return b->erase(*k); });
  while (running) {
    auto st = co_await run_blocking(*pool, [c = id.get(), p = &old_id] { return c->claim(*p); });
    if (st.ok()) break;
    co_await pause(cfg.timings.poll_interval);
  }
  if (!running) co_return;
  adopt_id();
  heartbeat->update([&](NodeRecord& r) { r.id = self_id; });
  set_state(ManagerState::Election);
  set_state(ManagerState::WaitingAssignment);
  reclaiming = false;
  follower->refetch();
}

}  // namespace parti
