// examples/stream_consumer: replacing a Kafka consumer group. Producers publish
// to "orders.<partition>" on a JetStream stream; each running copy of this
// program consumes only the partitions libparti gives it, and a partition's
// durable consumer carries its position to whichever copy owns it next (the
// Kafka committed offset, without a rebalance protocol in the client).
#include <pthread.h>
#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "parti/manager/manager.h"
#include "parti/subscription/subscription_helper.h"

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
    hooks.on_assignment_changed = [&](const parti::AssignmentDelta&, const parti::Assignment& a) {
      for (const auto& e : consumer.update(a.led_by(manager->worker_id()))) std::cerr << e << "\n";
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
    std::cout << m.worker_id() << " consumes " << consumer.active().size() << " partitions"
              << std::endl;
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
