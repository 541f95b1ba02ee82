#include "parti/manager/manager.h"

#include "parti/manager/manager_impl.h"

namespace parti {

namespace {}  // namespace

void Manager::Impl::error(const std::string& what) {
  spdlog::warn("[{}] {}", self_id.empty() ? "?" : self_id, what);
  count(&CoordinationStats::errors);
  if (hooks.on_error) hooks.on_error(what);
}

void Manager::Impl::count(uint64_t CoordinationStats::*counter) {
  std::lock_guard lock(mu);
  ++(shared.stats.*counter);
}

// The watches' audits count on the loop too, inside their trackers; copied
// out with each heartbeat.
void Manager::Impl::publish_watch_renewals() {
  const uint64_t renewals =
      (members ? members->watch_renewals() : 0) + (follower ? follower->watch_renewals() : 0);
  std::lock_guard lock(mu);
  shared.stats.watch_renewals = renewals;
}

void Manager::Impl::set_state(ManagerState to) {
  if (to == state) return;
  if (!is_valid_transition(state, to)) {
    spdlog::error("refused invalid transition {} -> {}", to_string(state), to_string(to));
    return;
  }
  const ManagerState from = state;
  state = to;
  publish_shared([&](Shared& s) {
    s.state = to;
    if (to == ManagerState::Stable) s.reached_stable = true;
  });
  if (hooks.on_state_changed) hooks.on_state_changed(from, to);
}

void Manager::Impl::fail_start(const std::string& why) {
  error(why);
  publish_shared([&](Shared& s) { s.fatal = why; });
}

asio::awaitable<void> Manager::Impl::main_flow() {
  const auto deadline = Clock::now() + cfg.timings.startup_timeout;
  set_state(ManagerState::ClaimingID);
  coord::KvResult<Buckets> opened;
  if (!co_await startup_step(deadline, "opening buckets",
                             [out = &opened, c = &conn, config = &cfg] {
                               *out = Buckets::open(*c, *config);
                               return out->status;
                             })) {
    co_return;
  }
  buckets = std::move(opened.value);
  const std::string strategy_name = strategy->name();
  if (!co_await startup_step(
          deadline, "cluster config", [b = buckets.cluster.get(), c = &cfg, name = &strategy_name] {
            return ensure_cluster_config(*b, c->replication_factor, *name, c->cluster_settings);
          })) {
    co_return;
  }
  id = std::make_unique<StableIdClaimer>(buckets.stable_id, cfg.worker_id_prefix, cfg.max_workers,
                                         cfg.instance_id);
  if (cfg.never_reuse_ids) id->never_reuse(buckets.cluster);
  if (cfg.wait_for_preferred_id && !cfg.preferred_id.empty() &&
      !co_await reclaim_preferred_id(deadline)) {
    co_return;
  }
  if (!id->holds() &&
      !co_await startup_step(deadline, "claiming a worker ID",
                             [c = id.get(), p = &cfg.preferred_id] { return c->claim(*p); })) {
    co_return;
  }
  adopt_id();
  set_state(ManagerState::Election);
  store = std::make_shared<AssignmentStore>(buckets.assignment);
  election = std::make_unique<LeaderElection>(buckets.election, self_id, cfg.instance_id,
                                              buckets.heartbeat);
  start_heartbeat();
  start_membership();
  start_assignment_follower();
  set_state(ManagerState::WaitingAssignment);
  spawn_loop(election_loop());
  spawn_loop(id_loop());
}

asio::awaitable<bool> Manager::Impl::reclaim_preferred_id(TimePoint deadline) {
  const TimePoint until =
      std::min(deadline, Clock::now() + cfg.timings.id_ttl + cfg.timings.poll_interval);
  bool taken = true;
  bool took_over = false;
  bool said_taken = false;
  while (taken && running && Clock::now() < until) {
    if (!co_await startup_step(deadline, "reclaiming the worker ID",
                               [c = id.get(), p = &cfg.preferred_id, prev = &cfg.previous_instance,
                                t = &taken, o = &took_over] {
                                 auto st = c->reclaim(*p, *prev, o);
                                 *t = st.code == KvErrc::Exists;
                                 return *t ? KvStatus{} : st;
                               })) {
      co_return false;
    }
    if (taken && !said_taken) {
      said_taken = true;
      spdlog::info("worker ID {} is held by another process; waiting up to {} ms for its release",
                   cfg.preferred_id,
                   std::chrono::duration_cast<Millis>(until - Clock::now()).count());
    }
    if (taken) co_await pause(cfg.timings.poll_interval);
  }
  if (taken) error("worker ID " + cfg.preferred_id + " is still held; taking another");
  if (took_over) {
    spdlog::info("[{}] took the worker ID back from this worker's previous process {}",
                 cfg.preferred_id, cfg.previous_instance);
  }
  co_return true;
}

asio::awaitable<void> Manager::Impl::pause(Millis d) {
  asio::steady_timer t(loop);
  t.expires_after(d);
  boost::system::error_code ec;
  co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

void Manager::Impl::adopt_id() {
  self_id = id->id();
  publish_shared([&](Shared& s) { s.id = self_id; });
  spdlog::info("claimed stable ID {}", self_id);
}

void Manager::Impl::spawn_loop(asio::awaitable<void> body) {
  ++loops_alive;
  publish_shared([&](Shared& s) { s.loops_alive = loops_alive; });
  asio::co_spawn(loop, std::move(body), [this](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("manager task failed: {}", ex.what());
      }
    }
    --loops_alive;
    publish_shared([&](Shared& s) { s.loops_alive = loops_alive; });
  });
}

