// routing: where a request for one partition is served. Writes and default
// reads go to the partition's leader; a read that accepts replica data may be
// served by any replica (up to that replica's watermark). Forwarding never
// targets a node the request has already visited and stops at a hop limit, so
// nodes that briefly disagree about leadership answer 503 instead of looping.
// Pure: the seed's `decide_routing`, unit tested.
#pragma once

#include <string>

#include "partid/api/http_types.h"
#include "partid/api/web_error.h"
#include "partid/routing/topology.h"

namespace partid::routing {

enum class Access { Write, Read, ReplicaRead };

struct RouteDecision {
  enum class Kind { Local, Forward, Fail } kind = Kind::Fail;
  std::string node;          // Forward: the node to send it to
  std::string peer_address;  // Forward: where that node listens
  api::WebError error;       // Fail
};

struct RoutingInput {
  uint32_t partition = 0;
  Access access = Access::Read;
  const std::string* self = nullptr;
  const Topology* topology = nullptr;
  bool locally_locked = false;  // this node holds the partition's handoff lock
  const api::Hop* hop = nullptr;
  uint32_t hop_limit = 3;
};

RouteDecision decide_routing(const RoutingInput& in);

}  // namespace partid::routing
