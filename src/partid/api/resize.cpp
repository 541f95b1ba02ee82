// api: GET /cluster/resize, how far the cluster is from serving every
// partition on its current replica set with every replica caught up (DESIGN
// 4.5: a resize shows its progress). Each node reports the partitions it leads
// (?scope=node); the node asked gathers every report and judges each
// partition by the report of its leader in its own topology, so a partition
// whose leader is unreachable ("leader_unreachable") or does not lead it yet
// ("awaiting_leader") counts as moving. What is left is counted in log
// entries and in bytes: the log payloads followers lack, plus an estimate of
// the stored items for a follower that needs a snapshot first; and, once the
// node asked has seen that shrink between two reports, the time left
// (resize_eta.h).
#include <algorithm>

#include "partid/api/api_service.h"
#include "partid/api/json_out.h"

namespace partid::api {
namespace {

using nlohmann::json;

// Where a partition this node leads stands: "settled" once it serves with no
// handoff pending and every follower holds everything the leader has.
// `item_bytes`: the partition's stored items, which a follower the log no
// longer reaches back to gets first (as a snapshot).
json partition_progress(const replication::ReplicaStatus& s, uint64_t item_bytes) {
  uint64_t behind = 0, bytes = 0;
  for (const auto& f : s.followers) {
    behind = std::max(behind, s.last - std::min(f.match, s.last));
    bytes = std::max(bytes, f.log_bytes_behind + (f.needs_snapshot ? item_bytes : 0));
  }
  std::string state = "settled";
  if (!s.handoff.empty()) {
    state = "handing_over";
  } else if (!s.serving) {
    state = "sealing";
  } else if (behind > 0) {
    state = "catching_up";
  }
  return {{"state", state},
          {"behind", behind},
          {"bytes_behind", bytes},
          {"snapshot", s.follower_needs_snapshot()}};
}

json unstarted_progress(const std::string& state) {
  return {{"state", state}, {"behind", 0}, {"bytes_behind", 0}, {"snapshot", false}};
}

}  // namespace

// Only asked once the topology is ready (resize() checks).
asio::awaitable<json> ApiService::local_progress() {
  const auto t = deps_.cluster->topology();
  const std::string& self = deps_.cluster->self();
  json partitions = json::object();
  for (uint32_t p = 0; p < t->partitions; ++p) {
    // Appointed, but its replica has not started here yet: still sealing.
    if (t->replicas[p].front() == self) {
      partitions[std::to_string(p)] = unstarted_progress("sealing");
    }
  }
  const auto statuses = deps_.replicator->statuses();
  std::vector<uint32_t> snapshot_sources;
  for (const auto& s : statuses) {
    if (s.follower_needs_snapshot()) snapshot_sources.push_back(s.partition);
  }
  // Usually none: then the report needs no trip to the disk pool.
  std::map<uint32_t, uint64_t> item_bytes;
  if (!snapshot_sources.empty()) {
    storage::StoreEngine* store = deps_.store;
    const std::vector<uint32_t>* sources = &snapshot_sources;  // lives in this frame
    item_bytes = co_await parti::run_blocking(*deps_.disk, [store, sources] {
      std::map<uint32_t, uint64_t> out;
      for (uint32_t p : *sources) out[p] = store->approximate_item_bytes(p);
      return out;
    });
  }
  for (const auto& s : statuses) {
    const std::string key = std::to_string(s.partition);
    auto bytes = item_bytes.find(s.partition);
    if (partitions.contains(key)) {
      partitions[key] = partition_progress(s, bytes == item_bytes.end() ? 0 : bytes->second);
    }
  }
  co_return json{{"node", self}, {"version", t->version}, {"partitions", partitions}};
}

asio::awaitable<ApiResponse> ApiService::resize(const Route& route, const Hop& hop) {
  const auto t = deps_.cluster->topology();
  if (!t->ready()) {
    co_return ApiResponse::error(WebError::no_topology_yet());
  }
  if (auto e = scope_error(route)) co_return ApiResponse::error(*e);
  json mine = co_await local_progress();
  if (node_scope(route)) co_return ApiResponse::json(200, dump(mine));
  json summary = co_await cluster_progress(std::move(mine), hop);
  const ResizeLeft left{std::chrono::steady_clock::now(), summary["bytes_behind"].get<uint64_t>(),
                        summary["entries_behind"].get<uint64_t>()};
  if (auto eta = resize_eta_.observe(left, summary["done"].get<bool>())) {
    summary["eta"] = {{"seconds", eta->seconds},
                      {"per_second", eta->per_second},
                      {"unit", eta->in_bytes ? "bytes" : "entries"}};
  }
  co_return ApiResponse::json(200, dump(summary));
}

asio::awaitable<json> ApiService::cluster_progress(json mine, const Hop& hop) {
  const auto t = deps_.cluster->topology();
  NodeReports reports = co_await ask_every_node("/cluster/resize?scope=node", hop, "partitions");
  reports.answers[deps_.cluster->self()] = std::move(mine);
  size_t settled = 0;
  uint64_t entries_behind = 0, bytes_behind = 0;
  json moving = json::array();
  for (uint32_t p = 0; p < t->partitions; ++p) {
    const std::string& leader = t->replicas[p].front();
    // No report from its leader, or the leader does not see itself as such yet.
    json progress = unstarted_progress("leader_unreachable");
    if (auto it = reports.answers.find(leader); it != reports.answers.end()) {
      progress =
          it->second["partitions"].value(std::to_string(p), unstarted_progress("awaiting_leader"));
    }
    entries_behind += progress["behind"].get<uint64_t>();
    // A node of an older build reports no bytes.
    bytes_behind += progress.value("bytes_behind", uint64_t{0});
    if (progress["state"] == "settled") {
      ++settled;
      continue;
    }
    moving.push_back({{"partition", p},
                      {"leader", leader},
                      {"state", progress["state"]},
                      {"behind", progress["behind"]},
                      {"bytes_behind", progress.value("bytes_behind", uint64_t{0})},
                      {"snapshot", progress.value("snapshot", false)}});
  }
  co_return json{{"assignment_version", t->version},
                 {"partitions", t->partitions},
                 {"settled", settled},
                 {"entries_behind", entries_behind},
                 {"bytes_behind", bytes_behind},
                 {"staged_step", t->interim},
                 {"done", settled == t->partitions && reports.unreachable.empty() && !t->interim},
                 {"moving", moving},
                 {"unreachable", reports.unreachable}};
}

}  // namespace partid::api
