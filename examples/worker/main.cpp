// examples/worker: the smallest useful libparti program. Each copy joins the
// fleet, prints the partitions it owns whenever they change, and leaves
// cleanly on SIGINT/SIGTERM. Run several against one nats-server.
#include <pthread.h>
#include <CLI/CLI.hpp>

#include <condition_variable>
#include <csignal>
#include <iostream>
#include <mutex>
#include <stop_token>
#include <thread>

#include "parti/coord/nats_access.h"
#include "parti/manager/manager.h"

namespace {

std::string owned(const parti::Assignment& a, const std::string& worker) {
  std::string out = "{";
  for (const auto& p : a.led_by(worker)) out += (out.size() > 1 ? "," : "") + p;
  return out + "}";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"libparti example worker"};
  std::string url = "nats://127.0.0.1:4222";
  uint32_t partitions = 12;
  std::string strategy = "consistent-hash";
  bool fast = false;
  app.add_option("--nats", url, "NATS server URL");
  app.add_option("--partitions", partitions, "number of partitions (p-0 .. p-N-1)");
  app.add_option("--strategy", strategy, "consistent-hash | weighted | round-robin | rendezvous");
  app.add_flag("--fast", fast, "short windows (seconds instead of tens of seconds), for demos");
  CLI11_PARSE(app, argc, argv);

  parti::Config cfg;
  if (fast) cfg.timings = parti::fast_timings();
  // Block the stop signals in every thread; one thread takes them and
  // requests a stop, which ends whatever the worker is doing: waiting for
  // NATS, starting, or running.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::stop_source stop;
  // Detached, so it holds copies: a stop_source copy shares the stop state,
  // and nothing it uses goes away with main's locals.
  std::thread([stop_signals, stop]() mutable {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    stop.request_stop();
  }).detach();

  parti::Hooks hooks;
  parti::Manager* manager_ptr = nullptr;  // hooks run only after it is set
  hooks.on_assignment_changed = [&](const parti::AssignmentDelta& d, const parti::Assignment& a) {
    const std::string me = manager_ptr->worker_id();
    std::cout << "[" << me << "] assignment v" << a.version << ": +" << d.added.size() << " -"
              << d.removed.size() << ", owns " << owned(a, me) << std::endl;
  };
  hooks.on_leadership_changed = [&](bool leader) {
    const std::string me = manager_ptr->worker_id();
    std::cout << "[" << me << "] " << (leader ? "is now the leader" : "is no longer leader")
              << std::endl;
  };
  try {
    parti::coord::Connection::Options o;
    o.url = url;
    o.wait_for_server = std::chrono::seconds(60);  // the worker may start before its server
    o.stop = stop.get_token();
    o.on_waiting_for_server = [&] {
      std::cerr << "worker: waiting for NATS at " << parti::coord::redact_urls(url) << std::endl;
    };
    auto conn = parti::coord::Connection::connect(o);
    auto source =
        std::make_shared<parti::StaticPartitionSource>(parti::numbered_partitions(partitions));
    std::shared_ptr<const parti::Strategy> strat = parti::make_strategy(strategy);
    parti::Manager manager(cfg, conn, source, strat, hooks);
    manager_ptr = &manager;
    {
      // Manager::start may wait (for this worker's old ID, for an
      // assignment); a stop meanwhile ends it with StartError.
      std::stop_callback stop_starting(stop.get_token(), [&manager] { manager.stop(); });
      manager.start();
    }
    const std::string me = manager.worker_id();
    std::cout << "[" << me << "] stable, leader=" << (manager.is_leader() ? "yes" : "no")
              << ", owns " << owned(manager.current_assignment(), me) << std::endl;
    std::mutex mu;
    std::condition_variable_any stopped;
    std::unique_lock lock(mu);
    stopped.wait(lock, stop.get_token(), [] { return false; });
    manager.stop();
    std::cout << "[" << me << "] stopped cleanly" << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "worker: " << e.what() << std::endl;
    return stop.stop_requested() ? 0 : 1;  // stopped while connecting or starting
  }
  return 0;
}
