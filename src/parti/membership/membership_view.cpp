#include "parti/membership/membership_view.h"

#include <algorithm>
#include <set>

namespace parti {

const char* to_string(MemberEvent::Kind k) {
  switch (k) {
    case MemberEvent::Kind::Joined:
      return "joined";
    case MemberEvent::Kind::Updated:
      return "updated";
    case MemberEvent::Kind::Left:
      return "left";
    case MemberEvent::Kind::Disconnected:
      return "disconnected";
  }
  return "?";
}

bool MembershipView::is_stale(const std::string& id, uint64_t revision) const {
  if (auto it = members_.find(id); it != members_.end() && revision <= it->second.revision) {
    return true;
  }
  auto gone = departed_.find(id);
  return gone != departed_.end() && revision <= gone->second;
}

std::vector<MemberEvent> MembershipView::on_put(const NodeRecord& record, uint64_t revision,
                                                TimePoint now) {
  if (is_stale(record.id, revision)) return {};
  departed_.erase(record.id);
  left_cleanly_.erase(record.id);
  auto [it, inserted] = members_.try_emplace(record.id);
  Member& m = it->second;
  const bool changed = !inserted && !(m.record == record);
  m.record = record;
  m.revision = revision;
  m.last_seen = now;
  if (inserted) return {{MemberEvent::Kind::Joined, record.id}};
  if (changed) return {{MemberEvent::Kind::Updated, record.id}};
  return {};
}

std::vector<MemberEvent> MembershipView::remove(const std::string& id, uint64_t revision,
                                                MemberEvent::Kind why) {
  auto it = members_.find(id);
  if (it == members_.end()) return {};
  departed_[id] = std::max(revision, it->second.revision);
  members_.erase(it);
  return {{why, id}};
}

std::vector<MemberEvent> MembershipView::on_delete(const std::string& id, uint64_t revision,
                                                   TimePoint) {
  if (is_stale(id, revision)) return {};
  auto events = remove(id, revision, MemberEvent::Kind::Left);
  if (!events.empty()) left_cleanly_.insert(id);
  return events;
}

std::vector<MemberEvent> MembershipView::on_snapshot(
    const std::vector<std::pair<NodeRecord, uint64_t>>& all, uint64_t as_of, TimePoint now,
    uint64_t deleted_by) {
  std::vector<MemberEvent> events;
  std::set<std::string> present;
  for (const auto& [record, revision] : all) {
    present.insert(record.id);
    for (auto& e : on_put(record, revision, now)) events.push_back(e);
  }
  std::vector<std::string> gone;
  for (const auto& [id, m] : members_) {
    if (!present.count(id) && m.revision <= as_of) gone.push_back(id);
  }
  const uint64_t departed_at = std::max(as_of, deleted_by);
  for (const auto& id : gone) {
    for (auto& e : remove(id, departed_at, MemberEvent::Kind::Left)) events.push_back(e);
  }
  return events;
}

std::vector<MemberEvent> MembershipView::on_tick(TimePoint now) {
  std::vector<std::string> expired;
  for (const auto& [id, m] : members_) {
    if (now >= m.last_seen + ttl_) expired.push_back(id);
  }
  std::vector<MemberEvent> events;
  for (const auto& id : expired) {
    for (auto& e : remove(id, 0, MemberEvent::Kind::Disconnected)) events.push_back(e);
  }
  return events;
}

std::optional<TimePoint> MembershipView::next_deadline() const {
  std::optional<TimePoint> best;
  for (const auto& [id, m] : members_) {
    TimePoint d = m.last_seen + ttl_;
    if (!best || d < *best) best = d;
  }
  return best;
}

std::vector<WorkerInfo> MembershipView::active_workers() const {
  std::vector<WorkerInfo> out;
  for (const auto& [id, m] : members_) {
    if (m.record.state == NodeState::Leaving) continue;
    const NodeRecord& r = m.record;
    const bool moving = !r.locked_partitions.empty() || !r.importing_partitions.empty() ||
                        !r.migrating_partitions.empty();
    out.push_back({id, r.weight, r.startup_ms, r.progress, moving, r.reads_since, r.avoid_leading,
                   r.importing_partitions});
  }
  return out;
}

std::vector<NodeRecord> MembershipView::records() const {
  std::vector<NodeRecord> out;
  for (const auto& [id, m] : members_) out.push_back(m.record);
  return out;
}

const NodeRecord* MembershipView::find(const std::string& id) const {
  auto it = members_.find(id);
  return it == members_.end() ? nullptr : &it->second.record;
}

std::set<std::string> MembershipView::departed() const {
  std::set<std::string> ids;
  for (const auto& [id, revision] : departed_) ids.insert(id);
  return ids;
}

}  // namespace parti
