#include "partid/api/refusals.h"

#include <fmt/format.h>

#include "partid/async_bridge.h"
#include "partid/peer/peer_auth.h"

namespace partid::api {

std::optional<WebError> admin_refusal(const ApiRequest& request, const std::string& admin_token) {
  if (admin_token.empty()) {
    return WebError::forbidden("admin operations are disabled on this node");
  }
  if (!peer::constant_time_equal("Bearer " + admin_token, request.authorization)) {
    return WebError::unauthorized("a valid admin token is required");
  }
  return std::nullopt;
}

std::optional<WebError> split_refusal(const storage::StoreEngine& store, uint32_t partition,
                                      const std::string& partition_key) {
  const auto meta = store.cached_partition_meta(partition);
  if (!meta || !meta->split.excludes(partition, partition_key)) return std::nullopt;
  if (meta->split.merging(partition)) {
    return WebError::unavailable("partition_merging", "partition " + std::to_string(partition) +
                                                          " is merging into partition " +
                                                          std::to_string(meta->split.target) +
                                                          "; retry shortly");
  }
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

std::optional<WebError> freezing_refusal(const routing::Topology& topology, uint32_t partition) {
  const auto& plan = topology.layout.split;
  if (!plan || plan->source != partition || plan->phase != routing::SplitPlan::Phase::Freezing) {
    return std::nullopt;
  }
  return WebError::unavailable(plan->merge() ? "partition_merging" : "partition_splitting",
                               "partition " + std::to_string(partition) +
                                   " is about to freeze for a " + routing::kind_name(plan->kind) +
                                   " into partition " + std::to_string(plan->target) +
                                   "; new transactions wait until it has; retry shortly");
}

asio::awaitable<std::optional<WebError>> format_refusal(ClusterView* cluster, uint32_t needed,
                                                        std::string what_needs) {
  if (cluster->writable_format() < needed) {
    // Every live node may read the format while the cluster has not
    // activated it yet (a new cluster's first moments): activated first, so
    // that no node of an older build can start once an entry of it exists.
    co_await await_callback<bool>([cluster](std::function<void(bool)> done) {
      cluster->raise_format([done] { done(true); });
    });
  }
  const uint32_t writable = cluster->writable_format();
  if (writable >= needed) co_return std::nullopt;
  co_return WebError::unavailable(
      "format_not_active",
      fmt::format("{} data format {} on every node, and this node may write "
                  "format {} now: a node runs an older build or --preserve-format, the "
                  "cluster has not activated the format yet, or this node has not heard "
                  "every worker's record (GET /cluster/status: data_format)",
                  what_needs, needed, writable));
}

}  // namespace partid::api
