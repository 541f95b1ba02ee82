// coord: drives one KV watcher on a thread of its own (KvWatcher::next blocks)
// and hands every event to a callback, which must post to the owner's loop.
// When the watch breaks (an error, or the server lost its consumer), the pump
// reports an Error event and makes a new watcher with backoff. renew() makes
// a new one at once, for a watch its owner judged stuck without an error (a
// consumer the server keeps but no longer feeds). Only the pump thread
// touches its watcher; stop() and renew() raise flags it sees within ~100 ms.
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
  void stop();   // joins the thread; idempotent
  void renew();  // any thread

 private:
  enum class Outcome { broken, renewed, stopping };
  void run();
  Outcome follow(KvWatcher& watcher, std::chrono::milliseconds& backoff);
  bool stopping();
  bool take_renew();
  bool wait_backoff(std::chrono::milliseconds d);

  std::shared_ptr<KvBucket> bucket_;
  std::string pattern_;
  OnEvent on_event_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool renew_ = false;
};

}  // namespace parti::coord
