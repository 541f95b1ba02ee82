#include "parti/manager/manager.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "parti/assignment/assignment_follower.h"
#include "parti/assignment/assignment_store.h"
#include "parti/core/async.h"
#include "parti/election/leader_election.h"
#include "parti/identity/stable_id.h"
#include "parti/manager/buckets.h"
#include "parti/manager/leader_role.h"
#include "parti/membership/heartbeat_publisher.h"
#include "parti/membership/membership_tracker.h"

namespace parti {

using coord::KvErrc;
using coord::KvStatus;

namespace {

std::string random_instance() {
  std::random_device rd;
  std::mt19937_64 gen((uint64_t(rd()) << 32) ^ rd());
  return fmt::format("{:016x}", gen());
}

bool is_working_state(ManagerState s) {
  return s == ManagerState::Stable || s == ManagerState::Scaling ||
         s == ManagerState::Rebalancing || s == ManagerState::Emergency ||
         s == ManagerState::WaitingAssignment;
}

ManagerState from_calc(CalcState s) {
  switch (s) {
    case CalcState::Scaling:
      return ManagerState::Scaling;
    case CalcState::Rebalancing:
      return ManagerState::Rebalancing;
    case CalcState::Emergency:
      return ManagerState::Emergency;
    case CalcState::Idle:
      return ManagerState::Stable;
  }
  return ManagerState::Stable;
}

}  // namespace

// Everything below except the `shared` block is owned by the loop thread.
struct Manager::Impl {
  Config cfg;
  std::shared_ptr<coord::Connection> conn;
  std::shared_ptr<PartitionSource> source;
  std::shared_ptr<const Strategy> strategy;
  Hooks hooks;

  asio::io_context loop;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::unique_ptr<asio::thread_pool> pool;
  std::thread loop_thread;

  Buckets buckets;
  std::unique_ptr<StableIdClaimer> id;
  std::unique_ptr<LeaderElection> election;
  std::unique_ptr<HeartbeatPublisher> heartbeat;
  std::unique_ptr<MembershipTracker> members;
  std::shared_ptr<AssignmentStore> store;
  std::unique_ptr<AssignmentFollower> follower;
  std::unique_ptr<LeaderRole> leader;
  asio::steady_timer election_wake{loop};
  asio::steady_timer id_wake{loop};

  ManagerState state = ManagerState::Init;
  std::string self_id;  // this worker's ID, as the loop knows it
  bool release_requested = false;
  ManagerState before_degraded = ManagerState::WaitingAssignment;
  Assignment assignment;
  bool running = false;
  bool reclaiming = false;
  int loops_alive = 0;
  int listener = -1;

  // Shared with caller threads.
  mutable std::mutex mu;
  mutable std::condition_variable cv;
  struct Shared {
    ManagerState state = ManagerState::Init;
    std::string id;
    bool leader = false;
    Assignment assignment;
    std::vector<NodeRecord> members;
    std::string fatal;
    bool reached_stable = false;
    int loops_alive = 0;
  } shared;

  std::mutex lifecycle_mu;
  enum class Life { Idle, Running, Stopped } life = Life::Idle;

  template <class F>
  void publish_shared(F&& f) {
    {
      std::lock_guard lock(mu);
      f(shared);
    }
    cv.notify_all();
  }

  void error(const std::string& what) {
    spdlog::warn("[{}] {}", self_id.empty() ? "?" : self_id, what);
    if (hooks.on_error) hooks.on_error(what);
  }

  void set_state(ManagerState to) {
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

  void fail_start(const std::string& why) {
    error(why);
    publish_shared([&](Shared& s) { s.fatal = why; });
  }

  // ---- lifecycle -----------------------------------------------------------

  // One start-up step: retried until the startup deadline unless the error is
  // definitive (KvErrc::Other: wrong cluster config, JetStream disabled, ...).
  // JetStream may answer "no responders" for a moment after the server starts.
  template <class Job>
  asio::awaitable<bool> startup_step(TimePoint deadline, const char* what, Job job) {
    while (running) {
      KvStatus st = co_await run_blocking(*pool, job);
      if (st.ok()) co_return true;
      if (st.code == KvErrc::Other || Clock::now() > deadline) {
        fail_start(std::string(what) + ": " + st.message);
        co_return false;
      }
      co_await pause(cfg.timings.poll_interval);
    }
    co_return false;
  }

  asio::awaitable<void> main_flow() {
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
            deadline, "cluster config",
            [b = buckets.cluster.get(), rf = cfg.replication_factor, name = &strategy_name] {
              return ensure_cluster_config(*b, rf, *name);
            })) {
      co_return;
    }
    id = std::make_unique<StableIdClaimer>(buckets.stable_id, cfg.worker_id_prefix, cfg.max_workers,
                                           cfg.instance_id);
    if (!co_await startup_step(deadline, "claiming a worker ID",
                               [c = id.get()] { return c->claim(); })) {
      co_return;
    }
    adopt_id();
    set_state(ManagerState::Election);
    store = std::make_shared<AssignmentStore>(buckets.assignment);
    election = std::make_unique<LeaderElection>(buckets.election, self_id, cfg.instance_id);
    start_heartbeat();
    start_membership();
    start_assignment_follower();
    set_state(ManagerState::WaitingAssignment);
    spawn_loop(election_loop());
    spawn_loop(id_loop());
  }

