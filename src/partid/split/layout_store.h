// split: the cluster's layout record (routing/layout.h) in a NATS JetStream
// KV bucket of its own, one key, changed only by compare-and-set, so two
// nodes never both begin a split or both move one to its next phase. Every
// node follows it (a KV watch, polled only while the watch is broken or NATS
// was unreachable) and hands each new record to the node, which routes by it
// and offers libparti its partitions.
// Threading: open() and load() block (at start, before the node joins);
// follow(), change() and stop() on the loop, whose KV requests run on the
// store's own thread, the outcome posted back to the loop.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "parti/coord/connection.h"
#include "parti/coord/kv_bucket.h"
#include "parti/coord/watched_keys.h"
#include "parti/core/thread_names.h"
#include "partid/routing/layout.h"

namespace partid::split {

namespace asio = boost::asio;

class LayoutStore {
 public:
  // Opens (or creates, with `replicas` JetStream replicas) the bucket.
  static std::unique_ptr<LayoutStore> open(std::shared_ptr<parti::coord::Connection> conn,
                                           const std::string& bucket, asio::any_io_executor loop,
                                           int replicas = 1);
  ~LayoutStore();  // waits for a request in flight (bounded by the request timeout)

  // Reads the record; a cluster that never split has none, and gets the
  // unsplit layout of `initial_partitions`. Throws parti::coord::CoordError
  // when the server cannot answer, std::runtime_error when the record does not
  // decode.
  routing::LayoutRecord load(uint32_t initial_partitions);
  const routing::LayoutRecord& current() const { return current_; }
  // Calls `on_change` (on the loop) with every record newer than the last
  // one seen, as the watch delivers it; while the watch is broken, or after
  // the connection dropped, reads the record every `interval` until the watch
  // delivers again.
  using OnChange = std::function<void(const routing::LayoutRecord&)>;
  void follow(std::chrono::milliseconds interval, OnChange on_change);
  // Compare-and-set: `edit` gets the record as the server holds it and
  // returns the next one, or a reason to leave it (std::string). `done` runs
  // on the loop with the record written, or with why not (the edit's
  // reason, a lost race that kept repeating, or the server's error).
  using Edit =
      std::function<std::variant<routing::LayoutRecord, std::string>(const routing::LayoutRecord&)>;
  using Done = std::function<void(std::variant<routing::LayoutRecord, std::string>)>;
  void change(Edit edit, Done done);
  void stop();  // loop only
  // The record's watch made again because an audit found it stuck (loop only).
  uint64_t watch_renewals() const { return follower_ ? follower_->renewals() : 0; }

 private:
  LayoutStore(std::shared_ptr<parti::coord::Connection> conn,
              std::shared_ptr<parti::coord::KvBucket> bucket, asio::any_io_executor loop);
  // The record as the server holds it (blocking): the unsplit layout when
  // absent, an error message when unreadable.
  std::variant<routing::LayoutRecord, std::string> read() const;
  // The record in a KV entry (a watch event or a read).
  static std::variant<routing::LayoutRecord, std::string> decode(const parti::coord::KvEntry& e);
  routing::LayoutRecord unsplit() const;
  // The record in a listing of the one key: the unsplit layout when absent.
  std::variant<routing::LayoutRecord, std::string> record_in(
      const parti::coord::KvSnapshot& listing) const;
  // Adopts a record; one that does not decode is logged and left.
  void adopt_if_valid(const std::variant<routing::LayoutRecord, std::string>& record);
  std::variant<routing::LayoutRecord, std::string> change_blocking(const Edit& edit) const;
  void adopt(const routing::LayoutRecord& record);

  std::shared_ptr<parti::coord::Connection> conn_;
  std::shared_ptr<parti::coord::KvBucket> bucket_;
  asio::any_io_executor loop_;
  uint32_t initial_partitions_ = 0;
  routing::LayoutRecord current_;
  OnChange on_change_;
  parti::NamedThreadPool pool_{1, "partid-layout"};
  std::unique_ptr<parti::coord::WatchedKeys> follower_;
  int status_listener_ = -1;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace partid::split
