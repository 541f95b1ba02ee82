// membership: the I/O shell around MembershipView. Follows the heartbeat
// bucket through WatchedKeys (watch, with polling while the watch is broken,
// audited every two heartbeat TTLs), runs the per-member TTL deadlines on one
// timer armed for the earliest, and delivers view events leading-edge (the
// first at once), coalescing bursts within the debounce window into one
// delivery. Loop-owned.
#pragma once

#include <functional>
#include <memory>

#include "parti/coord/watched_keys.h"
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
  // The connection dropped: poll until the watch delivers again.
  void connection_lost() { keys_.connection_lost(); }

  const MembershipView& view() const { return view_; }
  bool watch_healthy() const { return keys_.watch_healthy(); }
  uint64_t polls() const { return keys_.polls(); }
  // The watch made again because an audit found it stuck.
  uint64_t watch_renewals() const { return keys_.renewals(); }
  uint64_t deliveries() const { return deliveries_; }

 private:
  void on_entry(const coord::KvEntry& entry);
  void on_snapshot(const coord::KvSnapshot& snapshot);
  void emit(std::vector<MemberEvent> events);
  void flush();
  void arm_deadline();

  std::shared_ptr<coord::KvBucket> bucket_;
  Timings timings_;
  OnChange on_change_;
  MembershipView view_;
  coord::WatchedKeys keys_;
  asio::steady_timer deadline_timer_;
  asio::steady_timer debounce_timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::vector<MemberEvent> pending_;
  bool debounce_armed_ = false;
  bool stopped_ = false;
  uint64_t deliveries_ = 0;
};

}  // namespace parti
