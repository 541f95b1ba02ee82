// subscription: keeps JetStream consumers in step with a worker's partitions.
// For each partition the worker holds, a durable push consumer filtered to the
// partition's subject (from a template such as "work.{partition}") delivers to
// a handler; a handler returning true acks, false naks (redelivery).
//
// Why one durable consumer per partition and not one per worker: nats-server
// 2.9 (Debian's) allows a single FilterSubject per consumer, so a per-worker
// consumer cannot follow an arbitrary partition set. A per-partition durable
// has a better property anyway: its ack floor moves with the partition when it
// changes owner, so the new owner resumes where the old one stopped.
// Delivery is at-least-once: during a handoff both owners may briefly see a message.
#pragma once

#include <nats/nats.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "parti/coord/connection.h"

namespace parti {

class SubscriptionHelper {
 public:
  struct Options {
    std::string stream;                                 // must exist and cover the subjects
    std::string subject_template = "work.{partition}";  // "{partition}" is replaced
    std::string durable_prefix = "parti";
    std::chrono::milliseconds ack_wait{30000};
    int max_ack_pending = 1000;
  };
  // Runs on a nats.c delivery thread; return true to ack, false to nak.
  using Handler = std::function<bool(const std::string& partition, std::string_view subject,
                                     std::string_view data)>;

  SubscriptionHelper(std::shared_ptr<coord::Connection> conn, Options options, Handler handler);
  ~SubscriptionHelper();
  SubscriptionHelper(const SubscriptionHelper&) = delete;
  SubscriptionHelper& operator=(const SubscriptionHelper&) = delete;

  // Subscribes to added partitions and unsubscribes removed ones. Returns one
  // message per partition that failed; the others are applied regardless.
  std::vector<std::string> update(const std::set<std::string>& partitions);
  std::set<std::string> active() const;
  void close();

  std::string subject_for(const std::string& partition) const;
  std::string durable_for(const std::string& partition) const;

 private:
  struct Sub;
  static void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure);
  std::string subscribe(const std::string& partition);

  std::shared_ptr<coord::Connection> conn_;
  Options options_;
  Handler handler_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Sub>> subs_;
};

}  // namespace parti
