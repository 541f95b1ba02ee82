#include "partid/routing/decide_routing.h"

#include <algorithm>

namespace partid::routing {
namespace {

RouteDecision fail(api::WebError e) {
  RouteDecision d;
  d.kind = RouteDecision::Kind::Fail;
  d.error = std::move(e);
  return d;
}

RouteDecision local() {
  RouteDecision d;
  d.kind = RouteDecision::Kind::Local;
  return d;
}

RouteDecision forward_to(const RoutingInput& in, const std::string& node) {
  const auto& tried = in.hop->tried;
  if (std::find(tried.begin(), tried.end(), node) != tried.end()) {
    return fail(api::WebError::unavailable(
        "routing_loop", "nodes disagree about who leads partition " + std::to_string(in.partition) +
                            " (topology changing); retry"));
  }
  if (in.hop->hops >= in.hop_limit) {
    return fail(api::WebError::unavailable("hop_limit", "request forwarded too many times"));
  }
  const NodeAddress* addr = in.topology->address_of(node);
  if (!addr || addr->peer.empty()) {
    return fail(api::WebError::unavailable(
        "leader_unreachable", "no address known for " + node + ", which leads " + "partition " +
                                  std::to_string(in.partition)));
  }
  RouteDecision d;
  d.kind = RouteDecision::Kind::Forward;
  d.node = node;
  d.peer_address = addr->peer;
  return d;
}

}  // namespace

RouteDecision decide_routing(const RoutingInput& in) {
  if (!in.topology->ready()) {
    return fail(api::WebError::unavailable("no_assignment", "this node has no assignment yet"));
  }
  const auto& replicas = in.topology->replicas[in.partition];
  const std::string& leader = replicas.front();
  const bool leads = leader == *in.self;
  switch (in.access) {
    case Access::Write:
      if (!leads) return forward_to(in, leader);
      if (in.locally_locked) return fail(api::WebError::partition_locked(in.partition));
      return local();
    case Access::Read:
      return leads ? local() : forward_to(in, leader);
    case Access::ReplicaRead:
      if (std::find(replicas.begin(), replicas.end(), *in.self) != replicas.end()) return local();
      return forward_to(in, leader);
  }
  return fail(api::WebError::internal("unknown access kind"));
}

}  // namespace partid::routing