NodeRecord Manager::Impl::initial_record() const {
  NodeRecord r;
  r.id = self_id;
  r.instance = cfg.instance_id;
  r.api_address = cfg.api_address;
  r.peer_address = cfg.peer_address;
  r.format = cfg.data_format;
  r.reads_since = true;
  r.state = NodeState::Active;
  r.startup_ms = wall_clock_ms();
  r.weight = cfg.capacity_weight;
  return r;
}

void Manager::Impl::start_heartbeat() {
  last_heartbeat_accepted = Clock::now();
  heartbeat = std::make_unique<HeartbeatPublisher>(
      loop.get_executor(), *pool, buckets.heartbeat, cfg.timings.heartbeat_interval,
      [this](const KvStatus& st) { on_heartbeat(st); });
  heartbeat->start(initial_record(), hooks.refresh_record);
}

void Manager::Impl::on_heartbeat(const KvStatus& st) {
  const auto now = Clock::now();
  publish_watch_renewals();
  if (st.ok()) {
    last_heartbeat_accepted = now;
    if (heartbeat_lapsed) {
      heartbeat_lapsed = false;
      spdlog::info("{}: the server takes this worker's heartbeats again", self_id);
      if (state == ManagerState::Degraded && conn->connected()) set_state(working_state());
    }
    if (hearing->on_write_accepted(now) && leader) leader->on_hearing(hearing->since());
    return;
  }
  if (!running) return;
  count(&CoordinationStats::heartbeats_failed);
  error("heartbeat publish failed: " + st.message);
  if (heartbeat_lapsed || now - last_heartbeat_accepted < cfg.timings.heartbeat_ttl) return;
  heartbeat_lapsed = true;
  count(&CoordinationStats::heartbeat_lapses);
  spdlog::warn(
      "{}: no heartbeat of this worker's has been accepted for a heartbeat TTL ({} ms): the "
      "others count it gone; Degraded until one is ({})",
      self_id, cfg.timings.heartbeat_ttl.count(), st.message);
  if (is_working_state(state)) set_state(ManagerState::Degraded);
}

ManagerState Manager::Impl::working_state() const {
  return assignment.has_worker(self_id) ? ManagerState::Stable : ManagerState::WaitingAssignment;
}

void Manager::Impl::start_membership() {
  members = std::make_unique<MembershipTracker>(
      loop.get_executor(), *pool, buckets.heartbeat, cfg.timings,
      [this](const std::vector<MemberEvent>& events) { on_members(events); });
  members->start();
}

