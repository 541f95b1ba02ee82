#include "partid/node/clock_probe.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

#include "partid/api/forward_deadline.h"

namespace partid::node {

ClockOffset estimate_offset(uint64_t sent_ms, uint64_t peer_ms, uint64_t received_ms) {
  const int64_t sent = static_cast<int64_t>(sent_ms);
  const int64_t received = std::max(sent, static_cast<int64_t>(received_ms));
  const int64_t middle = sent + (received - sent) / 2;
  return {static_cast<int64_t>(peer_ms) - middle, (received - sent + 1) / 2};
}

bool certainly_beyond(const ClockOffset& o, std::chrono::milliseconds limit) {
  return std::llabs(o.offset_ms) - o.uncertainty_ms > limit.count();
}

ClockProbe::ClockProbe(asio::any_io_executor loop, peer::PeerClient& peers, api::Metrics& metrics,
                       std::string self, Topology topology,
                       std::chrono::milliseconds max_clock_offset,
                       std::chrono::milliseconds interval)
    : peers_(peers),
      metrics_(metrics),
      self_(std::move(self)),
      topology_(std::move(topology)),
      max_clock_offset_(max_clock_offset),
      interval_(interval),
      timer_(loop, interval, [this] { probe_all(); }) {}

void ClockProbe::stop() {
  *alive_ = false;
  timer_.stop();
}

void ClockProbe::probe_all() {
  const auto t = topology_();
  std::set<std::string> named;
  for (const auto& set : t->replicas) named.insert(set.begin(), set.end());
  for (const auto& [id, address] : t->nodes) named.insert(id);
  for (const auto& node : named) {
    const routing::NodeAddress* address = t->address_of(node);
    if (node == self_ || !address || address->peer.empty()) continue;
    pb::Envelope ping;
    ping.mutable_ping();
    const uint64_t sent = api::unix_ms(std::chrono::system_clock::now());
    peers_.call_unjudged(address->peer, std::move(ping), interval_,
                         [this, alive = alive_, node, sent](peer::PeerReply reply) {
                           if (*alive) on_pong(node, sent, reply);
                         });
  }
  std::erase_if(offsets_, [&](const auto& kv) { return !named.contains(kv.first); });
}

void ClockProbe::on_pong(const std::string& node, uint64_t sent_ms, const peer::PeerReply& reply) {
  // A build from before the Pong carried a clock answers 0: nothing to learn.
  if (!reply.envelope || !reply.envelope->has_pong() || reply.envelope->pong().unix_ms() == 0) {
    return;
  }
  const ClockOffset o = estimate_offset(sent_ms, reply.envelope->pong().unix_ms(),
                                        api::unix_ms(std::chrono::system_clock::now()));
  offsets_[node] = o;
  int64_t largest = 0;
  for (const auto& [peer, offset] : offsets_) {
    largest = std::max<int64_t>(largest, std::llabs(offset.offset_ms));
  }
  metrics_.set_gauge("partid_peer_clock_offset_max_ms", static_cast<double>(largest));
  metrics_.count("partid_peer_clock_probes_total");
  if (certainly_beyond(o, max_clock_offset_ / 2)) {
    if (warned_.insert(node).second) {
      spdlog::warn(
          "{}'s clock is {} ms from ours (+-{} ms): past half of --max-clock-offset-ms ({} ms), "
          "so forwards between us may be refused as expired or served late; check NTP",
          node, o.offset_ms, o.uncertainty_ms, max_clock_offset_.count());
    }
  } else if (warned_.erase(node) > 0) {
    spdlog::info("{}'s clock is within {} ms of ours again", node, o.offset_ms);
  }
}

}  // namespace partid::node
