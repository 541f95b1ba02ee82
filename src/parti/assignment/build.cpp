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

void balance_leaders(Placement& placement, size_t worker_count, const std::vector<bool>& settled,
                     const std::vector<bool>& may_lead) {
  if (worker_count == 0 || placement.empty()) return;
  auto can_lead = [&](uint32_t w) { return w >= may_lead.size() || may_lead[w]; };
  size_t leaders = 0;
  for (uint32_t w = 0; w < worker_count; ++w) leaders += can_lead(w) ? 1 : 0;
  leaders = std::max<size_t>(leaders, 1);
  const size_t target = (placement.size() + leaders - 1) / leaders;
  std::vector<size_t> leads(worker_count, 0);
  for (const auto& r : placement) {
    if (!r.empty()) ++leads[r.front()];
  }
  auto fewer_leads = [&](uint32_t a, uint32_t b) {
    if (can_lead(a) != can_lead(b)) return can_lead(a);
    return leads[a] < leads[b];
  };
  auto even_out = [&](std::vector<uint32_t>& r) {
    if (r.size() < 2 || leads[r.front()] <= target) return;
    auto best = std::min_element(r.begin() + 1, r.end(), fewer_leads);
    if (!can_lead(*best) || leads[*best] + 1 > target) return;
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

// Which workers may lead: those that did not ask not to (avoid_leading).
std::vector<bool> may_lead(const std::vector<WorkerInfo>& workers) {
  std::vector<bool> out;
  for (const auto& w : workers) out.push_back(!w.avoid_leading);
  return out;
}

// A leader that asked not to lead gives way to the first replica of its list
// that did not ask (for a dead leader's list, the successor rule's next
// choice); a list of askers only keeps its leader.
void keep_leaders_off_avoiders(Placement& placement, const std::vector<bool>& may_lead) {
  for (auto& r : placement) {
    if (r.empty() || may_lead[r.front()]) continue;
    auto next = std::find_if(r.begin() + 1, r.end(), [&](uint32_t w) { return may_lead[w]; });
    if (next != r.end()) std::iter_swap(r.begin(), next);
  }
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
  const auto leaders = may_lead(workers);
  keep_leaders_off_avoiders(a.replicas, leaders);
  balance_leaders(a.replicas, workers.size(),
                  settled_leaders(a.replicas, workers, partitions, previous), leaders);
  // After balancing: a dead leader's successor follows the rule even where
  // that leaves leadership less even (the next planned rebalance evens it),
  // unless the one it picks asked not to lead.
  if (previous) appoint_successors(a.replicas, workers, partitions, *previous);
  keep_leaders_off_avoiders(a.replicas, leaders);
  // Stamped only while every worker reads it; otherwise each derives epochs
  // from the versions it saw, as builds before `since` do (rolling upgrades).
  const bool all_read_since = std::all_of(workers.begin(), workers.end(),
                                          [](const WorkerInfo& w) { return w.reads_since; });
  if (all_read_since && !workers.empty()) a.stamp_since(previous);
  return a;
}

}  // namespace parti