void Manager::Impl::on_members(const std::vector<MemberEvent>& events) {
  publish_shared([&](Shared& s) { s.members = members->view().records(); });
  if (leader && leader->active()) {
    leader->on_members(members->view().active_workers(), members->view().left_cleanly());
    return;
  }
  for (const auto& e : events) {
    if (e.kind == MemberEvent::Kind::Left || e.kind == MemberEvent::Kind::Disconnected) {
      election_wake.wake();  // the leader may be gone: campaign now, not at the next tick
      break;
    }
  }
}

void Manager::Impl::start_assignment_follower() {
  follower = std::make_unique<AssignmentFollower>(
      loop.get_executor(), *pool, buckets.assignment, store, cfg.timings.poll_interval,
      [this](const Assignment& a) {
        if (running) apply_assignment(a);
      },
      [this](const std::string& why) { error(why); });
  follower->start();
}

void Manager::Impl::apply_assignment(const Assignment& a) {
  if (a.version <= assignment.version) return;
  const AssignmentDelta delta = diff_for_worker(assignment, a, self_id);
  assignment = a;
  publish_shared([&](Shared& s) { s.assignment = a; });
  if (!delta.empty() && hooks.on_assignment_changed) hooks.on_assignment_changed(delta, a);
  if (state == ManagerState::WaitingAssignment && a.has_worker(self_id) &&
      !(leader && leader->active() && leader->state() != CalcState::Idle)) {
    set_state(ManagerState::Stable);
  }
}

void Manager::Impl::on_connection(bool up) {
  if (!running || !members) return;
  if (!up) {
    hearing->on_connection_lost();  // hearing resumes with a write accepted (start_heartbeat)
    if (leader) leader->on_hearing(hearing->since());
    if (is_working_state(state)) set_state(ManagerState::Degraded);
    members->connection_lost();
    follower->connection_lost();
    return;
  }
  // A watch whose consumer survived resumes; one the server lost reports
  // missed heartbeats and is recreated. Until they deliver, both poll.
  election_wake.wake();
  id_wake.wake();
  // A worker whose heartbeats lapsed stays Degraded until one is accepted.
  if (state == ManagerState::Degraded && !heartbeat_lapsed) set_state(working_state());
  follower->refetch();
}

asio::awaitable<void> Manager::Impl::shutdown_flow() {
  if (leader) {
    leader->end();
    leader.reset();
    publish_shared([&](Shared& s) { s.leader = false; });
    if (hooks.on_leadership_changed) hooks.on_leadership_changed(false);
  }
  if (heartbeat) co_await heartbeat->stop();
}

Manager::Manager(Config config, std::shared_ptr<coord::Connection> connection,
                 std::shared_ptr<PartitionSource> source, std::shared_ptr<const Strategy> strategy,
                 Hooks hooks)
    : impl_(std::make_unique<Impl>()) {
  // spdlog builds its default logger on first use; do it here, before any of
  // our threads exist, instead of racing on it from several loops.
  spdlog::default_logger_raw();
  impl_->cfg = std::move(config);
  if (impl_->cfg.instance_id.empty()) impl_->cfg.instance_id = random_instance_id();
  impl_->conn = std::move(connection);
  impl_->source = std::move(source);
  impl_->strategy = std::move(strategy);
  impl_->hooks = std::move(hooks);
}

Manager::~Manager() { stop(); }

