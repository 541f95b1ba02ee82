// coord: a watch on keys of one bucket. next() blocks up to a timeout, so a
// watcher is driven by a thread of its own; stop() wakes that thread.
#pragma once

#include <nats/nats.h>

#include <chrono>

#include "parti/coord/kv_types.h"

namespace parti::coord {

struct WatchEvent {
  enum class Kind { Entry, InitialDone, Timeout, Stopped, Error } kind = Kind::Timeout;
  KvEntry entry;
  KvStatus status;
};

class KvWatcher {
 public:
  explicit KvWatcher(kvWatcher* w) : w_(w) {}
  ~KvWatcher();
  KvWatcher(const KvWatcher&) = delete;
  KvWatcher& operator=(const KvWatcher&) = delete;

  WatchEvent next(std::chrono::milliseconds timeout);
  // Safe from any thread; a blocked next() returns Stopped.
  void stop();

 private:
  kvWatcher* w_;
};

KvEntry to_entry(kvEntry* e);

}  // namespace parti::coord
