// tests: a fleet of Managers (each with its own NATS connection) against one
// real nats-server, with helpers to crash members and check convergence.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <fstream>
#include <map>
#include <stdexcept>
#include <thread>

#include "support/cluster.h"
#include "support/wait.h"

namespace parti::testing {

// Every partition of `a` is held by exactly one worker in `workers` and
// nothing else: no orphan, no duplicate.
inline ::testing::AssertionResult assigned_exactly_once(const Assignment& a,
                                                        const std::vector<std::string>& workers) {
  std::map<std::string, int> holders;
  for (const auto& w : workers) {
    for (const auto& p : a.led_by(w)) ++holders[p];
  }
  for (const auto& p : a.partitions) {
    if (holders[p.id] != 1) {
      return ::testing::AssertionFailure() << p.id << " held " << holders[p.id] << " times";
    }
  }
  return ::testing::AssertionSuccess();
}

inline int thread_count() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

class FleetTest : public ::testing::Test {
 protected:
  void start_workers(size_t n, const Config& cfg, std::shared_ptr<const Strategy> strategy,
                     std::vector<Partition> parts, const Hooks& hooks = {}) {
    const size_t first = workers.size();
    for (size_t i = 0; i < n; ++i) {
      workers.push_back(make_worker(server, cfg, parts, strategy, hooks));
    }
    std::vector<std::thread> starters;
    for (size_t i = first; i < workers.size(); ++i) {
      starters.emplace_back([this, i] { workers[i].manager->start(); });
    }
    for (auto& t : starters) t.join();
  }
  std::vector<std::string> live_ids() {
    std::vector<std::string> ids;
    for (auto& w : workers) {
      if (w.manager) ids.push_back(w.manager->worker_id());
    }
    return ids;
  }
  Manager* leader() {
    for (auto& w : workers) {
      if (w.manager && w.manager->is_leader()) return w.manager.get();
    }
    return nullptr;
  }
  // The one leader's index, waiting up to 10 s for there to be exactly one
  // (a fleet can converge on an assignment while a lease changes hands).
  // Throws when there is none, which fails the calling test.
  size_t leader_index() {
    if (!wait_until([&] { return leader_count() == 1; }, std::chrono::seconds(10))) {
      throw std::runtime_error("no single leader within 10 s");
    }
    for (size_t i = 0; i < workers.size(); ++i) {
      if (workers[i].manager && workers[i].manager->is_leader()) return i;
    }
    throw std::runtime_error("the leader stepped down while being looked up");
  }
  int leader_count() {
    int n = 0;
    for (auto& w : workers) n += (w.manager && w.manager->is_leader()) ? 1 : 0;
    return n;
  }
  // Every live worker (but `except`) sees an assignment whose workers are
  // exactly the live ones (but `except`).
  bool converged(size_t except = SIZE_MAX) {
    std::vector<std::string> ids;
    for (size_t i = 0; i < workers.size(); ++i) {
      if (workers[i].manager && i != except) ids.push_back(workers[i].manager->worker_id());
    }
    std::sort(ids.begin(), ids.end());
    for (size_t i = 0; i < workers.size(); ++i) {
      if (!workers[i].manager || i == except) continue;
      if (workers[i].manager->current_assignment().workers != ids) return false;
    }
    return true;
  }
  void crash(size_t i) {
    workers[i].conn->close();
    workers[i].manager.reset();  // its stop() cannot reach NATS: nothing is cleaned up
  }

  NatsServer server;
  std::vector<Worker> workers;
  std::shared_ptr<const Strategy> ch = make_consistent_hash();
};

}  // namespace parti::testing
