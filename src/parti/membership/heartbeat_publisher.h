// membership: owns this node's record and keeps it in the heartbeat bucket:
// a Put every interval, and at once when the record changes (changes made
// while a Put is in flight coalesce into the next one). Each change ticks the
// HLC. stop() deletes the key so peers see a clean leave immediately.
// Loop-owned: every method runs on the owner's event loop.
#pragma once

#include <functional>
#include <memory>

#include "parti/coord/kv_bucket.h"
#include "parti/core/async.h"
#include "parti/core/hlc.h"
#include "parti/core/node_record.h"
#include "parti/core/types.h"

namespace parti {

class HeartbeatPublisher {
 public:
  using OnResult = std::function<void(const coord::KvStatus&)>;
  HeartbeatPublisher(asio::any_io_executor loop, asio::thread_pool& pool,
                     std::shared_ptr<coord::KvBucket> bucket, Millis interval, OnResult on_result);

  using Refresh = std::function<void(NodeRecord&)>;
  // `refresh` (may be empty) runs before every periodic Put and may change
  // the record; a change is published by that Put, HLC ticked.
  void start(NodeRecord record, Refresh refresh = {});
  void update(const std::function<void(NodeRecord&)>& change);
  const NodeRecord& record() const { return record_; }
  uint64_t publishes() const { return publishes_; }
  // Stops the periodic Put and deletes the key (bounded by the KV timeout).
  asio::awaitable<void> stop();

 private:
  asio::awaitable<void> run();
  // Applies `change`; true (and the HLC ticked) when the record changed.
  bool apply(const std::function<void(NodeRecord&)>& change);
  asio::thread_pool& pool_;
  std::shared_ptr<coord::KvBucket> bucket_;
  Millis interval_;
  OnResult on_result_;
  Refresh refresh_;
  asio::steady_timer wake_;
  NodeRecord record_;
  HybridLogicalClock hlc_;
  bool running_ = false;
  bool dirty_ = false;
  uint64_t publishes_ = 0;
};

}  // namespace parti
