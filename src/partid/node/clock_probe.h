// node: how far each peer's wall clock is from this node's. Forwards carry
// a wall-clock deadline (api/forward_deadline.h) that holds only while the
// nodes' clocks are within --max-clock-offset-ms of each other, so the node
// measures it instead of assuming it: every interval it pings each node its
// topology names (the Pong carries the peer's wall clock) and estimates the
// offset as NTP does, from the middle of the round trip, uncertain by half
// the round trip. It reports the largest offset over the peers as a gauge
// (partid_peer_clock_offset_max_ms) and warns, once per peer until it comes
// back, when a peer's clock is certainly more than half the margin away.
// The pings never count in a peer's circuit breaker (PeerClient::
// call_unjudged): they measure, and must not open a circuit that the
// forwards' own failures would not. Loop-owned; the estimate is pure.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "parti/core/periodic.h"
#include "partid/api/metrics.h"
#include "partid/peer/peer_client.h"
#include "partid/routing/topology.h"

namespace partid::node {

namespace asio = boost::asio;

// A peer's clock minus ours, from a ping sent at `sent_ms` and answered at
// `received_ms` (our clock) by a peer that read `peer_ms` on its own.
struct ClockOffset {
  int64_t offset_ms = 0;
  int64_t uncertainty_ms = 0;  // half the round trip
};
ClockOffset estimate_offset(uint64_t sent_ms, uint64_t peer_ms, uint64_t received_ms);
// Whether the offset is beyond `limit` whatever the round trip hid.
bool certainly_beyond(const ClockOffset& o, std::chrono::milliseconds limit);

class ClockProbe {
 public:
  using Topology = std::function<std::shared_ptr<const routing::Topology>()>;
  ClockProbe(asio::any_io_executor loop, peer::PeerClient& peers, api::Metrics& metrics,
             std::string self, Topology topology, std::chrono::milliseconds max_clock_offset,
             std::chrono::milliseconds interval);
  ~ClockProbe() { stop(); }
  void start() { timer_.start(); }
  // Loop only; replies to pings in flight are ignored after it.
  void stop();

 private:
  void probe_all();
  void on_pong(const std::string& node, uint64_t sent_ms, const peer::PeerReply& reply);

  peer::PeerClient& peers_;
  api::Metrics& metrics_;
  std::string self_;
  Topology topology_;
  std::chrono::milliseconds max_clock_offset_, interval_;
  std::map<std::string, ClockOffset> offsets_;
  std::set<std::string> warned_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  parti::Periodic timer_;
};

}  // namespace partid::node
