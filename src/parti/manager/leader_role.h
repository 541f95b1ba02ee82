// manager: what a worker does only while it is leader. Drives the Calculator
// (timers, partition source, publishing through the AssignmentStore) and says
// when a publish proved that leadership was lost. Loop-owned; end() makes every
// pending callback of the current term a no-op.
#pragma once

#include <functional>
#include <memory>

#include "parti/assignment/assignment_store.h"
#include "parti/assignment/calculator.h"
#include "parti/core/async.h"
#include "parti/source/partition_source.h"

namespace parti {

class LeaderRole {
 public:
  struct Callbacks {
    std::function<void(CalcState)> on_state;
    std::function<void(const Assignment&)> on_published;
    std::function<void(const std::string&)> on_deposed;
    std::function<void(const std::string&)> on_error;
    std::function<void(const std::string&)> on_held;  // the resize guard holds a rebalance
  };
  // `source_pool` runs the partition source's list() (the user's code, which
  // may be slow), `pool` the store's blocking calls.
  LeaderRole(asio::any_io_executor loop, asio::thread_pool& pool, asio::thread_pool& source_pool,
             std::shared_ptr<AssignmentStore> store, std::shared_ptr<const Strategy> strategy,
             CalculatorConfig config, std::shared_ptr<PartitionSource> source, std::string self_id,
             Callbacks callbacks);
  ~LeaderRole();

  // Adopts the published assignment and fences it under `term`. False when the
  // store could not be read or another leader moved the pointer meanwhile.
  asio::awaitable<bool> begin(uint64_t term, std::vector<WorkerInfo> active);
  void on_members(std::vector<WorkerInfo> active, std::set<std::string> left_cleanly);
  // This node's NATS connection came up at `since`, or is down (nullopt);
  // kept across terms (see Calculator::on_hearing).
  void on_hearing(std::optional<TimePoint> since);
  void refresh();  // re-read the source; bypasses the cooldown
  void end();

  bool active() const { return calc_ != nullptr; }
  CalcState state() const { return calc_ ? calc_->state() : CalcState::Idle; }

 private:
  void handle(CalcOutput out);
  void arm();
  asio::awaitable<void> publish(Assignment a, std::shared_ptr<bool> term_alive);
  asio::awaitable<void> reload_partitions(std::shared_ptr<bool> term_alive);

  asio::any_io_executor loop_;
  asio::thread_pool& pool_;
  asio::thread_pool& source_pool_;
  std::shared_ptr<AssignmentStore> store_;
  std::shared_ptr<const Strategy> strategy_;
  CalculatorConfig config_;
  std::shared_ptr<PartitionSource> source_;
  std::string self_id_;
  Callbacks cb_;
  std::unique_ptr<Calculator> calc_;
  asio::steady_timer timer_;
  std::shared_ptr<bool> term_alive_;
  uint64_t term_ = 0;
  uint64_t pointer_revision_ = 0;
  std::optional<TimePoint> hearing_since_ = Clock::now();
};

}  // namespace parti
