// examples/custom_strategy: plugging in your own placement. PinnedStrategy
// keeps partitions whose id starts with "vip-" on the lowest worker ID (say, a
// bigger machine) and lets consistent hashing place the rest. A strategy is a
// pure function: it sees the live workers, the partitions, RF and the previous
// assignment, and returns a replica list per partition.
#include <CLI/CLI.hpp>
#include <iostream>

#include "parti/manager/manager.h"

namespace {

class PinnedStrategy final : public parti::Strategy {
 public:
  std::string name() const override { return "Pinned"; }
  parti::Placement place(const parti::StrategyInput& in) const override {
    parti::Placement out = fallback_->place(in);
    if (in.workers.empty()) return out;
    for (size_t p = 0; p < in.partitions.size(); ++p) {
      if (in.partitions[p].id.rfind("vip-", 0) != 0) continue;
      auto& replicas = out[p];
      std::erase(replicas, 0u);               // workers are sorted: index 0 is the lowest ID
      replicas.insert(replicas.begin(), 0u);  // ... and it leads
      replicas.resize(std::min<size_t>(replicas.size(), in.replication_factor));
    }
    return out;
  }

 private:
  std::unique_ptr<parti::Strategy> fallback_ = parti::make_consistent_hash();
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"libparti custom strategy example"};
  std::string url = "nats://127.0.0.1:4222";
  size_t workers = 3;
  app.add_option("--nats", url, "NATS server URL");
  app.add_option("--workers", workers, "workers of the fleet, all in this process")
      ->check(CLI::Range(1, 16));
  CLI11_PARSE(app, argc, argv);
  try {
    auto partitions = parti::numbered_partitions(8);
    for (int i = 0; i < 3; ++i) partitions.push_back({"vip-" + std::to_string(i), 1});
    parti::Config cfg;
    cfg.timings = parti::fast_timings();
    cfg.bucket_prefix = "pinned-";  // a fleet of its own on a shared NATS
    // A fleet in one process, so the placement has workers to choose from;
    // each would normally be a process of its own, with the same strategy
    // (whichever is elected computes the assignments).
    std::vector<std::unique_ptr<parti::Manager>> fleet;
    for (size_t w = 0; w < workers; ++w) {
      fleet.push_back(std::make_unique<parti::Manager>(
          cfg, parti::coord::Connection::connect({.url = url}),
          std::make_shared<parti::StaticPartitionSource>(partitions),
          std::make_shared<PinnedStrategy>()));
      fleet.back()->start();  // returns once an assignment lists this worker
    }
    if (!fleet.front()->wait_assignment(
            [&](const parti::Assignment& a) { return a.workers.size() == workers; },
            std::chrono::seconds(30))) {
      throw std::runtime_error("the fleet did not settle on one assignment of every worker");
    }
    const auto a = fleet.front()->current_assignment();
    for (size_t p = 0; p < a.partitions.size(); ++p) {
      std::cout << a.partitions[p].id << " -> " << a.replica_ids(p).front() << "\n";
    }
    for (auto it = fleet.rbegin(); it != fleet.rend(); ++it) (*it)->stop();
  } catch (const std::exception& e) {
    std::cerr << "custom_strategy: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
