// node: how far each peer's wall clock is from this node's. Forwards carry
// a deadline on their sender's clock (api/forward_deadline.h), which the
// receiver reads through the offset measured here (peer/peer_clocks.h)
// instead of assuming the clocks agree. The probe pings each node its
// topology names every interval; a node not pinged yet (one that joined) and
// one whose last ping went unanswered (back from a cut or a restart) sooner,
// within a tick. The Pong carries the peer's wall clock; the probe records the
// offset in PeerClocks, which keeps it until the node leaves the topology. A
// forward from a node never measured waits for its first measurement
// (when_measured) rather than be judged on the assumed bound: in a soak with
// clocks 3-6 s apart, the forwards of a node that had just joined or come
// back were otherwise refused as expired (31 in 159,000 writes).
//
// It reports the largest offset over the peers as a gauge
// (partid_peer_clock_offset_max_ms) and warns, once per peer until it comes
// back, when a peer's clock is certainly more than half of
// --max-clock-offset-ms away: forwards and transaction deadlines allow for
// the measured offsets, but the item versions each node stamps (HLCs, kept in
// order only within a partition) and the retention of old transactions still
// go by each node's own clock.
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
#include <vector>

#include <boost/asio/steady_timer.hpp>

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
  using Steady = peer::PeerClocks::Steady;
  static constexpr std::chrono::milliseconds kTick{100};
  // How soon a node whose ping went unanswered is pinged again.
  static constexpr std::chrono::milliseconds kRetry{500};
  // `clocks` outlives the probe; its assumed bound is what the warning measures against.
  ClockProbe(asio::any_io_executor loop, peer::PeerClient& peers, peer::PeerClocks& clocks,
             api::Metrics& metrics, std::string self, Topology topology,
             std::chrono::milliseconds interval);
  ~ClockProbe() { stop(); }
  // Pings the nodes known now at once.
  void start() {
    probe_due();
    timer_.start();
  }
  // Loop only; replies to pings in flight are ignored after it, and every
  // when_measured callback still waiting runs.
  void stop();
  // Runs `done` (on the loop, never inside this call) once `node` has been
  // measured, at once if it has been, or after `patience` if no measurement
  // came (the node is out of reach, unknown to the topology for that long,
  // or an older build whose Pong carries no clock). After a wait that ended
  // unmeasured, the waits for that node end at once for an interval: a node
  // that forwards but cannot be pinged (a wrong advertised address) would
  // otherwise hold every forward it sends for the patience.
  void when_measured(const std::string& node, std::chrono::milliseconds patience,
                     std::function<void()> done);

 private:
  struct Waiter {
    std::function<void()> done;
    asio::steady_timer timer;
  };
  void probe_due();
  void probe(const std::string& node, const std::string& address);
  void on_pong(const std::string& node, uint64_t sent_ms, const peer::PeerReply& reply);
  void release(const std::string& node);
  void note_if_unmeasured(const std::string& node);
  void release(const std::shared_ptr<Waiter>& waiter);
  void report_largest();

  asio::any_io_executor loop_;
  peer::PeerClient& peers_;
  peer::PeerClocks& clocks_;
  api::Metrics& metrics_;
  std::string self_;
  Topology topology_;
  std::chrono::milliseconds interval_;
  std::map<std::string, Steady::time_point> next_ping_;
  std::map<std::string, Steady::time_point> unmeasured_until_;  // see when_measured
  std::map<std::string, std::vector<std::shared_ptr<Waiter>>> waiting_;
  std::set<std::string> warned_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  parti::Periodic timer_;
};

}  // namespace partid::node
