// membership: the I/O shell around MembershipView. Watches the heartbeat
// bucket (a thread-driven WatchPump); while the watch is broken it polls the
// bucket every poll_interval instead, and stops polling once the watch is back.
// Per-member TTL deadlines run on one timer armed for the earliest. Events are
// delivered leading-edge (the first at once) and bursts within the debounce
// window are coalesced into one delivery. Loop-owned.
#pragma once

#include <functional>
#include <memory>

#include "parti/coord/watch_pump.h"
#include "parti/core/async.h"
#include "parti/core/config.h"
#include "parti/membership/membership_view.h"

namespace parti {

class MembershipTracker {
 public:
  using OnChange = std::function<void(const std::vector<MemberEvent>&)>;
  MembershipTracker(asio::any_io_executor loop, asio::thread_pool& pool,
                    std::shared_ptr<coord::KvBucket> bucket, const Timings& timings,
                    OnChange on_change);
  ~MembershipTracker();

  void start();
  void stop();
  // The watch is known broken (e.g. the connection dropped): poll until it recovers.
  void watch_broken();
  // Force a fresh watch (after a reconnect).
  void rewatch();

  const MembershipView& view() const { return view_; }
  bool watch_healthy() const { return watch_healthy_; }
  uint64_t polls() const { return polls_; }
  uint64_t deliveries() const { return deliveries_; }

 private:
  void on_watch_event(coord::WatchEvent ev);
  void emit(std::vector<MemberEvent> events);
  void flush();
  void arm_deadline();
  asio::awaitable<void> poll_loop();

  asio::any_io_executor loop_;
  asio::thread_pool& pool_;
  std::shared_ptr<coord::KvBucket> bucket_;
  Timings timings_;
  OnChange on_change_;
  MembershipView view_;
  std::unique_ptr<coord::WatchPump> pump_;
  asio::steady_timer deadline_timer_;
  asio::steady_timer debounce_timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::vector<MemberEvent> pending_;
  bool debounce_armed_ = false;
  bool watch_healthy_ = false;
  bool polling_ = false;
  bool stopped_ = false;
  uint64_t polls_ = 0;
  uint64_t deliveries_ = 0;
};

}  // namespace parti
