// parti_load: fleet-scale load for libparti against a real nats-server it
// starts itself. Phases:
//   1. cold start of --workers workers sharing --partitions partitions;
//   2. --cycles churn cycles: grow to --high workers, shrink back to --low;
//   3. optional soak: keep churning one worker in and out for --soak-seconds.
// For each phase it reports wall time until every live worker holds the same
// assignment listing exactly the live workers, plus process RSS and CPU time.
// Every Manager has its own NATS connection, as separate processes would.
#include <sys/resource.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <thread>

#include <spdlog/spdlog.h>

#include "parti/manager/manager.h"
#include "support/cluster.h"
#include "support/wait.h"

namespace {

using namespace parti;
using namespace std::chrono;

struct Fleet {
  Fleet(const testing::NatsServer& s, std::vector<Partition> p)
      : server(s), partitions(std::move(p)) {}
  const testing::NatsServer& server;
  Config cfg;
  std::vector<Partition> partitions;
  std::shared_ptr<const Strategy> strategy = make_consistent_hash();
  std::vector<testing::Worker> workers;

  void grow(size_t n) {
    const size_t first = workers.size();
    for (size_t i = 0; i < n; ++i)
      workers.push_back(testing::make_worker(server, cfg, partitions, strategy));
    std::vector<std::thread> starters;
    for (size_t i = first; i < workers.size(); ++i) {
      starters.emplace_back([this, i] { workers[i].manager->start(); });
    }
    for (auto& t : starters) t.join();
  }
  void shrink(size_t n) {
    std::vector<std::thread> stoppers;
    for (size_t i = 0; i < n && !workers.empty(); ++i) {
      stoppers.emplace_back([w = std::move(workers.back())]() mutable { w.manager->stop(); });
      workers.pop_back();
    }
    for (auto& t : stoppers) t.join();
  }
  bool converged() const {
    std::vector<std::string> ids;
    for (const auto& w : workers) ids.push_back(w.manager->worker_id());
    std::sort(ids.begin(), ids.end());
    for (const auto& w : workers) {
      if (w.manager->current_assignment().workers != ids) return false;
    }
    return true;
  }
};

long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Runs `change`, then waits for convergence; prints one report line.
bool phase(Fleet& fleet, const std::string& name, const std::function<void()>& change) {
  const auto t0 = steady_clock::now();
  const double cpu0 = cpu_seconds();
  change();
  const bool ok = testing::wait_until([&] { return fleet.converged(); }, seconds(120));
  const double secs = duration<double>(steady_clock::now() - t0).count();
  std::cout << name << ": " << (ok ? "converged" : "NOT CONVERGED") << " in " << secs << " s, "
            << fleet.workers.size() << " workers, version "
            << (fleet.workers.empty() ? 0 : fleet.workers[0].manager->current_assignment().version)
            << ", cpu " << (cpu_seconds() - cpu0) << " s, rss " << rss_kib() / 1024 << " MiB"
            << std::endl;
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"libparti fleet load test"};
  size_t workers = 200, partitions = 10000, high = 50, low = 10, cycles = 2;
  int soak_seconds = 0;
  app.add_option("--workers", workers, "workers in the cold-start phase");
  app.add_option("--partitions", partitions, "partitions");
  app.add_option("--high", high, "churn: grow to this many workers");
  app.add_option("--low", low, "churn: shrink back to this many");
  app.add_option("--cycles", cycles, "churn cycles");
  app.add_option("--soak-seconds", soak_seconds, "then churn one worker in and out this long");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  testing::NatsServer server;
  Fleet fleet(server, numbered_partitions(uint32_t(partitions)));
  fleet.cfg.timings.cold_start_window = milliseconds(3000);
  fleet.cfg.timings.planned_scale_window = milliseconds(2000);
  fleet.cfg.timings.rebalance_cooldown = milliseconds(1000);
  fleet.cfg.timings.startup_timeout = seconds(120);
  fleet.cfg.max_workers = uint32_t(std::max(workers, high) + 10);
  std::cout << "nats-server " << server.url() << ", " << partitions << " partitions, rss "
            << rss_kib() / 1024 << " MiB" << std::endl;

  bool ok =
      phase(fleet, "cold start 0 -> " + std::to_string(workers), [&] { fleet.grow(workers); });
  ok = ok && phase(fleet, "shrink to " + std::to_string(low),
                   [&] { fleet.shrink(fleet.workers.size() - low); });
  for (size_t c = 0; ok && c < cycles; ++c) {
    ok = phase(fleet, "cycle " + std::to_string(c + 1) + " grow to " + std::to_string(high),
               [&] { fleet.grow(high - fleet.workers.size()); });
    ok = ok && phase(fleet, "cycle " + std::to_string(c + 1) + " shrink to " + std::to_string(low),
                     [&] { fleet.shrink(fleet.workers.size() - low); });
  }
  const auto soak_end = steady_clock::now() + seconds(soak_seconds);
  for (int i = 1; ok && steady_clock::now() < soak_end; ++i) {
    ok = phase(fleet, "soak " + std::to_string(i) + " join", [&] { fleet.grow(1); });
    ok = ok && phase(fleet, "soak " + std::to_string(i) + " leave", [&] { fleet.shrink(1); });
  }
  fleet.shrink(fleet.workers.size());
  std::cout << (ok ? "load: all phases converged" : "load: FAILED") << std::endl;
  return ok ? 0 : 1;
}
