// manager: campaigning, renewing and releasing the lease, and taking up or
// giving up the leader role. Only election_loop() touches LeaderElection.
#include "parti/manager/manager_impl.h"

namespace parti {

asio::awaitable<void> Manager::Impl::election_loop() {
  TimePoint lease_ok = Clock::now();
  const Millis tick = cfg.timings.election_ttl / 3;
  // While a departed member's lease waits for the server to expire its
  // heartbeat: that expiry comes within a fraction of the heartbeat TTL of
  // ours, and no event will announce it (we already dropped the id).
  const Millis takeover_retry =
      std::min<Millis>(tick, std::max<Millis>(cfg.timings.heartbeat_ttl / 20, Millis(50)));
  while (running) {
    Millis wait = tick;
    if (release_requested) {
      release_requested = false;
      co_await run_blocking(*pool, [e = election.get()] { return e->release(); });
      if (!running) break;
    }
    if (!election->is_leader()) election->set_self_id(self_id);  // changes after an ID loss
    if (election->is_leader()) {
      auto st = co_await run_blocking(*pool, [e = election.get()] { return e->renew(); });
      if (!running) break;
      if (st.ok()) {
        lease_ok = Clock::now();
      } else if (!st.transient()) {
        lose_leadership("lease lost: " + st.message);
      } else if (Clock::now() - lease_ok > cfg.timings.election_ttl) {
        // Our lease has expired on the server by now: someone else may lead.
        lose_leadership("lease expired while NATS was unreachable");
      }
    } else if (!reclaiming && state != ManagerState::Degraded) {
      // A lease held by a member whose heartbeat expired is taken over, so a
      // crashed leader costs a heartbeat TTL. The set lives in this frame,
      // which outlives the await, so the job may hold a pointer to it.
      const std::set<std::string> departed = members->view().departed();
      auto st = co_await run_blocking(
          *pool, [e = election.get(), d = &departed] { return e->try_acquire(*d); });
      if (!running) break;
      if (st.ok()) {
        lease_ok = Clock::now();
        become_leader();
      } else if (election->holder_departing()) {
        wait = takeover_retry;
      }
    }
    if (!running) break;
    co_await election_wake.sleep(wait);
  }
  if (election->is_leader()) {
    co_await run_blocking(*pool, [e = election.get()] { return e->release(); });
  }
}

CalculatorConfig Manager::Impl::calculator_config() const {
  const Timings& t = cfg.timings;
  return CalculatorConfig{t.cold_start_window, t.planned_scale_window, t.emergency_grace,
                          t.rebalance_cooldown, t.poll_interval, cfg.restart_ratio,
                          cfg.replication_factor, t.resize_hold_max, cfg.staged_moves,
                          // A worker's heartbeat in flight when NATS came back may
                          // time out, and so may the first one it sends while its
                          // own connection is still being re-established; the next
                          // follows within a TTL.
                          t.heartbeat_ttl + 2 * t.kv_timeout};
}

void Manager::Impl::become_leader() {
  spdlog::info("{} became leader (term {})", self_id, election->term());
  publish_shared([&](Shared& s) {
    s.leader = true;
    ++s.stats.leaderships_won;
  });
  if (hooks.on_leadership_changed) hooks.on_leadership_changed(true);
  leader = std::make_unique<LeaderRole>(
      loop.get_executor(), *pool, *source_pool, store, strategy, calculator_config(), source,
      self_id,
      LeaderRole::Callbacks{[this](CalcState s) { on_calc_state(s); },
                            [this](const Assignment& a) { apply_assignment(a); },
                            [this](const std::string& why) { lose_leadership(why); },
                            [this](const std::string& why) { error(why); },
                            [this](const std::string& why) { rebalance_held(why); }});
  leader->on_hearing(hearing->since());
  spawn_loop(take_over(++leader_tenure, election->term(), members->view().active_workers()));
}

// Beside the election loop, which goes on renewing the lease: begin() waits
// on the store and on the partition source, and either may take longer than
// the election TTL (a slow source, a slow NATS), which cost the lease while
// the loop waited for it.
asio::awaitable<void> Manager::Impl::take_over(uint64_t tenure, uint64_t term,
                                               std::vector<WorkerInfo> active) {
  // A spawned coroutine starts later than spawn_loop() returns: the role may
  // be gone by then, as by the time begin() is done.
  if (!leader || tenure != leader_tenure) co_return;
  const bool ok = co_await leader->begin(term, std::move(active));
  if (!leader || tenure != leader_tenure) co_return;  // stepped down meanwhile
  if (!ok) {
    if (running) lose_leadership("could not take over the assignment");
    co_return;
  }
  // Members that changed while begin() awaited the store were not seen by it.
  leader->on_members(members->view().active_workers(), members->view().left_cleanly());
}

void Manager::Impl::rebalance_held(const std::string& why) {
  spdlog::info("{}: {}", self_id, why);
  if (hooks.on_rebalance_held) hooks.on_rebalance_held(why);
}

void Manager::Impl::on_calc_state(CalcState s) {
  if (state == ManagerState::Degraded || !running) return;
  ManagerState target = from_calc(s);
  if (target == ManagerState::Stable && !assignment.has_worker(self_id)) {
    target = ManagerState::WaitingAssignment;
  }
  set_state(target);
}

void Manager::Impl::lose_leadership(const std::string& why) {
  if (!leader) return;
  spdlog::warn("{} steps down: {}", self_id, why);
  leader->end();
  leader.reset();
  // Only the election loop touches `election` (a renew may be in flight on
  // the pool right now): ask it to release the lease.
  release_requested = true;
  election_wake.wake();
  publish_shared([&](Shared& s) { s.leader = false; });
  if (hooks.on_leadership_changed) hooks.on_leadership_changed(false);
  if (is_working_state(state) && state != ManagerState::WaitingAssignment) {
    set_state(assignment.has_worker(self_id) ? ManagerState::Stable
                                             : ManagerState::WaitingAssignment);
  }
}

}  // namespace parti
