#include "parti/assignment/sticky.h"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <unordered_map>

namespace parti {
namespace {

struct Loads {
  std::vector<double> load, lower, upper;
};

Loads bounds(const StrategyInput& in, double tolerance, bool by_weight) {
  double total = 0;
  uint32_t heaviest = 1;
  for (const auto& p : in.partitions) {
    total += p.weight;
    heaviest = std::max(heaviest, p.weight);
  }
  double capacity = 0;
  for (const auto& w : in.workers) capacity += by_weight ? w.weight : 1;
  Loads l;
  for (const auto& w : in.workers) {
    const double fair = total * (by_weight ? w.weight : 1) / capacity;
    l.lower.push_back(std::floor(fair * (1.0 - tolerance)));
    l.upper.push_back(std::max(std::ceil(fair * (1.0 + tolerance)), double(heaviest)));
  }
  l.load.assign(in.workers.size(), 0.0);
  return l;
}

// Previous owner of each partition, as an index into the current workers.
std::vector<int> previous_owners(const StrategyInput& in) {
  std::vector<int> out(in.partitions.size(), -1);
  if (in.previous == nullptr || in.previous->empty()) return out;
  const Assignment& a = *in.previous;
  std::unordered_map<std::string_view, int> worker_index;
  worker_index.reserve(in.workers.size());
  for (size_t w = 0; w < in.workers.size(); ++w) worker_index[in.workers[w].id] = int(w);
  // Previous worker index -> current worker index (-1 when gone).
  std::vector<int> remap(a.workers.size(), -1);
  for (size_t w = 0; w < a.workers.size(); ++w) {
    if (auto it = worker_index.find(a.workers[w]); it != worker_index.end()) remap[w] = it->second;
  }
  auto owner_of = [&](size_t prev_p) {
    return a.replicas[prev_p].empty() ? -1 : remap[a.replicas[prev_p].front()];
  };
  // Usual case: the partition set did not change, so positions line up.
  const bool aligned =
      a.partitions.size() == in.partitions.size() &&
      std::equal(a.partitions.begin(), a.partitions.end(), in.partitions.begin(),
                 [](const Partition& x, const Partition& y) { return x.id == y.id; });
  if (aligned) {
    for (size_t p = 0; p < out.size(); ++p) out[p] = owner_of(p);
    return out;
  }
  const auto prev_position = a.positions();
  for (size_t p = 0; p < out.size(); ++p) {
    if (auto it = prev_position.find(in.partitions[p].id); it != prev_position.end()) {
      out[p] = owner_of(it->second);
    }
  }
  return out;
}

}  // namespace

Placement sticky_balance(const Placement& preferred, const StrategyInput& in, double tolerance,
                         bool by_weight) {
  const size_t n = in.workers.size();
  if (n == 0 || in.replication_factor != 1) return preferred;
  Loads l = bounds(in, tolerance, by_weight);
  const auto prev = previous_owners(in);
  const size_t parts = in.partitions.size();
  std::vector<uint32_t> owner(parts);
  std::vector<std::vector<size_t>> by_owner(n), by_preferred(n);
  for (size_t p = 0; p < parts; ++p) {
    owner[p] = prev[p] >= 0 ? uint32_t(prev[p]) : preferred[p].front();
    l.load[owner[p]] += in.partitions[p].weight;
    by_owner[owner[p]].push_back(p);
    by_preferred[preferred[p].front()].push_back(p);
  }
  auto weight = [&](size_t p) { return double(in.partitions[p].weight); };
  auto fits = [&](size_t p, uint32_t to) { return l.load[to] + weight(p) <= l.upper[to]; };
  auto can_give = [&](size_t p) { return l.load[owner[p]] - weight(p) >= l.lower[owner[p]]; };
  auto move = [&](size_t p, uint32_t to) {
    l.load[owner[p]] -= weight(p);
    l.load[to] += weight(p);
    owner[p] = to;
    by_owner[to].push_back(p);  // stale entries elsewhere are skipped by owner checks
  };
  // Shed overload: partitions the strategy wants elsewhere go first, to where it wants them.
  for (uint32_t w = 0; w < n; ++w) {
    for (int pass = 0; pass < 2 && l.load[w] > l.upper[w]; ++pass) {
      const std::vector<size_t> mine = by_owner[w];
      for (size_t p : mine) {
        if (l.load[w] <= l.upper[w]) break;
        if (owner[p] != w || (pass == 0 && preferred[p].front() == w)) continue;
        uint32_t to = preferred[p].front();
        if (to == w || !fits(p, to)) {
          to = uint32_t(std::min_element(l.load.begin(), l.load.end()) - l.load.begin());
        }
        if (to != w && fits(p, to)) move(p, to);
      }
    }
  }
  // Fill underload: first with partitions the strategy would give this worker,
  // then from the most loaded workers.
  for (uint32_t u = 0; u < n; ++u) {
    for (size_t p : by_preferred[u]) {
      if (l.load[u] >= l.lower[u]) break;
      if (owner[p] != u && can_give(p) && fits(p, u)) move(p, u);
    }
    std::vector<bool> exhausted(n, false);
    exhausted[u] = true;
    while (l.load[u] < l.lower[u]) {
      int donor = -1;
      for (uint32_t w = 0; w < n; ++w) {
        if (!exhausted[w] && (donor < 0 || l.load[w] > l.load[donor])) donor = int(w);
      }
      if (donor < 0) break;
      bool moved = false;
      for (size_t p : by_owner[donor]) {
        if (owner[p] == uint32_t(donor) && can_give(p) && fits(p, u)) {
          move(p, u);
          moved = true;
          break;
        }
      }
      if (!moved) exhausted[donor] = true;
    }
  }
  Placement out(parts);
  for (size_t p = 0; p < parts; ++p) out[p] = {owner[p]};
  return out;
}

}  // namespace parti
