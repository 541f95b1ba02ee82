// api: what the API's parts are given: their options (from the node's
// configuration) and the node's components they use (pointers, owned by the
// Node, outliving them).
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "partid/api/cluster_view.h"
#include "partid/api/item_requests.h"
#include "partid/api/metrics.h"
#include "partid/peer/peer_client.h"
#include "partid/peer/peer_clocks.h"
#include "partid/peer/peer_server.h"
#include "partid/replication/replicator.h"
#include "partid/storage/store_engine.h"

namespace partid::api {

namespace asio = boost::asio;

struct ApiOptions {
  Limits limits;
  uint32_t hop_limit = 3;
  std::chrono::milliseconds forward_timeout{5000};
  size_t max_relayed_bytes = size_t{256} << 20;  // see NodeConfig::max_relayed_bytes
  size_t max_answer_bytes = size_t{256} << 20;   // see NodeConfig::max_answer_bytes
  std::chrono::milliseconds hold{0};             // see NodeConfig::hold_ms
  std::string admin_token;                       // empty: admin routes answer 403
  // A transaction's deadline is this long after it starts (NodeConfig).
  std::chrono::milliseconds txn_timeout{10000};
  // Its records and decision are kept this long past its deadline.
  std::chrono::milliseconds txn_retention{600000};
};

struct ApiDeps {
  asio::thread_pool* disk = nullptr;
  storage::StoreEngine* store = nullptr;
  replication::Replicator* replicator = nullptr;
  peer::PeerClient* peers = nullptr;
  const peer::PeerServer* peer_server = nullptr;  // for its counters; may be null
  // Reads a forward's deadline, set on its sender's clock, on this node's.
  // Must be set where forwards arrive (a Hop with a deadline).
  const peer::PeerClocks* clocks = nullptr;
  // Calls its second argument once the named node's clock is measured or
  // will not be soon (node::ClockProbe::when_measured); may be empty: a
  // forward from a node never measured is then judged on the assumed bound.
  std::function<void(const std::string&, std::function<void()>)> measure_clock;
  Metrics* metrics = nullptr;
  ClusterView* cluster = nullptr;
  // Starts this node's clean leave (Node::drain, then exit); may return first.
  std::function<void()> request_stop;
  // Reads and builds the answers too large to make on the loop (a listing
  // past kInlineAnswerBytes or kInlineAnswerItems), so neither the loop's
  // other requests nor the disk pool's writes wait for them. Must be set for
  // item listings.
  asio::thread_pool* bulk = nullptr;
};

}  // namespace partid::api
