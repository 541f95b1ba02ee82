// api: partition validation, the operator's integrity check (seed 004's
// "partition state validation"). GET /admin/partitions/{p}/check reports this
// node's replica (storage/partition_check.h); GET /admin/partitions/{p}/validate
// asks every replica of p and compares them: each replica's own problems, the
// committed log range all of them hold (it must be identical: no two entries
// at one sequence), and the state of replicas at the same watermark.
// Repairs stay explicit operator actions (force-watermark, sync, failover).
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "partid/api/api_service.h"
#include "partid/api/json_out.h"
#include "partid/storage/partition_check.h"

namespace partid::api {
namespace {

using nlohmann::json;

// Digests as hex strings: JSON numbers lose 64-bit precision in most clients.
std::string hex(uint64_t v) { return fmt::format("{:016x}", v); }

json to_json(const storage::PartitionCheck& c, uint64_t from, uint64_t to) {
  json j = {{"partition", c.partition},
            {"consistent", c.consistent()},
            {"promised_epoch", c.meta.epoch},
            {"base_sequence", c.meta.base_sequence},
            {"last_sequence", c.meta.last_sequence},
            {"watermark", c.meta.watermark},
            {"log_entries", c.log_entries},
            {"item_count", c.meta.item_count},
            {"counted_items", c.counted_items},
            {"txn_records", c.txn_records},
            {"txn_decisions", c.txn_decisions},
            {"state_digest", hex(c.state_digest)},
            {"log_digest", c.log_digest ? json(hex(*c.log_digest)) : json(nullptr)},
            {"problems", c.problems},
            {"problems_omitted", c.problems_omitted}};
  if (from <= to) j["log_range"] = {from, to};
  return j;
}

// The comparison of the replicas' reports (each with "node"; unreachable ones
// with "error"): fills problems and notes, returns what was compared.
json compare(const std::vector<json>& reports, uint64_t from, uint64_t to,
             std::vector<std::string>* problems, std::vector<std::string>* notes) {
  json compared = {{"log_range", nullptr},
                   {"log_digests_agree", nullptr},
                   {"state_watermark", nullptr},
                   {"state_digests_agree", nullptr}};
  std::set<std::string> log_digests;
  std::map<uint64_t, std::map<std::string, std::string>> states;  // watermark -> node -> digest
  for (const auto& r : reports) {
    const std::string node = r["node"];
    if (r.contains("error")) {
      problems->push_back(node + ": not checked: " + r["error"].get<std::string>());
      continue;
    }
    for (const auto& p : r["problems"]) problems->push_back(node + ": " + p.get<std::string>());
    if (r["problems_omitted"].get<size_t>() > 0) {
      problems->push_back(
          fmt::format("{}: {} more problems", node, r["problems_omitted"].get<size_t>()));
    }
    if (from <= to && r["log_digest"].is_string()) {
      log_digests.insert(r["log_digest"].get<std::string>());
    } else if (from <= to) {
      notes->push_back(node + " no longer holds the whole compared log range");
    }
    states[r["watermark"].get<uint64_t>()][node] = r["state_digest"].get<std::string>();
  }
  if (from <= to) {
    compared["log_range"] = {from, to};
    compared["log_digests_agree"] = log_digests.size() <= 1;
    if (log_digests.size() > 1) {
      problems->push_back(fmt::format(
          "the committed log [{}, {}] differs between replicas: two entries at one sequence", from,
          to));
    }
  } else {
    notes->push_back("no committed log range is held by every replica: logs not compared");
  }
  for (const auto& [watermark, digests] : states) {
    if (digests.size() < 2) continue;
    std::set<std::string> distinct;
    for (const auto& [node, digest] : digests) distinct.insert(digest);
    compared["state_watermark"] = watermark;
    compared["state_digests_agree"] = distinct.size() == 1;
    if (distinct.size() > 1) {
      problems->push_back(fmt::format("replicas at watermark {} hold different items", watermark));
    }
  }
  if (compared["state_watermark"].is_null()) {
    notes->push_back(
        "no two replicas were at the same watermark (writes in flight?): state not compared");
  }
  return compared;
}

}  // namespace

asio::awaitable<ApiResponse> ApiService::admin_read(const ApiRequest& request, const Route& route,
                                                    const Hop& hop) {
  const auto named = admin_partition(request, route);
  if (const auto* e = std::get_if<WebError>(&named)) co_return ApiResponse::error(*e);
  const uint32_t partition = std::get<uint32_t>(named);
  if (route.range_key == "validate") co_return co_await validate(partition, request, hop);
  if (route.range_key != "check") {
    co_return ApiResponse::error(WebError::bad_request(
        "admin_refused", "unknown admin read '" + route.range_key + "' (check, validate)"));
  }
  uint64_t from = 1, to = 0;
  if (!query_u64(route, "from", &from) || !query_u64(route, "to", &to)) {
    co_return ApiResponse::error(
        WebError::bad_request("bad_range", "from and to must be integers"));
  }
  const auto items = route.query.find("items");
  const bool scan_items = items == route.query.end() || items->second != "false";
  json report = co_await check_replica(partition, from, to, scan_items);
  co_return ApiResponse::json(200, dump(report));
}

asio::awaitable<json> ApiService::check_replica(uint32_t partition, uint64_t from, uint64_t to,
                                                bool scan_items) {
  storage::StoreEngine* store = deps_.store;
  const auto check =
      co_await parti::run_blocking(*deps_.disk, [store, partition, from, to, scan_items] {
        return store->check_partition(partition, from, to, scan_items);
      });
  json report = to_json(check, from, to);
  report["node"] = deps_.cluster->self();
  co_return report;
}

asio::awaitable<json> ApiService::ask_replica(const std::string& node, uint32_t partition,
                                              uint64_t from, uint64_t to, bool scan_items,
                                              const ApiRequest& request, const Hop& hop) {
  if (node == deps_.cluster->self()) {
    co_return co_await check_replica(partition, from, to, scan_items);
  }
  const auto t = deps_.cluster->topology();
  const auto* address = t->address_of(node);
  if (!address) co_return json{{"node", node}, {"error", "no address known"}};
  routing::RouteDecision to_node;
  to_node.kind = routing::RouteDecision::Kind::Forward;
  to_node.node = node;
  to_node.peer_address = address->peer;
  const std::string method = "GET", body;
  std::string target = fmt::format("/admin/partitions/{}/check", partition);
  target += fmt::format("?items={}", scan_items);
  if (from <= to) target += fmt::format("&from={}&to={}", from, to);
  ApiResponse r =
      co_await router_.forward(to_node, method, target, body, hop, request.authorization);
  json j = json::parse(r.body, nullptr, false);
  if (r.status != 200 || !j.is_object() || !j.contains("state_digest")) {
    const std::string why = j.is_object() && j.contains("error")
                                ? j["error"].value("code", "error")
                                : fmt::format("status {}", r.status);
    co_return json{{"node", node}, {"error", why}};
  }
  co_return j;
}

asio::awaitable<ApiResponse> ApiService::validate(uint32_t partition, const ApiRequest& request,
                                                  const Hop& hop) {
  const auto t = deps_.cluster->topology();
  if (!t->ready()) {
    co_return ApiResponse::error(WebError::no_topology_yet());
  }
  const std::vector<std::string> replicas = t->replicas[partition];
  // First each replica's whole check, then the digest of the committed range
  // every one of them holds (a second pass over the logs only).
  uint64_t from = 1, to = UINT64_MAX;
  std::vector<json> reports;
  for (const auto& node : replicas) {
    reports.push_back(co_await ask_replica(node, partition, 1, 0, true, request, hop));
    const json& r = reports.back();
    if (r.contains("error")) continue;
    from = std::max(from, r["base_sequence"].get<uint64_t>() + 1);
    to = std::min(to, r["watermark"].get<uint64_t>());
  }
  for (auto& r : reports) {
    if (r.contains("error") || from > to) continue;
    const json logs = co_await ask_replica(r["node"], partition, from, to, false, request, hop);
    r["log_range"] = {from, to};
    r["log_digest"] = logs.contains("error") ? json(nullptr) : logs["log_digest"];
  }
  if (to == UINT64_MAX) to = 0;  // nobody answered
  std::vector<std::string> problems, notes;
  json compared = compare(reports, from, to, &problems, &notes);
  co_return ApiResponse::json(200, dump({{"partition", partition},
                                         {"consistent", problems.empty()},
                                         {"replicas", reports},
                                         {"compared", compared},
                                         {"problems", problems},
                                         {"notes", notes}}));
}

}  // namespace partid::api
