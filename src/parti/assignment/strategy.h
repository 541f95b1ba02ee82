// assignment: placement strategies. A strategy is a pure function from
// (workers, partitions, RF, previous assignment) to an ordered replica list per
// partition; it never does I/O, so the calculator and benchmarks call it directly.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "parti/core/assignment.h"
#include "parti/core/types.h"

namespace parti {

using Placement = std::vector<std::vector<uint32_t>>;  // per partition: worker indices

struct StrategyInput {
  const std::vector<WorkerInfo>& workers;  // sorted by id, unique
  const std::vector<Partition>& partitions;
  uint32_t replication_factor = 1;
  const Assignment* previous = nullptr;  // may be null or empty
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string name() const = 0;
  // Guarantee: for every partition, min(RF, workers) distinct worker indices.
  virtual Placement place(const StrategyInput& in) const = 0;
};

// Ring with `virtual_nodes` points per unit of worker weight, hashed with xxh3.
// `overload` bounds each worker to (1 + overload) x its fair share of partition
// weight (bounded-load consistent hashing); a negative value disables the bound.
std::unique_ptr<Strategy> make_consistent_hash(uint32_t virtual_nodes = 150, uint64_t seed = 0,
                                               double overload = 0.25);
// Weighted consistent hash: worker capacity weights and partition weights both
// count, with the overload threshold as the balance bound.
std::unique_ptr<Strategy> make_weighted_consistent_hash(uint32_t virtual_nodes = 150,
                                                        uint64_t seed = 0, double overload = 0.15);
// Partition i (in source order) goes to worker i mod n (workers sorted by id):
// within +/-1 of each other, deterministic, not sticky.
std::unique_ptr<Strategy> make_round_robin();
// Highest-random-weight: the RF workers with the highest hash(partition, worker).
std::unique_ptr<Strategy> make_rendezvous(uint64_t seed = 0);

std::unique_ptr<Strategy> make_strategy(const std::string& name);

// Reorders replica lists so that leadership (first replica) is spread evenly:
// no worker leads more than ceil(P / workers) partitions when RF allows it.
// Partitions marked `settled` (their leader is the previous assignment's)
// lose theirs only when moving the others' is not enough, so a partition
// added or a worker joining moves few leaders that were serving.
// Workers with `may_lead` false (by index; empty: all may) are never given a
// leadership, and the bound counts only the others.
void balance_leaders(Placement& placement, size_t worker_count,
                     const std::vector<bool>& settled = {}, const std::vector<bool>& may_lead = {});

// Builds a complete assignment (sorted workers, balanced leaders; a dead
// leader's partitions go to the successor rule's choice, see successor.h).
// A worker that asks not to lead (WorkerInfo::avoid_leading) leads only
// partitions whose every replica asks the same.
Assignment build_assignment(const Strategy& strategy, std::vector<WorkerInfo> workers,
                            const std::vector<Partition>& partitions, uint32_t rf,
                            const Assignment* previous, uint64_t version);

}  // namespace parti
