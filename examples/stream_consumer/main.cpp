// examples/stream_consumer: replacing a Kafka consumer group. Producers publish
// to "orders.<partition>" on a JetStream stream; each running copy of this
// program consumes only the partitions libparti gives it, and a partition's
// durable consumer carries its position to whichever copy owns it next (the
// Kafka committed offset, without a rebalance protocol in the client).
#include <pthread.h>
#include <CLI/CLI.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <iostream>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "parti/manager/manager.h"
#include "parti/subscription/subscription_helper.h"

// Applies the partitions this copy leads to the consumer, on a thread of its
// own: SubscriptionHelper::update talks to JetStream (a consumer request per
// new partition, a drain per released one), while the hook that learns the
// set runs on the manager's loop, which must never block on I/O. Only the
// newest set matters, so a burst of assignments collapses into one update.
// A partition handed over from another copy may still be bound to that
// copy's subscription when this one gets it: it is tried again every
// retry_every until the other copy lets go.
class ConsumerUpdater {
 public:
  explicit ConsumerUpdater(parti::SubscriptionHelper& consumer)
      : thread_([this, &consumer] { run(consumer); }) {}
  ~ConsumerUpdater() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  void post(std::set<std::string> led) {
    {
      std::lock_guard lock(mu_);
      latest_ = std::move(led);
    }
    cv_.notify_one();
  }

 private:
  static constexpr std::chrono::milliseconds retry_every{200};

  void run(parti::SubscriptionHelper& consumer) {
    std::optional<std::set<std::string>> reported;
    while (true) {
      auto led = take(!consumer.pending().empty());
      if (closed()) return;
      const auto errors = led ? consumer.update(*led) : consumer.retry();
      if (led) {
        for (const auto& e : errors) std::cerr << e << " (trying again)\n";
      }
      const auto active = consumer.active();
      if (led || active != reported) {
        std::cout << "consuming " << active.size() << " partitions:";
        for (const auto& p : active) std::cout << ' ' << p;
        std::cout << std::endl;
        reported = active;
      }
    }
  }
  // The newest set, or nothing when `retrying` and retry_every passed first.
  std::optional<std::set<std::string>> take(bool retrying) {
    std::unique_lock lock(mu_);
    const auto ready = [&] { return closed_ || latest_; };
    if (retrying) {
      cv_.wait_for(lock, retry_every, ready);
    } else {
      cv_.wait(lock, ready);
    }
    return std::exchange(latest_, std::nullopt);
  }
  bool closed() {
    std::lock_guard lock(mu_);
    return closed_;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<std::set<std::string>> latest_;
  bool closed_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

int main(int argc, char** argv) {
  CLI::App app{"libparti stream consumer example"};
  std::string url = "nats://127.0.0.1:4222";
  uint32_t partitions = 8;
  app.add_option("--nats", url, "NATS server URL");
  app.add_option("--partitions", partitions, "partitions orders.p-0 .. orders.p-N-1");
  CLI11_PARSE(app, argc, argv);

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  try {
    auto conn = parti::coord::Connection::connect({.url = url});
    jsStreamConfig sc;  // the stream would normally be provisioned once, elsewhere
    jsStreamConfig_Init(&sc);
    sc.Name = "ORDERS";
    const char* subjects[] = {"orders.>"};
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    jsStreamInfo* si = nullptr;
    js_AddStream(&si, conn->jetstream(), &sc, nullptr, nullptr);  // exists already: fine
    jsStreamInfo_Destroy(si);

    parti::SubscriptionHelper consumer(
        conn,
        {.stream = "ORDERS", .subject_template = "orders.{partition}", .durable_prefix = "orders"},
        [](const std::string& partition, std::string_view, std::string_view body) {
          std::cout << "[" << partition << "] " << body << std::endl;
          return true;  // ack; return false to have it redelivered
        });
    parti::Hooks hooks;
    parti::Manager* manager = nullptr;
    ConsumerUpdater updater(consumer);  // declared after consumer: stops before it closes
    hooks.on_assignment_changed = [&](const parti::AssignmentDelta&, const parti::Assignment& a) {
      updater.post(a.led_by(manager->worker_id()));
    };
    parti::Config cfg;
    cfg.timings = parti::fast_timings();
    cfg.bucket_prefix = "orders-";  // a fleet of its own on a shared NATS
    parti::Manager m(
        cfg, conn,
        std::make_shared<parti::StaticPartitionSource>(parti::numbered_partitions(partitions)),
        parti::make_consistent_hash(), hooks);
    manager = &m;
    m.start();
    std::cout << m.worker_id() << " joined" << std::endl;
    int sig = 0;
    sigwait(&stop_signals, &sig);
    m.stop();
    consumer.close();
  } catch (const std::exception& e) {
    std::cerr << "stream_consumer: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
