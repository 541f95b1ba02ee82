#include "partid/api/api_service.h"

#include "partid/api/forward_deadline.h"
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

ApiService::ApiService(ApiDeps deps, ApiOptions options)
    : deps_(deps),
      options_(options),
      locks_(deps.store, deps.replicator, deps.metrics, {options.hold, options.forward_timeout}) {}

uint32_t ApiService::partition_of(const std::string& partition_key) const {
  // Before the first topology there are no partitions; routing then answers
  // no_assignment for partition 0.
  const auto& topology = *deps_.cluster->topology();
  return topology.partitions == 0 ? 0 : topology.partition_of(partition_key);
}

asio::awaitable<std::optional<ApiResponse>> ApiService::serve_elsewhere(uint32_t partition,
                                                                        Access access,
                                                                        const ApiRequest& request,
                                                                        const Hop& hop) {
  const RouteDecision d = route_for(partition, access, hop);
  if (d.kind == RouteDecision::Kind::Fail) co_return ApiResponse::error(d.error);
  if (d.kind == RouteDecision::Kind::Forward) {
    co_return co_await forward(d, request.method, request.target, request.body, hop);
  }
  co_return std::nullopt;
}

// A forward's deadline is on the clock of the node that sent it (the last it
// tried): read on this node's, it becomes this node's, so the forwards it
// makes inherit it in the clock they are sent with. A sender never measured
// is measured first (a round trip, once per peer).
asio::awaitable<bool> ApiService::expired_on_arrival(Hop& hop) {
  if (hop.deadline_unix_ms == 0) co_return false;
  const std::string sender = hop.tried.empty() ? std::string() : hop.tried.back();
  const peer::PeerClocks* clocks = deps_.clocks;
  if (deps_.measure_clock && !sender.empty() &&
      !clocks->offset(sender, std::chrono::steady_clock::now())) {
    deps_.metrics->count("partid_forwards_awaiting_clock_total");
    const std::string* who = &sender;
    const auto* measure = &deps_.measure_clock;
    co_await await_callback<bool>([who, measure](std::function<void(bool)> done) {
      (*measure)(*who, [done] { done(true); });
    });
  }
  const peer::OnOurClock here =
      clocks->on_our_clock(sender, hop.deadline_unix_ms, std::chrono::steady_clock::now());
  hop.deadline_unix_ms = here.unix_ms;
  co_return forward_expired(here.unix_ms, unix_ms(std::chrono::system_clock::now()), here.margin);
}

