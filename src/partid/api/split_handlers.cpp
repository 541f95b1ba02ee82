// api: the split and merge routes (partid/split for the protocol). POST
// /cluster/split (/cluster/merge) records that the layout's next partition
// is to split (its last to merge back); the leader of that partition
// carries it out (split/split_driver.h) and copies the moving items to the
// target's leader through POST /split/{p}/import, which writes them through
// the target's log; a merge ends with ?adopt_above=, the target taking the
// merged keys over.
#include <boost/asio/steady_timer.hpp>

#include "partid/api/api_service.h"
#include "partid/api/hold.h"
#include "partid/async_bridge.h"
#include "partid/replication/wire.h"
#include "partid/storage/txn_space.h"
#include "partid/upgrade/formats.h"

namespace partid::api {

using json = nlohmann::json;

json layout_json(const routing::LayoutRecord& r) {
  json out = {{"base", r.layout.base}, {"count", r.layout.count}, {"partitions", r.partitions()}};
  if (r.split) {
    out["split"] = {{"kind", routing::kind_name(r.split->kind)},
                    {"source", r.split->source},
                    {"target", r.split->target},
                    {"phase", routing::phase_name(r.split->phase)}};
  }
  return out;
}

asio::awaitable<ApiResponse> ApiService::reshape(const ApiRequest& request,
                                                 routing::SplitPlan::Kind kind) {
  if (auto refused = admin_refusal(request, options_.admin_token))
    co_return ApiResponse::error(*refused);
  if (!deps_.cluster->topology()->ready())
    co_return ApiResponse::error(WebError::no_topology_yet());
  const bool merge = kind == routing::SplitPlan::Kind::Merge;
  // Named, not a co_await inside ?: (GCC 12 miscompiles that).
  const uint32_t needed = merge ? upgrade::kMergeFormat : upgrade::kSplitFormat;
  const char* what = merge ? "a merge needs" : "a split needs";
  if (auto refusal = co_await format_refusal(deps_.cluster, needed, what))
    co_return ApiResponse::error(*refusal);
  auto begun = co_await await_callback<std::variant<routing::LayoutRecord, std::string>>(
      [cluster = deps_.cluster, kind](auto done) { cluster->begin_split(kind, std::move(done)); });
  if (auto* why = std::get_if<std::string>(&begun)) {
    co_return ApiResponse::error(
        WebError::conflict(merge ? "merge_refused" : "split_refused", *why));
  }
  co_return ApiResponse::json(202, layout_json(std::get<routing::LayoutRecord>(begun)).dump());
}

namespace {

// Whether an item of a batch copied into `target` belongs there: a split
// copies the keys the layout after it sends to its target; a merge every
// key of its source, and the source's transaction records (its decisions
// must outlive it: the partitions they were prepared in may still ask).
bool goes_to(const routing::LayoutRecord& record, uint32_t target, const storage::Item& item) {
  const routing::SplitPlan& plan = *record.split;
  if (!plan.merge()) return record.layout.after_split().partition_of(item.partition_key) == target;
  if (storage::is_reserved_key(item.partition_key)) return storage::is_txn_record(item);
  return record.layout.partition_of(item.partition_key) == plan.source;
}

}  // namespace

std::variant<std::vector<storage::WriteOp>, WebError> ApiService::import_ops(
    const routing::LayoutRecord& record, uint32_t target, const std::string& body) const {
  auto items = replication::decode_snapshot(body);
  if (!items) return WebError::bad_request("bad_import", "not an import batch");
  std::vector<storage::WriteOp> ops;
  for (auto& item : *items) {
    if (item.tombstone) return WebError::bad_request("bad_import", "a copy holds no tombstones");
    if (!goes_to(record, target, item)) {
      return WebError::bad_request("wrong_partition", "item key " + item.partition_key +
                                                          " does not move to partition " +
                                                          std::to_string(target));
    }
    storage::WriteOp op;
    op.kind = storage::WriteOp::Kind::SplitImport;
    op.partition = target;
    op.partition_key = std::move(item.partition_key);
    op.range_key = std::move(item.range_key);
    op.message = std::move(item.message);
    op.import_version = item.version;
    ops.push_back(std::move(op));
  }
  return ops;
}

asio::awaitable<ApiResponse> ApiService::split_import(const ApiRequest& request, const Route& route,
                                                      const Hop& hop) {
  // From the source's leader (forwarded, or asking itself) or an operator
  // with the token: a client could otherwise write items with any version.
  if (hop.hops == 0) {
    if (auto refused = admin_refusal(request, options_.admin_token))
      co_return ApiResponse::error(*refused);
  }
  const auto topology = deps_.cluster->topology();
  const auto p = parse_u64(route.partition_key);
  const routing::LayoutRecord record = topology->layout;
  const auto& plan = record.split;
  if (!p || !plan || plan->target != *p || plan->phase != routing::SplitPlan::Phase::Copying) {
    co_return ApiResponse::error(WebError::unavailable(
        "not_splitting", "partition " + route.partition_key +
                             " is not the target of a split or merge being copied, as this "
                             "node knows"));
  }
  const auto target = static_cast<uint32_t>(*p);
  uint64_t above = 0;
  const bool adopting = route.query.contains("adopt_above");
  if (adopting && (!plan->merge() || !query_u64(route, "adopt_above", &above))) {
    co_return ApiResponse::error(
        WebError::bad_request("bad_adopt", "?adopt_above= takes a sequence, and only in a merge"));
  }
  auto ops = adopting ? std::vector<storage::WriteOp>{} : import_ops(record, target, request.body);
  if (auto* e = std::get_if<WebError>(&ops)) co_return ApiResponse::error(*e);
  if (auto elsewhere =
          co_await router_.serve_elsewhere(target, routing::Access::Write, request, hop)) {
    co_return std::move(*elsewhere);
  }
  if (adopting) co_return co_await adopt(record, target, above);
  auto& writes = std::get<std::vector<storage::WriteOp>>(ops);
  const size_t count = writes.size();
  auto results = co_await router_.write_local(std::move(writes));
  for (const auto& r : results) {
    if (!r.ok) co_return ApiResponse::error(write_error(r));
  }
  co_return ApiResponse::json(200, json{{"partition", target}, {"imported", count}}.dump());
}

asio::awaitable<ApiResponse> ApiService::adopt(const routing::LayoutRecord& record, uint32_t target,
                                               uint64_t above) {
  // The merged keys keep the versions they had in the source, up to `above`;
  // their next writes here must get larger sequences, or a condition read
  // from the source could hold again after two writes here. So the target's
  // log takes empty entries until it is past `above` (about as many as the
  // source took writes beyond the target since the split that made it),
  // a bounded number per round, then the adoption itself.
  constexpr uint64_t kMostPadsPerRound = 4096;
  std::optional<uint64_t> at;  // the target's sequence, once a write told it
  size_t pads = 0;
  for (;;) {
    // The first round is one pad, to learn where the target's log is.
    const uint64_t wanted = !at           ? 1
                            : *at > above ? 0
                                          : std::min(kMostPadsPerRound, above - *at + 1);
    std::vector<storage::WriteOp> ops(std::max<uint64_t>(wanted, 1));
    for (auto& op : ops) {
      op.partition = target;
      op.kind = storage::WriteOp::Kind::MergePad;
    }
    if (wanted == 0) {
      ops.front().kind = storage::WriteOp::Kind::MergeAdopt;
      ops.front().split_rule = {record.layout.after_merge(), target, true};
    }
    auto results = co_await router_.write_local(std::move(ops));
    for (const auto& r : results) {
      if (!r.ok) co_return ApiResponse::error(write_error(r));
      at = std::max(at.value_or(0), r.sequence);
    }
    if (wanted == 0) break;  // adopted, past `above`
    pads += results.size();
  }
  co_return ApiResponse::json(
      200, json{{"partition", target}, {"adopted_at", *at}, {"pads", pads}}.dump());
}

asio::awaitable<ApiResponse> ApiService::send_split_import(uint32_t target, std::string body,
                                                           std::optional<uint64_t> adopt_above) {
  std::string path = "/split/" + std::to_string(target) + "/import";
  if (adopt_above) path += "?adopt_above=" + std::to_string(*adopt_above);
  ApiRequest request{"POST", std::move(path), std::move(body), {}};
  auto matched = match_route(request.method, request.target);
  if (auto* e = std::get_if<WebError>(&matched)) co_return ApiResponse::error(*e);
  const Route& route = std::get<Route>(matched);
  // Trusted as a forwarded request is: it comes from this node.
  const Hop hop{1, {}};
  co_return co_await router_.repeat_while_passing([&] { return split_import(request, route, hop); },
                                                  "partid_split_import_retries_total");
}

}  // namespace partid::api
