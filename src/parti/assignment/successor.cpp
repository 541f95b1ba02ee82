#include "parti/assignment/successor.h"

#include <algorithm>
#include <set>
#include <unordered_map>

namespace parti {
namespace {

uint64_t progress_of(const WorkerInfo& w, uint32_t partition) {
  auto it = w.progress.find(partition);
  return it == w.progress.end() ? 0 : it->second;
}

// True when `a` is the better successor for `partition` than `b`.
bool better_successor(const WorkerInfo& a, const WorkerInfo& b, uint32_t partition) {
  const uint64_t pa = progress_of(a, partition), pb = progress_of(b, partition);
  if (pa != pb) return pa > pb;
  if (a.startup_ms != b.startup_ms) return a.startup_ms < b.startup_ms;
  return a.id < b.id;
}

}  // namespace

void appoint_successors(Placement& placement, const std::vector<WorkerInfo>& workers,
                        const std::vector<Partition>& partitions, const Assignment& previous) {
  if (previous.empty()) return;
  std::set<std::string> alive;
  for (const auto& w : workers) alive.insert(w.id);
  const auto previous_index = previous.positions();
  for (size_t p = 0; p < placement.size() && p < partitions.size(); ++p) {
    auto found = previous_index.find(partitions[p].id);
    if (found == previous_index.end()) continue;
    const std::vector<std::string> before = previous.replica_ids(found->second);
    if (before.empty() || alive.contains(before.front())) continue;
    auto& list = placement[p];
    auto best = list.end();
    for (auto it = list.begin(); it != list.end(); ++it) {
      const WorkerInfo& w = workers[*it];
      if (std::find(before.begin(), before.end(), w.id) == before.end()) continue;
      if (best == list.end() || better_successor(w, workers[*best], static_cast<uint32_t>(p))) {
        best = it;
      }
    }
    if (best != list.end()) std::rotate(list.begin(), best, best + 1);
  }
}

}  // namespace parti
