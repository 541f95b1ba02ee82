// assignment: follows the published assignment on a worker's loop. Watches the
// pointer key through WatchedKeys (polling while the watch is broken, audited
// every ten poll intervals), reads the chunks a pointer names on the blocking
// pool, and hands every assignment it reads to on_assignment (the caller keeps
// only newer versions). Loop-owned.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "parti/assignment/assignment_store.h"
#include "parti/coord/watched_keys.h"

namespace parti {

class AssignmentFollower {
 public:
  using OnAssignment = std::function<void(const Assignment&)>;
  using OnError = std::function<void(const std::string&)>;
  AssignmentFollower(asio::any_io_executor loop, asio::thread_pool& pool,
                     std::shared_ptr<coord::KvBucket> bucket,
                     std::shared_ptr<AssignmentStore> store, Millis poll_interval,
                     OnAssignment on_assignment, OnError on_error);
  ~AssignmentFollower();

  void start();
  void stop();
  void connection_lost() { keys_.connection_lost(); }
  // Reads the newest assignment now (e.g. after the worker reclaimed its ID).
  void refetch();
  // The pointer's watch made again because an audit found it stuck.
  uint64_t watch_renewals() const { return keys_.renewals(); }

 private:
  void load(std::string pointer_value);
  asio::awaitable<void> load_async(std::string pointer_value, std::weak_ptr<bool> alive);
  asio::awaitable<void> refetch_async(std::weak_ptr<bool> alive);

  asio::any_io_executor loop_;
  asio::thread_pool& pool_;
  std::shared_ptr<coord::KvBucket> bucket_;
  std::shared_ptr<AssignmentStore> store_;
  Millis poll_interval_;
  OnAssignment on_assignment_;
  OnError on_error_;
  coord::WatchedKeys keys_;
  std::string loaded_pointer_;  // the last pointer whose assignment was read
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace parti
