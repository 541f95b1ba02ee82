#include "partid/api/request_router.h"

#include "partid/api/hold.h"
#include "partid/async_bridge.h"

namespace partid::api {

using routing::Access;
using routing::RouteDecision;

WebError write_error(const replication::WriteResult& r) {
  if (r.code == "quorum_timeout") return WebError::timeout(r.code, r.error);
  // Refusals of the transaction rules (storage/txn_apply.cpp): final for
  // this transaction, never a passing failure, so never a 503.
  if (r.code == "locked_by_transaction" || r.code == "txn_conflict" || r.code == "txn_decided" ||
      r.code == "txn_aborted" || r.code == "txn_expired" || r.code == "txn_unknown" ||
      r.code == "txn_condition_failed") {
    return WebError::conflict(r.code, r.error);
  }
  return WebError::unavailable(r.code, r.error);
}

uint32_t RequestRouter::partition_of(const std::string& partition_key) const {
  // Before the first topology there are no partitions; routing then answers
  // no_assignment for partition 0.
  const auto& topology = *cluster_->topology();
  return topology.partitions == 0 ? 0 : topology.partition_of(partition_key);
}

asio::awaitable<std::optional<ApiResponse>> RequestRouter::serve_elsewhere(
    uint32_t partition, Access access, const ApiRequest& request, const Hop& hop) {
  const RouteDecision d = route_for(partition, access, hop);
  if (d.kind == RouteDecision::Kind::Fail) co_return ApiResponse::error(d.error);
  if (d.kind == RouteDecision::Kind::Forward) {
    co_return co_await forward(d, request.method, request.target, request.body, hop);
  }
  co_return std::nullopt;
}

asio::awaitable<ApiResponse> RequestRouter::repeat_while_passing(
    std::function<asio::awaitable<ApiResponse>()> attempt, const char* retries_metric) {
  const auto deadline = std::chrono::steady_clock::now() + options_.hold;
  ApiResponse r = co_await attempt();
  for (unsigned backoff = 1; r.status == 503 || r.status == 504; ++backoff) {
    const auto pause = hold_pause(backoff);
    if (std::chrono::steady_clock::now() + pause > deadline) break;
    metrics_->count(retries_metric);
    if (co_await pauses_.pause(pause)) backoff = 0;  // as in dispatch_holding
    r = co_await attempt();
  }
  co_return r;
}

RouteDecision RequestRouter::route_for(uint32_t partition, Access access, const Hop& hop) const {
  const auto topo = cluster_->topology();
  routing::RoutingInput in;
  in.partition = partition;
  in.access = access;
  in.self = &cluster_->self();
  in.topology = topo.get();
  in.locally_locked = cluster_->locked(partition);
  in.hop = &hop;
  in.hop_limit = options_.hop_limit;
  return routing::decide_routing(in);
}

asio::awaitable<std::vector<replication::WriteResult>> RequestRouter::write_local(
    std::vector<storage::WriteOp> ops) {
  co_return co_await replication::replicate(replicator_, std::move(ops));
}

asio::awaitable<std::optional<ApiResponse>> RequestRouter::read_elsewhere(uint32_t partition,
                                                                          Access access,
                                                                          const ApiRequest& request,
                                                                          const Hop& hop) {
  if (auto elsewhere = co_await serve_elsewhere(partition, access, request, hop)) {
    co_return std::move(*elsewhere);
  }
  if (auto refusal = co_await read_refusal(partition, access)) {
    co_return ApiResponse::error(*refusal);
  }
  co_return std::nullopt;
}

asio::awaitable<std::optional<WebError>> RequestRouter::read_refusal(uint32_t partition,
                                                                     Access access) {
  replication::Replicator* replicator = replicator_;
  const bool ok = access == Access::ReplicaRead ? replicator->serves_replica_reads(partition)
                                                : replicator->serves_reads(partition);
  if (!ok) {
    if (access != Access::ReplicaRead) {
      if (auto lost = replicator->quorum_lost(partition)) {
        co_return WebError::unavailable("quorum_lost", *lost);
      }
    }
    co_return WebError::unavailable(
        "partition_not_ready",
        "partition " + std::to_string(partition) + " is changing hands here; retry shortly");
  }
  // RF 1 under load: a coroutine suspended and resumed through two posts
  // for an answer known now.
  if (access == Access::ReplicaRead || replicator->confirms_reads_alone(partition)) {
    co_return std::nullopt;
  }
  const bool confirmed =
      co_await await_callback<bool>([replicator, partition](std::function<void(bool)> done) {
        replicator->confirm_read(partition, std::move(done));
      });
  if (confirmed) co_return std::nullopt;
  co_return WebError::unavailable("leadership_unconfirmed",
                                  "could not confirm that this node still leads partition " +
                                      std::to_string(partition) + "; retry shortly");
}

}  // namespace partid::api
