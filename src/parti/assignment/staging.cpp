#include "parti/assignment/staging.h"

#include <algorithm>
#include <string_view>
#include <unordered_map>

namespace parti {
namespace {

bool contains(const std::vector<uint32_t>& set, uint32_t worker) {
  return std::find(set.begin(), set.end(), worker) != set.end();
}

// Who leads a step: one that holds the data, and stays if one can, so the
// step after it does not have to move the leader again. The target's leader
// if it holds the data; else the current leader if it stays; else the first
// replica that stays; else (every replica leaves) the current leader.
uint32_t step_leader(const std::vector<uint32_t>& old, const std::vector<uint32_t>& target) {
  if (contains(old, target.front())) return target.front();
  if (contains(target, old.front())) return old.front();
  for (uint32_t w : target) {
    if (contains(old, w)) return w;
  }
  return old.front();
}

// The replicas of `had` (ids), as indices into `workers`, in its order.
std::vector<uint32_t> previous_list(const std::vector<std::string>& had,
                                    const std::vector<std::string>& workers) {
  std::vector<uint32_t> out;
  for (const auto& id : had) {
    auto it = std::find(workers.begin(), workers.end(), id);
    if (it != workers.end()) out.push_back(static_cast<uint32_t>(it - workers.begin()));
  }
  return out;
}

// `list` holds the same replicas as `had`, which `holder` led: held back
// there, the partition keeps its previous list as it was.
bool holder_keeps_list(const std::vector<uint32_t>& list, const std::vector<std::string>& had,
                       const std::vector<std::string>& workers, uint32_t holder) {
  if (had.empty() || workers[holder] != had.front()) return false;
  const auto before = previous_list(had, workers);
  return before.size() == had.size() &&
         std::is_permutation(list.begin(), list.end(), before.begin(), before.end());
}

}  // namespace

std::vector<uint32_t> stage_replicas(const std::vector<uint32_t>& old,
                                     const std::vector<uint32_t>& target) {
  const size_t max_new = old.size() >= 3 ? (old.size() - 1) / 2 : 0;
  if (max_new == 0 || target.empty()) return target;
  const auto arriving = static_cast<size_t>(
      std::count_if(target.begin(), target.end(), [&](uint32_t w) { return !contains(old, w); }));
  if (arriving <= max_new && contains(old, target.front())) return target;

  std::vector<uint32_t> out;
  auto add = [&](uint32_t w) {
    if (out.size() < target.size() && !contains(out, w)) out.push_back(w);
  };
  add(step_leader(old, target));
  for (uint32_t w : target) {
    if (contains(old, w)) add(w);  // staying
  }
  size_t admitted = 0;
  for (uint32_t w : target) {
    if (!contains(old, w) && admitted < max_new) {
      add(w);
      ++admitted;
    }
  }
  for (uint32_t w : old) add(w);     // leaving, in a later step
  for (uint32_t w : target) add(w);  // only if the set grows past what it had
  return out;
}

bool stage_moves(Assignment& next, const Assignment& previous) {
  if (previous.empty()) return false;
  const auto before = previous.positions();
  std::unordered_map<std::string_view, uint32_t> index;
  for (uint32_t i = 0; i < next.workers.size(); ++i) index.emplace(next.workers[i], i);
  bool held = false;
  for (size_t p = 0; p < next.partitions.size() && p < next.replicas.size(); ++p) {
    auto it = before.find(next.partitions[p].id);
    if (it == before.end()) continue;
    std::vector<uint32_t> old;
    for (const auto& id : previous.replica_ids(it->second)) {
      auto w = index.find(id);
      if (w == index.end()) break;
      old.push_back(w->second);
    }
    if (old.size() != previous.replicas[it->second].size()) continue;  // one is gone
    auto staged = stage_replicas(old, next.replicas[p]);
    if (staged == next.replicas[p]) continue;
    next.replicas[p] = std::move(staged);
    held = true;
  }
  if (held && !next.since.empty()) next.stamp_since(&previous);
  return held;
}

bool keep_leaders_with_data(Assignment& next, const Assignment& previous,
                            const std::vector<WorkerInfo>& workers) {
  if (previous.empty()) return false;
  std::unordered_map<std::string_view, const WorkerInfo*> info;
  for (const auto& w : workers) info.emplace(w.id, &w);
  const auto before = previous.positions();
  bool held = false;
  for (size_t p = 0; p < next.partitions.size() && p < next.replicas.size(); ++p) {
    auto it = before.find(next.partitions[p].id);
    auto& list = next.replicas[p];
    if (it == before.end() || list.empty()) continue;
    const auto had = previous.replica_ids(it->second);
    auto holds = [&](uint32_t w) {
      const std::string& id = next.workers[w];
      auto found = info.find(id);
      const bool importing =
          found != info.end() && found->second->importing.contains(static_cast<uint32_t>(p));
      return !importing && std::find(had.begin(), had.end(), id) != had.end();
    };
    auto may_lead = [&](uint32_t w) {
      auto found = info.find(next.workers[w]);
      return found == info.end() || !found->second->avoid_leading;
    };
    if (holds(list.front())) continue;
    auto can_take = [&](uint32_t w) { return holds(w) && may_lead(w); };
    // The previous leader if it can (no handoff), else the first that can.
    auto holder = std::find_if(list.begin() + 1, list.end(),
                               [&](uint32_t w) { return next.workers[w] == had.front(); });
    if (holder == list.end() || !can_take(*holder)) {
      holder = std::find_if(list.begin() + 1, list.end(), can_take);
    }
    if (holder == list.end()) continue;  // nobody listed holds it: the arrival leads
    if (holder_keeps_list(list, had, next.workers, *holder)) {
      list = previous_list(had, next.workers);  // this partition does not move this step
    } else {
      std::rotate(list.begin(), holder, holder + 1);
    }
    held = true;
  }
  if (held && !next.since.empty()) next.stamp_since(&previous);
  return held;
}

}  // namespace parti
