// api: which refusals the node a client reached retries on the client's
// behalf while a partition changes hands (DESIGN 4.3: "the receiving node
// holds the write briefly and forwards it once the partition opens, so clients
// see latency, not errors").
//
// Guarantee: a write is retried only after a refusal that proves nothing of
// it was done anywhere (no leader known or reachable before sending, the
// leader not ready or not the leader, a circuit open, or a split's refusal:
// its entry committed without effect). Refusals whose outcome
// is unknown (leadership_lost, quorum_timeout, forward_interrupted,
// forward_timeout) are never retried: a retry could apply a write twice or
// over a newer one. Reads have no effects, so any 503 is retried. A batch is
// retried only when it was refused whole, before any item was routed.
#pragma once

#include <chrono>
#include <string_view>

#include "partid/api/route.h"

namespace partid::api {

bool worth_holding(const Route& route, int status, std::string_view body);

// The pause before the n-th retry (n >= 1): 10 ms doubling to 160 ms, so a
// quick handover is caught quickly and a slow one is not hammered.
std::chrono::milliseconds hold_pause(unsigned retry);

}  // namespace partid::api
