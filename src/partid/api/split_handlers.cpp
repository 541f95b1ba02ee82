// api: the split routes (partid/split for the protocol). POST /cluster/split
// records that the layout's next partition is to split; the leader of that
// partition carries it out (split/split_driver.h) and copies the moving
// items to the new partition's leader through POST /split/{p}/import, which
// writes them through the new partition's log.
#include <boost/asio/steady_timer.hpp>

#include "partid/api/api_service.h"
#include "partid/api/hold.h"
#include "partid/split/import_batch.h"
#include "partid/upgrade/formats.h"

namespace partid::api {

using json = nlohmann::json;

json layout_json(const routing::LayoutRecord& r) {
  json out = {{"base", r.layout.base}, {"count", r.layout.count}, {"partitions", r.partitions()}};
  if (r.split) {
    out["split"] = {{"source", r.split->source},
                    {"target", r.split->target},
                    {"phase", routing::phase_name(r.split->phase)}};
  }
  return out;
}

asio::awaitable<ApiResponse> ApiService::split(const ApiRequest& request) {
  if (auto refused = admin_refusal(request)) co_return ApiResponse::error(*refused);
  if (!deps_.cluster->topology()->ready())
    co_return ApiResponse::error(WebError::no_topology_yet());
  if (auto refusal = co_await format_refusal(upgrade::kSplitFormat, "a split needs")) {
    co_return ApiResponse::error(*refusal);
  }
  auto begun = co_await await_callback<std::variant<routing::LayoutRecord, std::string>>(
      [cluster = deps_.cluster](auto done) { cluster->begin_split(std::move(done)); });
  if (auto* why = std::get_if<std::string>(&begun)) {
    co_return ApiResponse::error(WebError::conflict("split_refused", *why));
  }
  co_return ApiResponse::json(202, layout_json(std::get<routing::LayoutRecord>(begun)).dump());
}

asio::awaitable<ApiResponse> ApiService::split_import(const ApiRequest& request, const Route& route,
                                                      const Hop& hop) {
  // From the source's leader (forwarded, or asking itself) or an operator
  // with the token: a client could otherwise write items with any version.
  if (hop.hops == 0) {
    if (auto refused = admin_refusal(request)) co_return ApiResponse::error(*refused);
  }
  const auto topology = deps_.cluster->topology();
  const auto p = parse_u64(route.partition_key);
  const auto& plan = topology->layout.split;
  if (!p || !plan || plan->target != *p || plan->phase != routing::SplitPlan::Phase::Copying) {
    co_return ApiResponse::error(WebError::unavailable(
        "not_splitting", "partition " + route.partition_key +
                             " is not the target of a split being copied, as this node knows"));
  }
  auto items = split::decode_import_batch(request.body);
  if (!items) {
    co_return ApiResponse::error(WebError::bad_request("bad_import", "not an import batch"));
  }
  const auto target = static_cast<uint32_t>(*p);
  const routing::Layout after = topology->layout.layout.after_split();
  std::vector<storage::WriteOp> ops;
  for (auto& item : *items) {
    if (after.partition_of(item.partition_key) != target) {
      co_return ApiResponse::error(WebError::bad_request(
          "wrong_partition",
          "item key " + item.partition_key + " does not move to partition " + route.partition_key));
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
  if (auto elsewhere = co_await serve_elsewhere(target, routing::Access::Write, request, hop)) {
    co_return std::move(*elsewhere);
  }
  const size_t count = ops.size();
  auto results = co_await write_local(std::move(ops));
  for (const auto& r : results) {
    if (!r.ok) co_return ApiResponse::error(write_error(r));
  }
  co_return ApiResponse::json(200, json{{"partition", target}, {"imported", count}}.dump());
}

asio::awaitable<ApiResponse> ApiService::send_split_import(uint32_t target, std::string body) {
  ApiRequest request{"POST", "/split/" + std::to_string(target) + "/import", std::move(body), {}};
  auto matched = match_route(request.method, request.target);
  if (auto* e = std::get_if<WebError>(&matched)) co_return ApiResponse::error(*e);
  const Route& route = std::get<Route>(matched);
  // Trusted as a forwarded request is: it comes from this node.
  const Hop hop{1, {}};
  const auto deadline = std::chrono::steady_clock::now() + options_.hold;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  ApiResponse r = co_await split_import(request, route, hop);
  for (unsigned retry = 1; r.status == 503 || r.status == 504; ++retry) {
    const auto pause = hold_pause(retry);
    if (std::chrono::steady_clock::now() + pause > deadline) break;
    timer.expires_after(pause);
    co_await timer.async_wait(asio::use_awaitable);
    r = co_await split_import(request, route, hop);
  }
  co_return r;
}

std::optional<WebError> ApiService::split_refusal(uint32_t partition,
                                                  const std::string& partition_key) const {
  const auto meta = deps_.store->cached_partition_meta(partition);
  if (!meta || !meta->split.excludes(partition, partition_key)) return std::nullopt;
  if (meta->split.moved) {
    return WebError::unavailable("partition_moved",
                                 "the partition key moved to partition " +
                                     std::to_string(meta->split.after.partition_of(partition_key)) +
                                     " in a split; retry once routing has caught up");
  }
  return WebError::unavailable("partition_splitting", "the partition key is moving to partition " +
                                                          std::to_string(meta->split.target) +
                                                          " in a split; retry shortly");
}

}  // namespace partid::api
