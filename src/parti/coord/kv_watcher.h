// coord: a watch on keys of one KV bucket, built on a plain ephemeral
// JetStream push consumer (deliver last per subject, idle heartbeats) rather
// than nats.c's kvWatcher. nats.c 3.4's watcher rides an ordered consumer that
// resets itself on an internal thread after a reconnect, and destroying it
// during that reset reads freed memory inside libnats (found by ASan). Here a
// consumer the server lost (e.g. it restarted) is noticed by asking for the
// consumer's info after three quiet heartbeat periods (nats.c does not report
// missed heartbeats to sync subscriptions); it surfaces as an Error and the
// owner makes a new watcher. next() blocks up to a timeout; use one thread per watcher and touch
// it only from that thread.
#pragma once

#include <nats/nats.h>

#include <chrono>
#include <memory>
#include <string>

#include "parti/coord/connection.h"
#include "parti/coord/kv_types.h"

namespace parti::coord {

struct WatchEvent {
  enum class Kind { Entry, InitialDone, Timeout, Error } kind = Kind::Timeout;
  KvEntry entry;
  KvStatus status;
};

class KvWatcher {
 public:
  // pattern: a key or a wildcard (">" for every key).
  static KvResult<std::unique_ptr<KvWatcher>> open(std::shared_ptr<Connection> conn,
                                                   const std::string& bucket,
                                                   const std::string& pattern,
                                                   std::chrono::milliseconds heartbeat);
  ~KvWatcher();
  KvWatcher(const KvWatcher&) = delete;
  KvWatcher& operator=(const KvWatcher&) = delete;

  // Initial values first (the newest of each key), then InitialDone once, then changes.
  WatchEvent next(std::chrono::milliseconds timeout);

 private:
  KvWatcher(std::shared_ptr<Connection> conn, natsSubscription* sub, std::string prefix,
            bool nothing_pending, std::chrono::milliseconds heartbeat);
  bool consumer_alive();
  std::shared_ptr<Connection> conn_;
  natsSubscription* sub_;
  std::chrono::milliseconds heartbeat_;
  std::chrono::steady_clock::time_point last_activity_ = std::chrono::steady_clock::now();
  std::string prefix_;  // "$KV.<bucket>."
  bool initial_done_ = false;
  bool report_initial_done_ = false;
};

KvEntry to_entry(kvEntry* e);

}  // namespace parti::coord
