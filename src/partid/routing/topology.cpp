#include "partid/routing/topology.h"

#include <algorithm>
#include <charconv>

namespace partid::routing {

const NodeAddress* Topology::address_of(const std::string& node) const {
  if (auto it = nodes.find(node); it != nodes.end()) return &it->second;
  auto it = last_known.find(node);
  return it == last_known.end() ? nullptr : &it->second;
}

namespace {
template <class Find>
uint32_t lowest_of(const std::vector<std::string>& workers, Find find) {
  if (workers.empty()) return 0;
  uint32_t lowest = UINT32_MAX;
  for (const auto& w : workers) {
    const NodeAddress* record = find(w);
    lowest = std::min(lowest, record ? record->format : 0);
  }
  return lowest;
}
}  // namespace

std::set<std::string> Topology::known_nodes() const {
  std::set<std::string> ids(workers.begin(), workers.end());
  for (const auto& [id, record] : nodes) ids.insert(id);
  return ids;
}

bool Topology::every_worker_addressable() const {
  return ready() && std::all_of(workers.begin(), workers.end(),
                                [this](const std::string& w) { return address_of(w) != nullptr; });
}

uint32_t Topology::lowest_format() const {
  return lowest_of(workers, [this](const std::string& w) -> const NodeAddress* {
    auto it = nodes.find(w);  // a record seen now, never a last known one
    return it == nodes.end() ? nullptr : &it->second;
  });
}

uint32_t Topology::lowest_known_format() const {
  return lowest_of(workers, [this](const std::string& w) { return address_of(w); });
}

std::optional<Topology> build_topology(const parti::Assignment& assignment,
                                       const std::vector<parti::NodeRecord>& members,
                                       const LayoutRecord& layout, const Topology* previous,
                                       std::string* error) {
  const uint32_t partitions = layout.partitions();
  if (assignment.partitions.size() != partitions) {
    *error = "assignment v" + std::to_string(assignment.version) + " has " +
             std::to_string(assignment.partitions.size()) + " partitions, the layout " +
             std::to_string(partitions);
    return std::nullopt;
  }
  Topology t;
  t.layout = layout;
  t.version = assignment.version;
  t.workers = assignment.workers;
  t.partitions = partitions;
  t.replication_factor = assignment.replication_factor;
  t.replicas.assign(partitions, {});
  t.leader_epoch.assign(partitions, assignment.version);
  t.epochs_agreed = !assignment.since.empty();
  t.interim = assignment.interim;
  for (size_t i = 0; i < assignment.partitions.size(); ++i) {
    const std::string& id = assignment.partitions[i].id;
    uint32_t p = 0;
    auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), p);
    if (ec != std::errc() || end != id.data() + id.size() || p >= partitions) {
      *error = "assignment holds partition '" + id + "', not one of 0.." +
               std::to_string(partitions - 1);
      return std::nullopt;
    }
    t.replicas[p] = assignment.replica_ids(i);
    if (!assignment.since.empty()) t.leader_epoch[p] = assignment.since[i];
  }
  for (uint32_t p = 0; p < partitions; ++p) {
    if (t.replicas[p].empty()) {
      *error = "assignment v" + std::to_string(assignment.version) + " lacks partition " +
               std::to_string(p);
      return std::nullopt;
    }
    // The epoch changes whenever the replica set does, not only the leader:
    // a new set is a new quorum, sealed afresh (replication/core). The
    // coordinator says since when (`since`); only an assignment without it
    // (an older coordinator, or an older build among the workers) is compared
    // with the previous topology here, which a node that skipped a version
    // gets wrong (its epochs then differ from the others').
    if (!assignment.since.empty()) continue;
    if (!previous || !previous->ready() || p >= previous->partitions) continue;
    if (previous->replicas[p] == t.replicas[p]) t.leader_epoch[p] = previous->leader_epoch[p];
  }
  for (const auto& m : members) {
    t.nodes[m.id] = {m.api_address, m.peer_address, m.state, m.format, m.avoid_leading};
  }
  if (previous) {
    for (const auto& set : t.replicas) {
      for (const auto& id : set) {
        const NodeAddress* known = t.nodes.contains(id) ? nullptr : previous->address_of(id);
        if (known) t.last_known.emplace(id, *known);
      }
    }
  }
  return t;
}

}  // namespace partid::routing
