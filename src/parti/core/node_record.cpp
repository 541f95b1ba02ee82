#include "parti/core/node_record.h"

#include <nlohmann/json.hpp>

namespace parti {

using nlohmann::json;

const char* to_string(NodeState s) {
  switch (s) {
    case NodeState::Joining:
      return "joining";
    case NodeState::Active:
      return "active";
    case NodeState::Draining:
      return "draining";
    case NodeState::Leaving:
      return "leaving";
  }
  return "unknown";
}

std::optional<NodeState> node_state_from_string(std::string_view s) {
  for (NodeState st :
       {NodeState::Joining, NodeState::Active, NodeState::Draining, NodeState::Leaving}) {
    if (s == to_string(st)) return st;
  }
  return std::nullopt;
}

namespace {

json partition_map_json(const std::map<uint32_t, uint64_t>& m) {
  json out = json::object();
  for (const auto& [p, v] : m) out[std::to_string(p)] = v;
  return out;
}

}  // namespace

std::string encode(const NodeRecord& r) {
  json j = {{"id", r.id},
            {"instance", r.instance},
            {"api", r.api_address},
            {"peer", r.peer_address},
            {"state", to_string(r.state)},
            {"startup_ms", r.startup_ms},
            {"hlc", {r.hlc.physical_ms, r.hlc.logical}},
            {"weight", r.weight},
            {"locked", r.locked_partitions},
            {"importing", r.importing_partitions},
            {"migrating", r.migrating_partitions},
            {"handoff", partition_map_json(r.handoff_final_sequence)}};
  if (!r.progress.empty()) j["progress"] = partition_map_json(r.progress);
  if (r.format != 0) j["format"] = r.format;
  if (r.reads_since) j["reads_since"] = true;
  if (r.avoid_leading) j["avoid_leading"] = true;
  return j.dump();
}

namespace {

// nlohmann converts -1 to 4294967295 without complaint; a record must not.
uint64_t unsigned_value(const json& v, uint64_t max) {
  if (!v.is_number_unsigned()) throw std::invalid_argument("expected an unsigned integer");
  const uint64_t x = v.get<uint64_t>();
  if (x > max) throw std::invalid_argument("integer out of range");
  return x;
}

std::set<uint32_t> partition_set(const json& j, const char* field) {
  const json& v = j.at(field);
  if (!v.is_array()) throw std::invalid_argument(std::string(field) + " must be an array");
  std::set<uint32_t> out;
  for (const json& e : v) out.insert(static_cast<uint32_t>(unsigned_value(e, UINT32_MAX)));
  return out;
}

// {"<partition>": unsigned, ...}
std::map<uint32_t, uint64_t> partition_map(const json& v, const char* field) {
  if (!v.is_object()) throw std::invalid_argument(std::string(field) + " must be an object");
  std::map<uint32_t, uint64_t> out;
  for (const auto& [k, value] : v.items()) {
    size_t used = 0;
    unsigned long p = std::stoul(k, &used);
    if (used != k.size() || p > UINT32_MAX) {
      throw std::invalid_argument(std::string("bad ") + field + " partition");
    }
    out[static_cast<uint32_t>(p)] = unsigned_value(value, UINT64_MAX);
  }
  return out;
}

NodeRecord from_json(const json& j) {
  if (!j.is_object()) throw std::invalid_argument("record must be an object");
  NodeRecord r;
  r.id = j.at("id").get<std::string>();
  if (r.id.empty()) throw std::invalid_argument("id must not be empty");
  r.instance = j.at("instance").get<std::string>();
  r.api_address = j.at("api").get<std::string>();
  r.peer_address = j.at("peer").get<std::string>();
  auto state = node_state_from_string(j.at("state").get<std::string>());
  if (!state) throw std::invalid_argument("unknown state");
  r.state = *state;
  r.startup_ms = j.at("startup_ms").get<int64_t>();
  const json& hlc = j.at("hlc");
  if (!hlc.is_array() || hlc.size() != 2) throw std::invalid_argument("hlc must be [ms, logical]");
  r.hlc = {hlc[0].get<int64_t>(), static_cast<uint32_t>(unsigned_value(hlc[1], UINT32_MAX))};
  r.weight = static_cast<uint32_t>(unsigned_value(j.at("weight"), UINT32_MAX));
  if (r.weight == 0) throw std::invalid_argument("weight must be >= 1");
  r.locked_partitions = partition_set(j, "locked");
  r.importing_partitions = partition_set(j, "importing");
  r.migrating_partitions = partition_set(j, "migrating");
  r.handoff_final_sequence = partition_map(j.at("handoff"), "handoff");
  // Optional: records written before progress existed, and plain workers, omit it.
  if (j.contains("progress")) r.progress = partition_map(j.at("progress"), "progress");
  // Optional too: absent from records of builds that did not publish one.
  if (j.contains("format"))
    r.format = static_cast<uint32_t>(unsigned_value(j.at("format"), UINT32_MAX));
  if (j.contains("reads_since")) r.reads_since = j.at("reads_since").get<bool>();
  if (j.contains("avoid_leading")) r.avoid_leading = j.at("avoid_leading").get<bool>();
  return r;
}

}  // namespace

std::optional<NodeRecord> decode_node_record(std::string_view bytes, std::string* error) {
  try {
    return from_json(json::parse(bytes));
  } catch (const std::exception& e) {
    if (error) *error = e.what();
    return std::nullopt;
  }
}

}  // namespace parti
