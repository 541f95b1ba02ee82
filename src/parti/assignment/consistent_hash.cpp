#include <fmt/format.h>
#include <algorithm>
#include <cmath>
#include <numeric>

#include "parti/assignment/hashing.h"
#include "parti/assignment/sticky.h"
#include "parti/assignment/strategy.h"

namespace parti {
namespace {

struct RingPoint {
  uint64_t hash;
  uint32_t worker;
  bool operator<(const RingPoint& o) const {
    return hash < o.hash || (hash == o.hash && worker < o.worker);
  }
};

std::vector<RingPoint> build_ring(const std::vector<WorkerInfo>& workers, uint32_t vnodes,
                                  uint64_t seed, bool by_weight) {
  std::vector<RingPoint> ring;
  for (uint32_t w = 0; w < workers.size(); ++w) {
    const uint32_t points = vnodes * (by_weight ? workers[w].weight : 1);
    std::string key = workers[w].id + "#";
    const size_t base = key.size();
    for (uint32_t v = 0; v < points; ++v) {
      key.resize(base);
      key += std::to_string(v);
      ring.push_back({hash64(key, seed), w});
    }
  }
  std::sort(ring.begin(), ring.end());
  return ring;
}

// Per-worker capacity in partition-weight units; infinite when unbounded.
std::vector<double> capacities(const StrategyInput& in, double overload, bool by_weight) {
  const double total_partition_weight =
      std::accumulate(in.partitions.begin(), in.partitions.end(), 0.0,
                      [](double acc, const Partition& p) { return acc + p.weight; });
  double total_worker_weight = 0;
  for (const auto& w : in.workers) total_worker_weight += by_weight ? w.weight : 1;
  std::vector<double> caps(in.workers.size(), INFINITY);
  if (overload < 0) return caps;
  const uint32_t max_weight =
      std::accumulate(in.partitions.begin(), in.partitions.end(), 1u,
                      [](uint32_t m, const Partition& p) { return std::max(m, p.weight); });
  for (size_t w = 0; w < in.workers.size(); ++w) {
    const double share = (by_weight ? in.workers[w].weight : 1) / total_worker_weight;
    const double fair = total_partition_weight * in.replication_factor * share;
    // Never below one heavy partition, or no placement could exist.
    caps[w] = std::max(std::ceil(fair * (1.0 + overload)), static_cast<double>(max_weight));
  }
  return caps;
}

class ConsistentHash final : public Strategy {
 public:
  ConsistentHash(std::string name, uint32_t vnodes, uint64_t seed, double overload, bool by_weight)
      : name_(std::move(name)),
        vnodes_(vnodes),
        seed_(seed),
        overload_(overload),
        by_weight_(by_weight) {}

  std::string name() const override { return name_; }

  Placement place(const StrategyInput& in) const override {
    Placement out(in.partitions.size());
    if (in.workers.empty()) return out;
    const auto ring = build_ring(in.workers, vnodes_, seed_, by_weight_);
    auto caps = capacities(in, overload_, by_weight_);
    std::vector<double> load(in.workers.size(), 0.0);
    const size_t want = std::min<size_t>(in.replication_factor, in.workers.size());
    // Heavy partitions first, so bounded loads pack without stranding them.
    std::vector<size_t> order(in.partitions.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return in.partitions[a].weight > in.partitions[b].weight;
    });
    for (size_t p : order) {
      const Partition& part = in.partitions[p];
      auto it = std::lower_bound(ring.begin(), ring.end(), RingPoint{hash64(part.id, seed_), 0});
      auto& replicas = out[p];
      pick(ring, it, want, part.weight, caps, load, replicas, /*respect_caps=*/true);
      if (replicas.size() < want) pick(ring, it, want, part.weight, caps, load, replicas, false);
    }
    if (overload_ >= 0) return sticky_balance(out, in, overload_, by_weight_);
    return out;
  }

 private:
  // Walks the ring clockwise from `start`, taking distinct workers.
  static void pick(const std::vector<RingPoint>& ring, std::vector<RingPoint>::const_iterator start,
                   size_t want, uint32_t weight, const std::vector<double>& caps,
                   std::vector<double>& load, std::vector<uint32_t>& replicas, bool respect_caps) {
    const size_t n = ring.size();
    size_t i = static_cast<size_t>(start - ring.begin());
    for (size_t step = 0; step < n && replicas.size() < want; ++step, ++i) {
      const uint32_t w = ring[i % n].worker;
      if (std::find(replicas.begin(), replicas.end(), w) != replicas.end()) continue;
      if (respect_caps && load[w] + weight > caps[w]) continue;
      replicas.push_back(w);
      load[w] += weight;
    }
  }

  std::string name_;
  uint32_t vnodes_;
  uint64_t seed_;
  double overload_;
  bool by_weight_;
};

}  // namespace

std::unique_ptr<Strategy> make_consistent_hash(uint32_t virtual_nodes, uint64_t seed,
                                               double overload) {
  return std::make_unique<ConsistentHash>("ConsistentHash", virtual_nodes, seed, overload, false);
}

std::unique_ptr<Strategy> make_weighted_consistent_hash(uint32_t virtual_nodes, uint64_t seed,
                                                        double overload) {
  return std::make_unique<ConsistentHash>("WeightedConsistentHash", virtual_nodes, seed, overload,
                                          true);
}

}  // namespace parti
