// coord: drives one KV watcher on a thread of its own (KvWatcher::next blocks)
// and hands every event to a callback, which must post to the owner's loop.
// When the watch breaks (an error, or the server lost its consumer), the pump
// reports an Error event and makes a new watcher with backoff. Only the pump thread touches its
// watcher; stop() raises a flag the thread sees within ~100 ms.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "parti/coord/kv_bucket.h"

namespace parti::coord {

class WatchPump {
 public:
  using OnEvent = std::function<void(WatchEvent)>;  // Entry, InitialDone or Error
  WatchPump(std::shared_ptr<KvBucket> bucket, std::string pattern, OnEvent on_event);
  ~WatchPump();
  WatchPump(const WatchPump&) = delete;
  WatchPump& operator=(const WatchPump&) = delete;

  void start();
  void stop();  // joins the thread; idempotent

 private:
  void run();
  bool stopping();
  bool wait_backoff(std::chrono::milliseconds d);

  std::shared_ptr<KvBucket> bucket_;
  std::string pattern_;
  OnEvent on_event_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

}  // namespace parti::coord
