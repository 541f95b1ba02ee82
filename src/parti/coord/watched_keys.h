// coord: follows the keys of one bucket from an event loop. A WatchPump gives
// low-latency events; whenever the watch is broken or the connection was lost,
// the keys are also polled every poll_interval, until the watch has delivered
// again AND one full snapshot was taken after the break (so nothing that
// changed during the outage is missed). With audits on, a probe reads, every
// audit interval while the watch is healthy, the newest revision the watch
// must deliver; a watch that has not delivered it within the next interval
// is stuck without having said so (a consumer the server keeps but no longer
// feeds: a node once lost every member this way after its NATS link stalled
// and healed). It is made again, and the keys polled until it delivers.
// Loop-owned: call every method on the loop; callbacks run there too.
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

  // Blocking (runs on the pool): the newest revision among the watched keys
  // (for a watch of a whole bucket, its last revision).
  using Probe = std::function<KvResult<uint64_t>()>;
  // Before start(): audits every `interval` (none by default).
  void audit_every(Millis interval, Probe probe) {
    audit_interval_ = interval;
    probe_ = std::move(probe);
  }
  void start();
  void stop();
  // The connection dropped: poll until the watch delivers again.
  void connection_lost();

  bool watch_healthy() const { return watch_healthy_; }
  uint64_t polls() const { return polls_; }
  uint64_t audits() const { return audits_; }
  // Watches made again because an audit found them stuck.
  uint64_t renewals() const { return renewals_; }

 private:
  void on_watch_event(WatchEvent ev);
  void watch_broken();
  asio::awaitable<void> poll_loop(std::weak_ptr<bool> alive);
  asio::awaitable<void> audit_loop(std::weak_ptr<bool> alive);
  void audit(uint64_t newest);

  asio::any_io_executor loop_;
  asio::thread_pool& pool_;
  std::shared_ptr<KvBucket> bucket_;
  std::string pattern_;
  Millis poll_interval_;
  Fetch fetch_;
  Callbacks cb_;
  std::unique_ptr<WatchPump> pump_;
  asio::steady_timer poll_timer_;
  asio::steady_timer audit_timer_;
  Millis audit_interval_{0};
  Probe probe_;
  uint64_t delivered_ = 0;  // the highest revision the watch delivered
  uint64_t audited_ = 0;    // what the last audit's probe read (0: judge nothing)
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool watch_healthy_ = false;
  bool snapshot_needed_ = true;
  bool polling_ = false;
  bool stopped_ = false;
  uint64_t polls_ = 0;
  uint64_t audits_ = 0;
  uint64_t renewals_ = 0;
};

}  // namespace parti::coord
