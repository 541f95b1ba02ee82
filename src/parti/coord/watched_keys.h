// coord: follows the keys of one bucket from an event loop. A WatchPump gives
// low-latency events; whenever the watch is broken or the connection was lost,
// the keys are also polled every poll_interval, until the watch has delivered
// again AND one full snapshot was taken after the break (so nothing that
// changed during the outage is missed). Loop-owned: call every method on the
// loop; callbacks run there too.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "parti/coord/watch_pump.h"
#include "parti/core/async.h"
#include "parti/core/types.h"

namespace parti::coord {

class WatchedKeys {
 public:
  // Blocking listing of the followed keys (runs on the pool).
  using Fetch = std::function<KvResult<KvSnapshot>()>;
  struct Callbacks {
    std::function<void(const KvEntry&)> on_entry;        // a put or a delete marker
    std::function<void(const KvSnapshot&)> on_snapshot;  // every live key
  };

  WatchedKeys(asio::any_io_executor loop, asio::thread_pool& pool, std::shared_ptr<KvBucket> bucket,
              std::string pattern, Millis poll_interval, Fetch fetch, Callbacks callbacks);
  ~WatchedKeys();
  WatchedKeys(const WatchedKeys&) = delete;
  WatchedKeys& operator=(const WatchedKeys&) = delete;

  void start();
  void stop();
  // The connection dropped: poll until the watch delivers again.
  void connection_lost();

  bool watch_healthy() const { return watch_healthy_; }
  uint64_t polls() const { return polls_; }

 private:
  void on_watch_event(WatchEvent ev);
  void watch_broken();
  asio::awaitable<void> poll_loop(std::weak_ptr<bool> alive);

  asio::any_io_executor loop_;
  asio::thread_pool& pool_;
  std::shared_ptr<KvBucket> bucket_;
  std::string pattern_;
  Millis poll_interval_;
  Fetch fetch_;
  Callbacks cb_;
  std::unique_ptr<WatchPump> pump_;
  asio::steady_timer poll_timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool watch_healthy_ = false;
  bool snapshot_needed_ = true;
  bool polling_ = false;
  bool stopped_ = false;
  uint64_t polls_ = 0;
};

}  // namespace parti::coord
