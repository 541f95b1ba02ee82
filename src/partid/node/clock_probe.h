// node: how far each peer's wall clock is from this node's. Forwards carry
// a deadline on their sender's clock (api/forward_deadline.h), which the
// receiver reads through the offset measured here (peer/peer_clocks.h)
// instead of assuming the clocks agree: the probe pings each node its
// topology names every interval, and a node it has not pinged yet within a
// tick (a node that joined: until it is measured, forwards with it are judged
// on the assumed bound). The Pong carries the peer's wall clock; the probe records
// the offset in PeerClocks, and forgets measurements three intervals old
// (a peer that stopped answering, or whose clock may have been stepped
// since). It reports the largest offset over the peers as a gauge
// (partid_peer_clock_offset_max_ms) and warns, once per peer until it comes
// back, when a peer's clock is certainly more than half of
// --max-clock-offset-ms away: the forwards stay right, but whatever else
// reads clocks across nodes (transaction deadlines) does not correct for it.
// The pings never count in a peer's circuit breaker (PeerClient::
// call_unjudged): they measure, and must not open a circuit that the
// forwards' own failures would not. Loop-owned.
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
#include "partid/peer/peer_clocks.h"
#include "partid/routing/topology.h"

namespace partid::node {

namespace asio = boost::asio;

class ClockProbe {
 public:
  using Topology = std::function<std::shared_ptr<const routing::Topology>()>;
  static constexpr std::chrono::milliseconds kTick{500};
  // `clocks` outlives the probe; its assumed bound is what the warning measures against.
  ClockProbe(asio::any_io_executor loop, peer::PeerClient& peers, peer::PeerClocks& clocks,
             api::Metrics& metrics, std::string self, Topology topology,
             std::chrono::milliseconds interval);
  ~ClockProbe() { stop(); }
  void start() { timer_.start(); }
  // Loop only; replies to pings in flight are ignored after it.
  void stop();

 private:
  void probe_due();
  void probe(const std::string& node, const std::string& address);
  void on_pong(const std::string& node, uint64_t sent_ms, const peer::PeerReply& reply);

  void report_largest();

  peer::PeerClient& peers_;
  peer::PeerClocks& clocks_;
  api::Metrics& metrics_;
  std::string self_;
  Topology topology_;
  std::chrono::milliseconds interval_;
  std::map<std::string, peer::PeerClocks::Steady::time_point> pinged_;  // last ping sent
  std::set<std::string> warned_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  parti::Periodic timer_;
};

}  // namespace partid::node
