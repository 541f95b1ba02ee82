// upgrade: the cluster's active data format (formats.h), one key in a NATS
// JetStream KV bucket of its own, changed only by compare-and-set and only
// upward, so every node that reads it sees a value no lower than any node
// acted on before.
// Threading: load() blocks (at start, before the node joins); current() and
// raise() on the loop, whose KV requests run on the register's own thread,
// the outcome posted back to the loop.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "parti/coord/kv_bucket.h"
#include "parti/core/periodic.h"
#include "parti/core/thread_names.h"
#include "partid/upgrade/formats.h"

namespace partid::upgrade {

namespace asio = boost::asio;

class ActiveFormat {
 public:
  // Opens (or creates, with `replicas` JetStream replicas) the bucket:
  // blocking, not on the loop.
  static std::unique_ptr<ActiveFormat> open(std::shared_ptr<parti::coord::Connection> conn,
                                            const std::string& bucket, asio::any_io_executor loop,
                                            int replicas = 1);
  ~ActiveFormat();  // waits for a raise in flight (bounded by the request timeout)

  // Reads the ratchet (0 when never set) and makes it current(); throws
  // parti::coord::CoordError when the server cannot answer, std::runtime_error
  // when the value is not a format.
  uint32_t load();
  uint32_t current() const { return current_; }
  // Raises the ratchet to `target` unless it holds that or more; current()
  // follows once the server has answered, and then `done` runs (at once when
  // current() holds `target` already). One raise at a time: a call while one
  // is in flight waits for that one's answer. A target the holds kept it
  // from reaching is not asked for again within kHeldRetry (`done` runs at
  // once), so a node that holds the ratchet does not have every other node
  // asking the server on every check.
  void raise(uint32_t target, std::function<void()> done = {});
  // Every `interval`, raises the ratchet to what the live nodes allow
  // (raise_target of `view()`), until stop(); and renews this node's hold
  // (hold()), if it has one, every kHoldRenewMs.
  void follow(std::chrono::milliseconds interval, std::function<FormatView()> view);
  // Blocking, at start: keeps the ratchet at `format` or below while it
  // lasts (formats.h: Hold), or lets it go.
  void hold(const std::string& node, uint32_t format);
  void release(const std::string& node);
  void stop();  // loop only

 private:
  ActiveFormat(std::shared_ptr<parti::coord::KvBucket> bucket, asio::any_io_executor loop);
  parti::coord::KvResult<uint32_t> raise_blocking(uint32_t target) const;
  // The highest format the holds in the bucket let the ratchet reach.
  parti::coord::KvResult<uint32_t> held_at() const;

  std::shared_ptr<parti::coord::KvBucket> bucket_;
  asio::any_io_executor loop_;
  uint32_t current_ = 0;
  bool raising_ = false;
  static constexpr std::chrono::seconds kHeldRetry{2};
  uint32_t held_target_ = 0;  // the last target a hold kept it from, until held_until_
  std::chrono::steady_clock::time_point held_until_{};
  std::vector<std::function<void()>> waiting_;  // for the raise in flight
  parti::NamedThreadPool pool_{1, "partid-format"};
  std::unique_ptr<parti::Periodic> follower_;
  std::string held_by_;  // this node's hold: its key, empty if none
  uint32_t held_format_ = 0;
  std::chrono::steady_clock::time_point renewed_{};
};

}  // namespace partid::upgrade
