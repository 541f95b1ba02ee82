// api: where a request for a partition runs, and how it gets there. Decides
// (routing/decide_routing) whether this node serves it, forwards it to the
// node that can (over the peer transport, with the hop limit and the tried
// set, pulling back an answer larger than a peer frame in parts), or
// refuses it; says whether this node may answer a read it was routed (a
// leader read first confirms this node still leads, so a deposed leader
// answers 503, never stale data); hands writes to the replicator; and
// repeats requests this node makes of the cluster while they fail in a way
// that passes, pausing as the hold does (pauses a new topology ends).
// Threading: loop only.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "parti/core/async.h"
#include "partid/api/cluster_view.h"
#include "partid/api/http_types.h"
#include "partid/api/metrics.h"
#include "partid/api/wakeable_pauses.h"
#include "partid/api/web_error.h"
#include "partid/peer/peer_client.h"
#include "partid/replication/replicator.h"
#include "partid/routing/decide_routing.h"

namespace partid::api {

namespace asio = boost::asio;

// The error a failed write is answered with (a refusal is a 409).
WebError write_error(const replication::WriteResult& r);

class RequestRouter {
 public:
  struct Options {
    uint32_t hop_limit = 3;
    std::chrono::milliseconds forward_timeout{5000};
    size_t max_relayed_bytes = size_t{256} << 20;
    std::chrono::milliseconds hold{0};
  };
  RequestRouter(ClusterView* cluster, peer::PeerClient* peers, replication::Replicator* replicator,
                Metrics* metrics, Options options)
      : cluster_(cluster),
        peers_(peers),
        replicator_(replicator),
        metrics_(metrics),
        options_(options) {}

  // The partition of a key in the current layout (0 before the first
  // topology, which routing then answers no_assignment for).
  uint32_t partition_of(const std::string& partition_key) const;
  routing::RouteDecision route_for(uint32_t partition, routing::Access access,
                                   const Hop& hop) const;
  // The answer when the request must not run here (routing failed, or the
  // node it was forwarded to answered it); nullopt when it runs here.
  asio::awaitable<std::optional<ApiResponse>> serve_elsewhere(uint32_t partition,
                                                              routing::Access access,
                                                              const ApiRequest& request,
                                                              const Hop& hop);
  // Sends the request to the node `to` names and brings its answer back
  // whole (api/forward.cpp); a failure of the call is answered as 503/504.
  asio::awaitable<ApiResponse> forward(const routing::RouteDecision& to, const std::string& method,
                                       const std::string& target, const std::string& body,
                                       const Hop& hop, const std::string& authorization = {});
  // For a read: the answer when this node must not answer it from its own
  // state (routed elsewhere, or this node cannot answer it now: a replica
  // changing hands, or a leader that could not confirm it still leads);
  // nullopt when it reads here.
  asio::awaitable<std::optional<ApiResponse>> read_elsewhere(uint32_t partition,
                                                             routing::Access access,
                                                             const ApiRequest& request,
                                                             const Hop& hop);
  // Replicates ops whose partitions this node leads.
  asio::awaitable<std::vector<replication::WriteResult>> write_local(
      std::vector<storage::WriteOp> ops);
  // Calls `attempt` until it answers neither 503 (no leader right now) nor
  // 504 (outcome unknown), pausing as the hold does, for up to --hold-ms;
  // for requests this node makes of the cluster whose repeat changes
  // nothing (a transaction's step, a copy into a split's target).
  asio::awaitable<ApiResponse> repeat_while_passing(
      std::function<asio::awaitable<ApiResponse>()> attempt, const char* retries_metric);
  // The pauses of held requests and of the requests repeated here: most of
  // what they wait for (a split's keys served by their new partition, a new
  // leader appointed) comes with a new topology, which ends them (wake()).
  // What often follows it (the new leader's sealing) announces nothing here,
  // so the pauses start short again after a wake-up. Topologies are rare
  // (one per assignment or layout change): a wake-up is no retry storm.
  WakeablePauses& pauses() { return pauses_; }

 private:
  // Why this node cannot answer a read it was routed, if it cannot.
  asio::awaitable<std::optional<WebError>> read_refusal(uint32_t partition, routing::Access access);
  // Pulls the parts after the first of an answer `from` keeps onto `body`;
  // an error answer when that fails.
  asio::awaitable<std::optional<ApiResponse>> pull_rest(const routing::RouteDecision& from,
                                                        uint64_t answer, uint64_t total_bytes,
                                                        std::string* body);

  ClusterView* cluster_;
  peer::PeerClient* peers_;
  replication::Replicator* replicator_;
  Metrics* metrics_;
  Options options_;
  WakeablePauses pauses_;
};

}  // namespace partid::api
