#include "partid/api/api_service.h"

#include "partid/api/forward_deadline.h"
#include "partid/api/hold.h"

#include "partid/async_bridge.h"

namespace partid::api {

using routing::Access;
using routing::RouteDecision;

ApiService::ApiService(ApiDeps deps, ApiOptions options)
    : deps_(deps),
      options_(options),
      router_(
          deps.cluster, deps.peers, deps.replicator, deps.metrics,
          {options.hop_limit, options.forward_timeout, options.max_relayed_bytes, options.hold}),
      locks_(deps.store, deps.replicator, deps.metrics, {options.hold, options.forward_timeout}),
      txns_(deps, options, router_, locks_) {}

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
    if (co_await router_.pauses().pause(pause)) {
      deps_.metrics->count("partid_held_retries_woken_total");
      backoff = 0;
    }
    response = co_await dispatch(request, route, hop);
  }
  co_return response;
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
      co_return co_await txns_.txn(request, hop);
    case K::TxnStatus:
      co_return co_await txns_.txn_status(request, route, hop);
    case K::TxnStep:
      co_return co_await txns_.txn_step(request, route, hop, false);
    case K::Split:
      co_return co_await reshape(request, routing::SplitPlan::Kind::Split);
    case K::Merge:
      co_return co_await reshape(request, routing::SplitPlan::Kind::Merge);
    case K::SplitImport:
      co_return co_await split_import(request, route, hop);
  }
  co_return ApiResponse::error(WebError::internal("unhandled route"));
}

}  // namespace partid::api
