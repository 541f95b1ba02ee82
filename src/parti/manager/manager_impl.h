// manager: the private state of a Manager, shared by manager.cpp (lifecycle,
// membership, assignment, connection), manager_leadership.cpp (election and the
// leader role) and manager_identity.cpp (stable ID renewal and loss). Not a
// public header.
#pragma once

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "parti/assignment/assignment_follower.h"
#include "parti/assignment/assignment_store.h"
#include "parti/core/async.h"
#include "parti/core/thread_names.h"
#include "parti/core/wakeup.h"
#include "parti/election/leader_election.h"
#include "parti/identity/stable_id.h"
#include "parti/manager/buckets.h"
#include "parti/manager/hearing_clock.h"
#include "parti/manager/leader_role.h"
#include "parti/manager/manager.h"
#include "parti/membership/heartbeat_publisher.h"
#include "parti/membership/membership_tracker.h"

namespace parti {

using coord::KvErrc;
using coord::KvStatus;

inline bool is_working_state(ManagerState s) {
  return s == ManagerState::Stable || s == ManagerState::Scaling ||
         s == ManagerState::Rebalancing || s == ManagerState::Emergency ||
         s == ManagerState::WaitingAssignment;
}

inline ManagerState from_calc(CalcState s) {
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

// Everything below except the `shared` block is owned by the loop thread.
struct Manager::Impl {
  Config cfg;
  std::shared_ptr<coord::Connection> conn;
  std::shared_ptr<PartitionSource> source;
  std::shared_ptr<const Strategy> strategy;
  Hooks hooks;

  asio::io_context loop;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::unique_ptr<NamedThreadPool> pool;
  // The partition source's list() is the user's code: a slow one (a database
  // behind it) holding the pool's threads would hold back the heartbeats,
  // lease renewals and membership polls queued behind it, and the worker
  // would be counted gone. It runs on a thread of its own.
  std::unique_ptr<NamedThreadPool> source_pool;
  std::thread loop_thread;

  Buckets buckets;
  std::unique_ptr<StableIdClaimer> id;
  std::unique_ptr<LeaderElection> election;
  std::unique_ptr<HeartbeatPublisher> heartbeat;
  std::unique_ptr<MembershipTracker> members;
  std::shared_ptr<AssignmentStore> store;
  std::unique_ptr<AssignmentFollower> follower;
  std::unique_ptr<LeaderRole> leader;
  Wakeup election_wake{loop};
  Wakeup id_wake{loop};

  ManagerState state = ManagerState::Init;
  std::string self_id;  // this worker's ID, as the loop knows it
  bool release_requested = false;
  Assignment assignment;
  bool running = false;
  bool reclaiming = false;
  // Since when this node hears NATS, for the leader role (set in start()).
  std::optional<HearingClock> hearing;
  // The others count this worker gone once its record has gone unwritten for
  // a heartbeat TTL, whether or not its connection is up (a server that lost
  // its store, a full disk, a JetStream that refuses): so does the worker
  // itself, which is then Degraded until the server takes a heartbeat again.
  TimePoint last_heartbeat_accepted{};
  bool heartbeat_lapsed = false;
  int loops_alive = 0;
  // Counts the leader roles taken up: a take_over() whose role was ended
  // (and perhaps replaced) while it waited must not act on the next one.
  uint64_t leader_tenure = 0;
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
    bool stop_requested = false;  // ends a start() still waiting
    int loops_alive = 0;
    CoordinationStats stats;
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

  void error(const std::string& what);
  // Counts one event into shared.stats (under mu: stats() reads it from any
  // thread).
  void count(uint64_t CoordinationStats::*counter);
  void publish_watch_renewals();

  void set_state(ManagerState to);

  void fail_start(const std::string& why);

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

  asio::awaitable<void> main_flow();
  // Claims cfg.preferred_id, waiting for a lapsing claim; false: start failed.
  asio::awaitable<bool> reclaim_preferred_id(TimePoint deadline);

  asio::awaitable<void> pause(Millis d);

  // Copies the claimed ID into loop-owned state. Called on the loop right after
  // a claim was awaited; from then on only the ID loop touches `id`.
  void adopt_id();

  void spawn_loop(asio::awaitable<void> body);

  NodeRecord initial_record() const;

  void start_heartbeat();
  void on_heartbeat(const KvStatus& st);
  // Stable or WaitingAssignment, as the assignment says: where a worker
  // that was Degraded goes back to.
  ManagerState working_state() const;

  void start_membership();

  void on_members(const std::vector<MemberEvent>& events);

  // ---- assignment ------------------------------------------------------------

  void start_assignment_follower();

  void apply_assignment(const Assignment& a);

  // ---- election --------------------------------------------------------------

  asio::awaitable<void> election_loop();

  CalculatorConfig calculator_config() const;

  // Takes up the leader role; its take_over() runs beside the election loop.
  void become_leader();
  asio::awaitable<void> take_over(uint64_t tenure, uint64_t term, std::vector<WorkerInfo> active);

  void on_calc_state(CalcState s);

  void rebalance_held(const std::string& why);
  void lose_leadership(const std::string& why);

  // ---- stable ID ---------------------------------------------------------------

  asio::awaitable<void> id_loop();

  asio::awaitable<void> on_id_lost(const std::string& why);

  // ---- connection ----------------------------------------------------------------

  void on_connection(bool up);

  asio::awaitable<void> shutdown_flow();
};

}  // namespace parti