asio::awaitable<ApiResponse> ApiService::handle(ApiRequest request, Hop hop) {
  const auto started = std::chrono::steady_clock::now();
  auto matched = match_route(request.method, request.target);
  ApiResponse response;
  std::string name = "unmatched";
  bool late = false;
  if (std::holds_alternative<Route>(matched)) late = co_await expired_on_arrival(hop);
  if (auto* e = std::get_if<WebError>(&matched)) {
    response = ApiResponse::error(*e);
  } else if (late) {
    name = route_name(std::get<Route>(matched).kind);
    deps_.metrics->count("partid_forwards_expired_total");
    response = ApiResponse::error(
        WebError::timeout("forward_expired",
                          "the node that forwarded this request stopped waiting for it before "
                          "it arrived; not served"));
  } else {
    const Route& route = std::get<Route>(matched);
    name = route_name(route.kind);
    try {
      response = co_await dispatch_holding(request, route, hop, started);
    } catch (const std::exception& ex) {
      // A bug must cost one request, never the node.
      response = ApiResponse::error(WebError::internal(ex.what()));
    }
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  deps_.metrics->record(name, response.status, took.count());
  co_return response;
}

// Only the node the client reached holds (hop 0): the nodes it forwards to
// answer at once, so a held request is never held twice over.
asio::awaitable<ApiResponse> ApiService::dispatch_holding(
    const ApiRequest& request, const Route& route, const Hop& hop,
    std::chrono::steady_clock::time_point started) {
  ApiResponse response = co_await dispatch(request, route, hop);
  if (hop.hops > 0 || options_.hold.count() == 0) co_return response;
  const auto deadline = started + options_.hold;
  // After a wake-up the pauses start short again: what changed may be the
  // first of several steps (a new topology, then the new leader's sealing).
  for (unsigned retry = 1, backoff = 1; worth_holding(route, response.status, response.body);
       ++retry, ++backoff) {
    const auto pause = hold_pause(backoff);
    if (std::chrono::steady_clock::now() + pause > deadline) break;
    if (retry == 1) deps_.metrics->count("partid_held_requests_total");
    deps_.metrics->count("partid_held_retries_total");
    if (co_await held_.pause(pause)) {
      deps_.metrics->count("partid_held_retries_woken_total");
      backoff = 0;
    }
    response = co_await dispatch(request, route, hop);
  }
  co_return response;
}

asio::awaitable<ApiResponse> ApiService::repeat_while_passing(
    std::function<asio::awaitable<ApiResponse>()> attempt, const char* retries_metric) {
  const auto deadline = std::chrono::steady_clock::now() + options_.hold;
  ApiResponse r = co_await attempt();
  for (unsigned backoff = 1; r.status == 503 || r.status == 504; ++backoff) {
    const auto pause = hold_pause(backoff);
    if (std::chrono::steady_clock::now() + pause > deadline) break;
    deps_.metrics->count(retries_metric);
    if (co_await held_.pause(pause)) backoff = 0;  // as in dispatch_holding
    r = co_await attempt();
  }
  co_return r;
}

asio::awaitable<ApiResponse> ApiService::dispatch(const ApiRequest& request, const Route& route,
                                                  const Hop& hop) {
  using K = Route::Kind;
  switch (route.kind) {
    case K::PutItem:
      co_return co_await put_item(request, hop);
    case K::PutBatch:
      co_return co_await put_batch(request, hop);
    case K::GetItems:
    case K::GetItem:
      co_return co_await get_items(request, route, hop);
    case K::DeleteItems:
    case K::DeleteItem:
      co_return co_await delete_items(request, route, hop);
    case K::Counts:
      co_return co_await counts(route, hop);
    case K::Topology:
      co_return topology();
    case K::Status:
      co_return status();
    case K::Resize:
      co_return co_await resize(route, hop);
    case K::Health:
      co_return health();
    case K::Metrics:
      co_return co_await metrics();
    case K::Dashboard:
      co_return dashboard();
    case K::Admin:
      co_return co_await admin(request, route);
    case K::AdminRead:
      co_return co_await admin_read(request, route, hop);
    case K::Drain:
      co_return co_await drain(request, route, hop);
    case K::Txn:
      co_return co_await txn(request, hop);
    case K::TxnStatus:
      co_return co_await txn_status(request, route, hop);
    case K::TxnStep:
      co_return co_await txn_step(request, route, hop, false);
    case K::Split:
      co_return co_await reshape(request, routing::SplitPlan::Kind::Split);
    case K::Merge:
      co_return co_await reshape(request, routing::SplitPlan::Kind::Merge);
    case K::SplitImport:
      co_return co_await split_import(request, route, hop);
  }
  co_return ApiResponse::error(WebError::internal("unhandled route"));
}

RouteDecision ApiService::route_for(uint32_t partition, Access access, const Hop& hop) const {
  const auto topo = deps_.cluster->topology();
  routing::RoutingInput in;
  in.partition = partition;
  in.access = access;
  in.self = &deps_.cluster->self();
  in.topology = topo.get();
  in.locally_locked = deps_.cluster->locked(partition);
  in.hop = &hop;
  in.hop_limit = options_.hop_limit;
  return routing::decide_routing(in);
}

asio::awaitable<std::vector<replication::WriteResult>> ApiService::write_local(
    std::vector<storage::WriteOp> ops) {
  co_return co_await replication::replicate(deps_.replicator, std::move(ops));
}

asio::awaitable<std::optional<WebError>> ApiService::read_refusal(uint32_t partition,
                                                                  Access access) {
  replication::Replicator* replicator = deps_.replicator;
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
