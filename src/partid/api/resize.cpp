// api: GET /cluster/resize, how far the cluster is from serving every
// partition on its current replica set with every replica caught up (DESIGN
// 4.5: a resize shows its progress). Each node reports the partitions it leads
// (?scope=node); the node asked gathers every report and judges each
// partition by the report of its leader in its own topology, so a partition
// whose leader is unreachable ("leader_unreachable") or does not lead it yet
// ("awaiting_leader") counts as moving.
#include <algorithm>

#include "partid/api/api_service.h"
#include "partid/api/json_out.h"

namespace partid::api {
namespace {

using nlohmann::json;

// Where a partition this node leads stands: "settled" once it serves with no
// handoff pending and every follower holds everything the leader has.
json partition_progress(const replication::ReplicaStatus& s) {
  uint64_t behind = 0;
  for (const auto& f : s.followers) behind = std::max(behind, s.last - std::min(f.match, s.last));
  std::string state = "settled";
  if (!s.handoff.empty()) {
    state = "handing_over";
  } else if (!s.serving) {
    state = "sealing";
  } else if (behind > 0) {
    state = "catching_up";
  }
  return {{"state", state}, {"behind", behind}};
}

}  // namespace

// Only asked once the topology is ready (resize() checks).
json ApiService::local_progress() const {
  const auto t = deps_.cluster->topology();
  const std::string& self = deps_.cluster->self();
  json partitions = json::object();
  for (uint32_t p = 0; p < t->partitions; ++p) {
    // Appointed, but its replica has not started here yet: still sealing.
    if (t->replicas[p].front() == self) {
      partitions[std::to_string(p)] = {{"state", "sealing"}, {"behind", 0}};
    }
  }
  for (const auto& s : deps_.replicator->statuses()) {
    const std::string key = std::to_string(s.partition);
    if (partitions.contains(key)) partitions[key] = partition_progress(s);
  }
  return {{"node", self}, {"version", t->version}, {"partitions", partitions}};
}

asio::awaitable<ApiResponse> ApiService::resize(const Route& route, const Hop& hop) {
  const auto t = deps_.cluster->topology();
  if (!t->ready()) {
    co_return ApiResponse::error(WebError::unavailable("no_assignment", "no topology yet"));
  }
  if (auto e = scope_error(route)) co_return ApiResponse::error(*e);
  json mine = local_progress();
  if (node_scope(route)) co_return ApiResponse::json(200, dump(mine));
  NodeReports reports = co_await ask_every_node("/cluster/resize?scope=node", hop, "partitions");
  reports.answers[deps_.cluster->self()] = std::move(mine);
  size_t settled = 0;
  uint64_t entries_behind = 0;
  json moving = json::array();
  for (uint32_t p = 0; p < t->partitions; ++p) {
    const std::string& leader = t->replicas[p].front();
    // No report from its leader, or the leader does not see itself as such yet.
    json progress = {{"state", "leader_unreachable"}, {"behind", 0}};
    if (auto it = reports.answers.find(leader); it != reports.answers.end()) {
      progress = it->second["partitions"].value(std::to_string(p),
                                                json{{"state", "awaiting_leader"}, {"behind", 0}});
    }
    entries_behind += progress["behind"].get<uint64_t>();
    if (progress["state"] == "settled") {
      ++settled;
      continue;
    }
    moving.push_back({{"partition", p},
                      {"leader", leader},
                      {"state", progress["state"]},
                      {"behind", progress["behind"]}});
  }
  co_return ApiResponse::json(
      200, dump({{"assignment_version", t->version},
                 {"partitions", t->partitions},
                 {"settled", settled},
                 {"entries_behind", entries_behind},
                 {"done", settled == t->partitions && reports.unreachable.empty()},
                 {"moving", moving},
                 {"unreachable", reports.unreachable}}));
}

}  // namespace partid::api
