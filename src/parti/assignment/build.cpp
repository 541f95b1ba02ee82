#include <algorithm>
#include <stdexcept>

#include "parti/assignment/strategy.h"
#include "parti/assignment/successor.h"

namespace parti {

std::unique_ptr<Strategy> make_strategy(const std::string& name) {
  if (name == "consistent-hash" || name == "ConsistentHash") return make_consistent_hash();
  if (name == "weighted" || name == "WeightedConsistentHash")
    return make_weighted_consistent_hash();
  if (name == "round-robin" || name == "RoundRobin") return make_round_robin();
  if (name == "rendezvous" || name == "Rendezvous") return make_rendezvous();
  throw std::invalid_argument("unknown strategy '" + name +
                              "' (consistent-hash, weighted, round-robin, rendezvous)");
}

void balance_leaders(Placement& placement, size_t worker_count, const std::vector<bool>& settled) {
  if (worker_count == 0 || placement.empty()) return;
  const size_t target = (placement.size() + worker_count - 1) / worker_count;
  std::vector<size_t> leads(worker_count, 0);
  for (const auto& r : placement) {
    if (!r.empty()) ++leads[r.front()];
  }
  auto even_out = [&](std::vector<uint32_t>& r) {
    if (r.size() < 2 || leads[r.front()] <= target) return;
    auto best = std::min_element(r.begin() + 1, r.end(),
                                 [&](uint32_t a, uint32_t b) { return leads[a] < leads[b]; });
    if (leads[*best] + 1 > target) return;
    --leads[r.front()];
    ++leads[*best];
    std::iter_swap(r.begin(), best);
  };
  // Unsettled partitions first: moving a leader that stays costs a handoff
  // (its writes pause while the next one seals), moving a new one nothing.
  for (size_t i = 0; i < placement.size(); ++i) {
    if (i >= settled.size() || !settled[i]) even_out(placement[i]);
  }
  for (size_t i = 0; i < placement.size() && i < settled.size(); ++i) {
    if (settled[i]) even_out(placement[i]);
  }
}

namespace {

// Per partition: its leader (by worker id) is the one `previous` gave it.
std::vector<bool> settled_leaders(const Placement& placement,
                                  const std::vector<WorkerInfo>& workers,
                                  const std::vector<Partition>& partitions,
                                  const Assignment* previous) {
  std::vector<bool> settled(placement.size(), false);
  if (!previous) return settled;
  const auto before = previous->positions();
  for (size_t i = 0; i < placement.size(); ++i) {
    auto it = before.find(partitions[i].id);
    if (it == before.end() || placement[i].empty()) continue;
    const auto& was = previous->replicas[it->second];
    settled[i] = !was.empty() && previous->workers[was.front()] == workers[placement[i].front()].id;
  }
  return settled;
}

}  // namespace

Assignment build_assignment(const Strategy& strategy, std::vector<WorkerInfo> workers,
                            const std::vector<Partition>& partitions, uint32_t rf,
                            const Assignment* previous, uint64_t version) {
  std::sort(workers.begin(), workers.end(),
            [](const WorkerInfo& a, const WorkerInfo& b) { return a.id < b.id; });
  workers.erase(std::unique(workers.begin(), workers.end(),
                            [](const WorkerInfo& a, const WorkerInfo& b) { return a.id == b.id; }),
                workers.end());
  Assignment a;
  a.version = version;
  a.replication_factor = rf;
  a.partitions = partitions;
  for (const auto& w : workers) a.workers.push_back(w.id);
  a.replicas = strategy.place(StrategyInput{workers, partitions, rf, previous});
  balance_leaders(a.replicas, workers.size(),
                  settled_leaders(a.replicas, workers, partitions, previous));
  // After balancing: a dead leader's successor follows the rule even where
  // that leaves leadership less even (the next planned rebalance evens it).
  if (previous) appoint_successors(a.replicas, workers, partitions, *previous);
  // Stamped only while every worker reads it; otherwise each derives epochs
  // from the versions it saw, as builds before `since` do (rolling upgrades).
  const bool all_read_since = std::all_of(workers.begin(), workers.end(),
                                          [](const WorkerInfo& w) { return w.reads_since; });
  if (all_read_since && !workers.empty()) a.stamp_since(previous);
  return a;
}

}  // namespace parti
