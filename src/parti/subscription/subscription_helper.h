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
//
// A handoff: the old owner drains its subscription (the messages it already
// received are handled and acknowledged, not left to come back after
// ack_wait), and the server binds a durable push consumer to one subscription
// at a time, so the new owner's bind is refused ("already bound") until the
// old owner has let go, or until the server drops the connection of an old
// owner that died. A refused partition stays wanted: retry() binds it once it
// is free (pending() lists those). Delivery is at-least-once: a message the
// old owner's handler did not acknowledge within its drain comes back.
//
// An old owner that hangs or is cut off from NATS keeps its connection, and
// so its binding, until the server's pings give up on it (minutes). Once a
// partition has been refused for take_over_after, the new owner takes it
// over: it deletes the consumer and makes it again from the old one's ack
// floor, delivering to a subject of its own, so nothing the hung owner still
// listens on carries the partition any more. What the hung owner had received
// and not acknowledged comes again, to the new owner (at-least-once again).
// Its own subscription then receives nothing and is not told so: it must be
// released before the partition can be its again. Under libparti it is: a
// partition moves off a live worker only in a planned move, which that worker
// releases, so a take-over means its owner was counted lost, and once running
// again it first sees an assignment without it, on which update() drops it.
#pragma once

#include <nats/nats.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "parti/coord/connection.h"
#include "parti/subscription/durable_consumer.h"

namespace parti {

class SubscriptionHelper {
 public:
  struct Options {
    std::string stream;                                 // must exist and cover the subjects
    std::string subject_template = "work.{partition}";  // "{partition}" is replaced
    std::string durable_prefix = "parti";
    std::chrono::milliseconds ack_wait{30000};
    int max_ack_pending = 1000;
    // How long a released partition's handler may take over the messages it
    // already received before the rest are left to come back after ack_wait.
    std::chrono::milliseconds drain_timeout{5000};
    // How long a partition may be refused (its previous owner still bound)
    // before this helper takes it over (0: never). Longer than a live
    // owner's way to let go: its next assignment plus its drain.
    std::chrono::milliseconds take_over_after{30000};
  };
  // Runs on a nats.c delivery thread; return true to ack, false to nak. It
  // must not call the helper: a release waits for it to return.
  using Handler = std::function<bool(const std::string& partition, std::string_view subject,
                                     std::string_view data)>;

  SubscriptionHelper(std::shared_ptr<coord::Connection> conn, Options options, Handler handler);
  ~SubscriptionHelper();
  SubscriptionHelper(const SubscriptionHelper&) = delete;
  SubscriptionHelper& operator=(const SubscriptionHelper&) = delete;

  // Makes `partitions` the wanted set: drains and releases the partitions
  // no longer in it (side by side: at most about one drain_timeout however
  // many go), then binds those not bound yet. Returns one message per
  // partition that could not be bound; the others are applied regardless,
  // and the failed ones stay wanted (retry()). Once it returns, the server
  // refuses the partitions it bound to any other owner. Blocks on JetStream
  // requests and on drains: call it from a thread of its own, never from an
  // event loop.
  std::vector<std::string> update(const std::set<std::string>& partitions);
  // Binds the wanted partitions that are not bound yet (an earlier bind was
  // refused: the previous owner still held its consumer). Returns one
  // message per partition still failing. Blocks like update().
  std::vector<std::string> retry();
  // The partitions bound to this helper's subscriptions.
  std::set<std::string> active() const;
  // The wanted partitions not bound yet.
  std::set<std::string> pending() const;
  void close();

  std::string subject_for(const std::string& partition) const;
  std::string durable_for(const std::string& partition) const;

 private:
  struct Delivery;
  struct Sub;
  static void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure);
  static void on_complete(void* closure);
  using TimePoint = std::chrono::steady_clock::time_point;
  subscription::ConsumerSpec consumer_spec(const std::string& partition) const;
  std::string subscribe(const std::string& partition);
  std::string bind(const std::string& partition);
  std::string take_over(const std::string& partition);
  bool due_for_take_over(const std::string& partition, TimePoint now) const;
  std::vector<std::string> bind_pending();
  static void release_together(std::vector<std::unique_ptr<Sub>> subs);

  std::shared_ptr<coord::Connection> conn_;
  Options options_;
  Handler handler_;
  mutable std::mutex mu_;
  std::set<std::string> wanted_;
  std::map<std::string, std::unique_ptr<Sub>> subs_;
  // Wanted partitions whose binds fail, since their first failure.
  std::map<std::string, TimePoint> refused_since_;
};

}  // namespace parti
