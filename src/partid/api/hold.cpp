#include "partid/api/hold.h"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

namespace partid::api {
namespace {

// Refusals given before the write reached a replication log, and those of
// a split (storage/split_space.h): the entry committed without effect, so
// the write's outcome is known, and the key is served again (by its new
// partition, or by the routing of a node that has caught up) within the split.
constexpr std::array<std::string_view, 12> kNothingWritten = {
    "no_assignment",       "routing_loop",        "hop_limit",         "leader_unreachable",
    "partition_locked",    "peer_circuit_open",   "forward_failed",    "not_leader",
    "partition_not_ready", "partition_splitting", "partition_merging", "partition_moved",
};

}  // namespace

bool worth_holding(const Route& route, int status, std::string_view body) {
  if (status != 503) return false;
  if (route.is_item_read()) return true;
  if (!route.is_write()) return false;
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || j.contains("results") || !j.contains("error")) return false;
  const auto& error = j["error"];
  if (!error.is_object() || !error.contains("code") || !error["code"].is_string()) return false;
  const std::string code = error["code"];
  return std::find(kNothingWritten.begin(), kNothingWritten.end(), code) != kNothingWritten.end();
}

std::chrono::milliseconds hold_pause(unsigned retry) {
  return std::chrono::milliseconds(10u << std::min(retry > 0 ? retry - 1 : 0u, 4u));
}

}  // namespace partid::api