void Manager::start() {
  Impl& m = *impl_;
  {
    std::lock_guard lock(m.lifecycle_mu);
    if (m.life != Impl::Life::Idle) throw StartError("start() may be called once per Manager");
    auto errors = validate(m.cfg);
    if (!errors.empty()) {
      m.life = Impl::Life::Stopped;
      std::string all;
      for (const auto& e : errors) all += (all.empty() ? "" : "; ") + e;
      throw StartError("invalid config: " + all);
    }
    m.life = Impl::Life::Running;
    m.running = true;
    m.hearing.emplace(Clock::now(), m.calculator_config().rejoin_window);
    m.pool = std::make_unique<NamedThreadPool>(2, "parti-kv");
    m.source_pool = std::make_unique<NamedThreadPool>(1, "parti-source");
    m.guard.emplace(m.loop.get_executor());
    m.listener = m.conn->add_status_listener(
        [&m](bool up) { asio::post(m.loop, [&m, up] { m.on_connection(up); }); });
    m.spawn_loop(m.main_flow());
    m.loop_thread = std::thread([&m] {
      name_this_thread("parti-loop");
      m.loop.run();
    });
  }
  std::unique_lock lock(m.mu);
  const bool done = m.cv.wait_for(lock, m.cfg.timings.startup_timeout, [&] {
    return m.shared.reached_stable || !m.shared.fatal.empty() || m.shared.stop_requested;
  });
  std::string why = m.shared.stop_requested ? std::string("stopped while starting")
                    : !m.shared.fatal.empty()
                        ? m.shared.fatal
                        : std::string("no assignment within the startup timeout");
  const bool ok = done && m.shared.fatal.empty() && !m.shared.stop_requested;
  lock.unlock();
  if (!ok) {
    stop();
    throw StartError(why);
  }
}

void Manager::stop() {
  Impl& m = *impl_;
  std::lock_guard lifecycle(m.lifecycle_mu);
  if (m.life != Impl::Life::Running) {
    m.life = Impl::Life::Stopped;
    return;
  }
  m.life = Impl::Life::Stopped;
  // A start() still waiting for an assignment ends now, not at its timeout
  // (a daemon told to stop while it starts); it returns once this is done.
  m.publish_shared([](Impl::Shared& s) { s.stop_requested = true; });
  m.conn->remove_status_listener(m.listener);
  asio::post(m.loop, [&m] {
    m.running = false;
    m.set_state(ManagerState::Shutdown);
    m.election_wake.wake();
    m.id_wake.wake();
    if (m.members) m.members->stop();
    if (m.follower) m.follower->stop();
    m.spawn_loop(m.shutdown_flow());
  });
  {
    // Each task releases what it holds (lease, ID, heartbeat key) on its way out.
    std::unique_lock lock(m.mu);
    const auto limit = 3 * m.cfg.timings.kv_timeout + std::chrono::seconds(1);
    if (!m.cv.wait_for(lock, limit, [&] { return m.shared.loops_alive == 0; })) {
      spdlog::warn("stop(): tasks still running after {}ms; abandoning them", limit.count());
    }
  }
  m.guard.reset();
  m.loop.stop();
  if (m.loop_thread.joinable()) m.loop_thread.join();
  m.pool->join();
  m.source_pool->join();
  m.leader.reset();
  m.members.reset();
  m.follower.reset();
}

std::string Manager::worker_id() const {
  std::lock_guard lock(impl_->mu);
  return impl_->shared.id;
}

bool Manager::is_leader() const {
  std::lock_guard lock(impl_->mu);
  return impl_->shared.leader;
}

Assignment Manager::current_assignment() const {
  std::lock_guard lock(impl_->mu);
  return impl_->shared.assignment;
}

CoordinationStats Manager::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->shared.stats;
}

ManagerState Manager::state() const {
  std::lock_guard lock(impl_->mu);
  return impl_->shared.state;
}

bool Manager::wait_state(ManagerState s, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] { return impl_->shared.state == s; });
}

bool Manager::wait_assignment(const std::function<bool(const Assignment&)>& pred,
                              std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] { return pred(impl_->shared.assignment); });
}

void Manager::refresh_partitions() {
  Impl& m = *impl_;
  asio::post(m.loop, [&m] {
    if (m.running && m.leader) m.leader->refresh();
  });
}

void Manager::update_record(std::function<void(NodeRecord&)> change) {
  Impl& m = *impl_;
  asio::post(m.loop, [&m, change = std::move(change)] {
    if (m.running && m.heartbeat) m.heartbeat->update(change);
  });
}

std::vector<NodeRecord> Manager::members() const {
  std::lock_guard lock(impl_->mu);
  return impl_->shared.members;
}

}  // namespace parti
