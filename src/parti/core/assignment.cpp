#include "parti/core/assignment.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace parti {

using nlohmann::json;

bool Assignment::has_worker(std::string_view worker) const {
  return std::find(workers.begin(), workers.end(), worker) != workers.end();
}

namespace {

std::optional<uint32_t> worker_index(const Assignment& a, std::string_view worker) {
  auto it = std::find(a.workers.begin(), a.workers.end(), worker);
  if (it == a.workers.end()) return std::nullopt;
  return static_cast<uint32_t>(it - a.workers.begin());
}

}  // namespace

std::set<std::string> Assignment::partitions_of(std::string_view worker) const {
  std::set<std::string> out;
  auto idx = worker_index(*this, worker);
  if (!idx) return out;
  for (size_t p = 0; p < replicas.size(); ++p) {
    const auto& r = replicas[p];
    if (std::find(r.begin(), r.end(), *idx) != r.end()) out.insert(partitions[p].id);
  }
  return out;
}

std::set<std::string> Assignment::led_by(std::string_view worker) const {
  std::set<std::string> out;
  auto idx = worker_index(*this, worker);
  if (!idx) return out;
  for (size_t p = 0; p < replicas.size(); ++p) {
    if (!replicas[p].empty() && replicas[p].front() == *idx) out.insert(partitions[p].id);
  }
  return out;
}

std::vector<std::string> Assignment::replica_ids(size_t partition_index) const {
  std::vector<std::string> out;
  for (uint32_t w : replicas.at(partition_index)) out.push_back(workers.at(w));
  return out;
}

std::unordered_map<std::string_view, size_t> Assignment::positions() const {
  std::unordered_map<std::string_view, size_t> out;
  out.reserve(partitions.size());
  for (size_t i = 0; i < partitions.size(); ++i) out.emplace(partitions[i].id, i);
  return out;
}

void Assignment::stamp_since(const Assignment* previous) {
  const bool stamped = previous && previous->since.size() == previous->partitions.size();
  const auto before = stamped ? previous->positions() : decltype(positions()){};
  since.assign(partitions.size(), version);
  for (size_t i = 0; i < partitions.size(); ++i) {
    auto it = before.find(partitions[i].id);
    if (it != before.end() && previous->replica_ids(it->second) == replica_ids(i)) {
      since[i] = previous->since[it->second];
    }
  }
}

AssignmentDelta diff_for_worker(const Assignment& before, const Assignment& after,
                                std::string_view worker) {
  AssignmentDelta d;
  auto old_set = before.partitions_of(worker);
  auto new_set = after.partitions_of(worker);
  std::set_difference(new_set.begin(), new_set.end(), old_set.begin(), old_set.end(),
                      std::inserter(d.added, d.added.end()));
  std::set_difference(old_set.begin(), old_set.end(), new_set.begin(), new_set.end(),
                      std::inserter(d.removed, d.removed.end()));
  return d;
}

std::string encode(const Assignment& a) {
  json parts = json::array();
  json weights = json::array();
  for (const auto& p : a.partitions) {
    parts.push_back(p.id);
    weights.push_back(p.weight);
  }
  json j = {{"version", a.version},       {"term", a.leader_term}, {"leader", a.leader},
            {"rf", a.replication_factor}, {"workers", a.workers},  {"partitions", parts},
            {"weights", weights},         {"replicas", a.replicas}};
  if (!a.since.empty()) j["since"] = a.since;
  if (a.interim) j["interim"] = true;  // absent: final (and what older readers ignore)
  return j.dump();
}

bool is_well_formed(const Assignment& a, std::string* error) {
  auto fail = [&](const std::string& why) {
    if (error) *error = why;
    return false;
  };
  if (a.replicas.size() != a.partitions.size()) return fail("replicas/partitions size mismatch");
  if (!a.since.empty() && a.since.size() != a.partitions.size()) {
    return fail("since/partitions size mismatch");
  }
  for (uint64_t v : a.since) {
    if (v == 0 || v > a.version) return fail("since names a version outside 1..version");
  }
  if (a.replication_factor == 0) return fail("rf must be >= 1");
  const size_t want = std::min<size_t>(a.replication_factor, a.workers.size());
  for (size_t p = 0; p < a.replicas.size(); ++p) {
    const auto& r = a.replicas[p];
    if (r.size() != want)
      return fail("partition " + a.partitions[p].id + " has wrong replica count");
    std::set<uint32_t> seen(r.begin(), r.end());
    if (seen.size() != r.size()) return fail("duplicate replica in " + a.partitions[p].id);
    for (uint32_t w : r) {
      if (w >= a.workers.size()) return fail("replica index out of range");
    }
  }
  return true;
}

std::optional<Assignment> decode_assignment(std::string_view bytes, std::string* error) {
  try {
    json j = json::parse(bytes);
    Assignment a;
    a.version = j.at("version").get<uint64_t>();
    a.leader_term = j.at("term").get<uint64_t>();
    a.leader = j.at("leader").get<std::string>();
    a.replication_factor = j.at("rf").get<uint32_t>();
    a.workers = j.at("workers").get<std::vector<std::string>>();
    auto ids = j.at("partitions").get<std::vector<std::string>>();
    auto weights = j.at("weights").get<std::vector<uint32_t>>();
    if (ids.size() != weights.size()) throw std::invalid_argument("weights size mismatch");
    for (size_t i = 0; i < ids.size(); ++i) a.partitions.push_back({ids[i], weights[i]});
    a.replicas = j.at("replicas").get<std::vector<std::vector<uint32_t>>>();
    if (j.contains("since")) a.since = j.at("since").get<std::vector<uint64_t>>();
    a.interim = j.value("interim", false);
    std::string why;
    if (!is_well_formed(a, &why)) throw std::invalid_argument(why);
    return a;
  } catch (const std::exception& e) {
    if (error) *error = e.what();
    return std::nullopt;
  }
}

}  // namespace parti