  asio::awaitable<void> pause(Millis d) {
    asio::steady_timer t(loop);
    t.expires_after(d);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }

  // Copies the claimed ID into loop-owned state. Called on the loop right after
  // a claim was awaited; from then on only the ID loop touches `id`.
  void adopt_id() {
    self_id = id->id();
    publish_shared([&](Shared& s) { s.id = self_id; });
    spdlog::info("claimed stable ID {}", self_id);
  }

  void spawn_loop(asio::awaitable<void> body) {
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

  NodeRecord initial_record() const {
    NodeRecord r;
    r.id = self_id;
    r.instance = cfg.instance_id;
    r.api_address = cfg.api_address;
    r.peer_address = cfg.peer_address;
    r.state = NodeState::Active;
    r.startup_ms = wall_clock_ms();
    r.weight = cfg.capacity_weight;
    return r;
  }

  void start_heartbeat() {
    heartbeat = std::make_unique<HeartbeatPublisher>(
        loop.get_executor(), *pool, buckets.heartbeat, cfg.timings.heartbeat_interval,
        [this](const KvStatus& st) {
          if (!st.ok() && running) error("heartbeat publish failed: " + st.message);
        });
    heartbeat->start(initial_record());
  }

  void start_membership() {
    members = std::make_unique<MembershipTracker>(
        loop.get_executor(), *pool, buckets.heartbeat, cfg.timings,
        [this](const std::vector<MemberEvent>& events) { on_members(events); });
    members->start();
  }

  void on_members(const std::vector<MemberEvent>& events) {
    publish_shared([&](Shared& s) { s.members = members->view().records(); });
    if (leader && leader->active()) {
      leader->on_members(members->view().active_workers());
      return;
    }
    for (const auto& e : events) {
      if (e.kind == MemberEvent::Kind::Left || e.kind == MemberEvent::Kind::Disconnected) {
        election_wake.cancel();  // the leader may be gone: campaign now, not at the next tick
        break;
      }
    }
  }

  // ---- assignment ------------------------------------------------------------

  void start_assignment_follower() {
    follower = std::make_unique<AssignmentFollower>(
        loop.get_executor(), *pool, buckets.assignment, store, cfg.timings.poll_interval,
        [this](const Assignment& a) {
          if (running) apply_assignment(a);
        },
        [this](const std::string& why) { error(why); });
    follower->start();
  }

  void apply_assignment(const Assignment& a) {
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

  // ---- election --------------------------------------------------------------

  asio::awaitable<void> election_loop() {
    TimePoint lease_ok = Clock::now();
    const Millis tick = cfg.timings.election_ttl / 3;
    while (running) {
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
        auto st = co_await run_blocking(*pool, [e = election.get()] { return e->try_acquire(); });
        if (!running) break;
        if (st.ok()) {
          lease_ok = Clock::now();
          co_await become_leader();
        }
      }
      election_wake.expires_after(tick);
      boost::system::error_code ec;
      co_await election_wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (election->is_leader()) {
      co_await run_blocking(*pool, [e = election.get()] { return e->release(); });
    }
  }

  CalculatorConfig calculator_config() const {
    const Timings& t = cfg.timings;
    return CalculatorConfig{t.cold_start_window,   t.planned_scale_window, t.emergency_grace,
                            t.rebalance_cooldown,  t.poll_interval,        cfg.restart_ratio,
                            cfg.replication_factor};
  }

  asio::awaitable<void> become_leader() {
    spdlog::info("{} became leader (term {})", self_id, election->term());
    publish_shared([&](Shared& s) { s.leader = true; });
    if (hooks.on_leadership_changed) hooks.on_leadership_changed(true);
    leader = std::make_unique<LeaderRole>(
        loop.get_executor(), *pool, store, strategy, calculator_config(), source, self_id,
        LeaderRole::Callbacks{[this](CalcState s) { on_calc_state(s); },
                              [this](const Assignment& a) { apply_assignment(a); },
                              [this](const std::string& why) { lose_leadership(why); },
                              [this](const std::string& why) { error(why); }});
    auto active = members->view().active_workers();
    const bool ok = co_await leader->begin(election->term(), std::move(active));
    if (!ok && running && leader) {
      lose_leadership("could not take over the assignment");
    } else if (ok && leader) {
      // Members that changed while begin() awaited the store were not seen by it.
      leader->on_members(members->view().active_workers());
    }
  }

  void on_calc_state(CalcState s) {
    if (state == ManagerState::Degraded || !running) return;
    ManagerState target = from_calc(s);
    if (target == ManagerState::Stable && !assignment.has_worker(self_id)) {
      target = ManagerState::WaitingAssignment;
    }
    set_state(target);
  }

  void lose_leadership(const std::string& why) {
    if (!leader) return;
    spdlog::warn("{} steps down: {}", self_id, why);
    leader->end();
    leader.reset();
    // Only the election loop touches `election` (a renew may be in flight on
    // the pool right now): ask it to release the lease.
    release_requested = true;
    election_wake.cancel();
    publish_shared([&](Shared& s) { s.leader = false; });
    if (hooks.on_leadership_changed) hooks.on_leadership_changed(false);
    if (is_working_state(state) && state != ManagerState::WaitingAssignment) {
      set_state(assignment.has_worker(self_id) ? ManagerState::Stable
                                               : ManagerState::WaitingAssignment);
    }
  }

  // ---- stable ID ---------------------------------------------------------------

  asio::awaitable<void> id_loop() {
    const Millis tick = cfg.timings.id_ttl / 3;
    while (running) {
      id_wake.expires_after(tick);
      boost::system::error_code ec;
      co_await id_wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (!running) break;
      if (reclaiming) continue;
      auto st = co_await run_blocking(*pool, [c = id.get()] { return c->renew(); });
      if (!running) break;
      if (!st.ok() && !st.transient()) co_await on_id_lost(st.message);
    }
    co_await run_blocking(*pool, [c = id.get()] { return c->release(); });
  }

  asio::awaitable<void> on_id_lost(const std::string& why) {
    const std::string old_id = heartbeat->record().id;
    error("stable ID " + old_id + " lost (" + why + "); reclaiming");
    reclaiming = true;
    lose_leadership("stable ID lost");
    const Assignment empty;
    const AssignmentDelta delta = diff_for_worker(assignment, empty, old_id);
    if (!delta.empty() && hooks.on_assignment_changed) hooks.on_assignment_changed(delta, empty);
    assignment = Assignment{};
    publish_shared([&](Shared& s) { s.assignment = Assignment{}; });
    set_state(ManagerState::ClaimingID);
    co_await run_blocking(*pool,
                          [b = buckets.heartbeat.get(), k = &old_id] { return b->erase(*k); });
    while (running) {
      auto st = co_await run_blocking(*pool, [c = id.get()] { return c->claim(); });
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

  // ---- connection ----------------------------------------------------------------

  void on_connection(bool up) {
    if (!running || !members) return;
    if (!up) {
      if (is_working_state(state)) {
        before_degraded = state;
        set_state(ManagerState::Degraded);
      }
      members->connection_lost();
      follower->connection_lost();
      return;
    }
    // A watch whose consumer survived resumes; one the server lost reports
    // missed heartbeats and is recreated. Until they deliver, both poll.
    election_wake.cancel();
    id_wake.cancel();
    if (state == ManagerState::Degraded) {
      set_state(assignment.has_worker(self_id) ? ManagerState::Stable
                                               : ManagerState::WaitingAssignment);
    }
    follower->refetch();
  }

  asio::awaitable<void> shutdown_flow() {
    if (leader) {
      leader->end();
      leader.reset();
      publish_shared([&](Shared& s) { s.leader = false; });
      if (hooks.on_leadership_changed) hooks.on_leadership_changed(false);
    }
    if (heartbeat) co_await heartbeat->stop();
  }
};

Manager::Manager(Config config, std::shared_ptr<coord::Connection> connection,
                 std::shared_ptr<PartitionSource> source, std::shared_ptr<const Strategy> strategy,
                 Hooks hooks)
    : impl_(std::make_unique<Impl>()) {
  // spdlog builds its default logger on first use; do it here, before any of
  // our threads exist, instead of racing on it from several loops.
  spdlog::default_logger_raw();
  impl_->cfg = std::move(config);
  if (impl_->cfg.instance_id.empty()) impl_->cfg.instance_id = random_instance();
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
    m.pool = std::make_unique<asio::thread_pool>(2);
    m.guard.emplace(m.loop.get_executor());
    m.listener = m.conn->add_status_listener(
        [&m](bool up) { asio::post(m.loop, [&m, up] { m.on_connection(up); }); });
    m.spawn_loop(m.main_flow());
    m.loop_thread = std::thread([&m] { m.loop.run(); });
  }
  std::unique_lock lock(m.mu);
  const bool done = m.cv.wait_for(lock, m.cfg.timings.startup_timeout, [&] {
    return m.shared.reached_stable || !m.shared.fatal.empty();
  });
  std::string why = !m.shared.fatal.empty()
                        ? m.shared.fatal
                        : std::string("no assignment within the startup timeout");
  const bool ok = done && m.shared.fatal.empty();
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
  m.conn->remove_status_listener(m.listener);
  asio::post(m.loop, [&m] {
    m.running = false;
    m.set_state(ManagerState::Shutdown);
    m.election_wake.cancel();
    m.id_wake.cancel();
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
