#include "partid/node/clock_probe.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "partid/api/forward_deadline.h"

namespace partid::node {

ClockProbe::ClockProbe(asio::any_io_executor loop, peer::PeerClient& peers,
                       peer::PeerClocks& clocks, api::Metrics& metrics, std::string self,
                       Topology topology, std::chrono::milliseconds interval)
    : loop_(loop),
      peers_(peers),
      clocks_(clocks),
      metrics_(metrics),
      self_(std::move(self)),
      topology_(std::move(topology)),
      interval_(interval),
      timer_(loop, std::min(interval, kTick), [this] { probe_due(); }) {}

void ClockProbe::stop() {
  *alive_ = false;
  timer_.stop();
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& [node, waiters] : waiting) {
    for (auto& w : waiters) release(w);
  }
}

void ClockProbe::probe_due() {
  const auto t = topology_();
  std::set<std::string> named;
  for (const auto& set : t->replicas) named.insert(set.begin(), set.end());
  for (const auto& [id, address] : t->nodes) named.insert(id);
  const auto now = Steady::now();
  for (const auto& node : named) {
    const routing::NodeAddress* address = t->address_of(node);
    if (node == self_ || !address || address->peer.empty()) continue;
    auto next = next_ping_.find(node);
    if (next != next_ping_.end() && now < next->second) continue;
    next_ping_[node] = now + interval_;
    probe(node, address->peer);
  }
  std::erase_if(next_ping_, [&](const auto& kv) { return !named.contains(kv.first); });
  std::erase_if(unmeasured_until_, [&](const auto& kv) { return !named.contains(kv.first); });
  clocks_.keep_only(named);
  report_largest();
}

void ClockProbe::probe(const std::string& node, const std::string& address) {
  pb::Envelope ping;
  ping.mutable_ping();
  const uint64_t sent = api::unix_ms(std::chrono::system_clock::now());
  peers_.call_unjudged(address, std::move(ping), interval_,
                       [this, alive = alive_, node, sent](peer::PeerReply reply) {
                         if (!*alive) return;
                         if (!reply.envelope) {
                           auto next = next_ping_.find(node);
                           if (next != next_ping_.end()) next->second = Steady::now() + kRetry;
                         }
                         on_pong(node, sent, reply);
                         note_if_unmeasured(node);
                         release(node);
                       });
}

void ClockProbe::when_measured(const std::string& node, std::chrono::milliseconds patience,
                               std::function<void()> done) {
  const auto now = Steady::now();
  auto gave_up = unmeasured_until_.find(node);
  if (clocks_.offset(node, now) || !*alive_ ||
      (gave_up != unmeasured_until_.end() && now < gave_up->second)) {
    asio::post(loop_, std::move(done));
    return;
  }
  auto waiter = std::make_shared<Waiter>(Waiter{std::move(done), asio::steady_timer(loop_)});
  waiter->timer.expires_after(patience);
  waiter->timer.async_wait([this, alive = alive_, node, waiter](boost::system::error_code ec) {
    if (ec || !*alive) return;
    auto it = waiting_.find(node);
    if (it != waiting_.end()) {
      std::erase(it->second, waiter);
      if (it->second.empty()) waiting_.erase(it);
    }
    note_if_unmeasured(node);
    release(waiter);
  });
  const bool first = waiting_[node].empty();
  waiting_[node].push_back(waiter);
  // Asked now rather than at its next tick, if the topology has its address.
  const auto t = topology_();
  const routing::NodeAddress* address = t->address_of(node);
  if (first && address && !address->peer.empty()) {
    next_ping_[node] = Steady::now() + interval_;
    probe(node, address->peer);
  }
}

void ClockProbe::note_if_unmeasured(const std::string& node) {
  const auto now = Steady::now();
  if (clocks_.offset(node, now)) {
    unmeasured_until_.erase(node);
  } else {
    unmeasured_until_[node] = now + interval_;
  }
}

// Whatever the ping found: the waiters judge on what PeerClocks holds now.
void ClockProbe::release(const std::string& node) {
  auto it = waiting_.find(node);
  if (it == waiting_.end()) return;
  auto waiters = std::move(it->second);
  waiting_.erase(it);
  for (auto& w : waiters) release(w);
}

void ClockProbe::release(const std::shared_ptr<Waiter>& waiter) {
  if (!waiter->done) return;
  waiter->timer.cancel();
  asio::post(loop_, std::move(waiter->done));
  waiter->done = nullptr;
}

void ClockProbe::report_largest() {
  metrics_.set_gauge("partid_peer_clock_offset_max_ms",
                     static_cast<double>(clocks_.largest_offset_ms()));
}

void ClockProbe::on_pong(const std::string& node, uint64_t sent_ms, const peer::PeerReply& reply) {
  // A build from before the Pong carried a clock answers 0: nothing to learn.
  if (!reply.envelope || !reply.envelope->has_pong() || reply.envelope->pong().unix_ms() == 0) {
    return;
  }
  const peer::ClockOffset o = peer::estimate_offset(sent_ms, reply.envelope->pong().unix_ms(),
                                                    api::unix_ms(std::chrono::system_clock::now()));
  clocks_.record(node, o, peer::PeerClocks::Steady::now());
  report_largest();
  metrics_.count("partid_peer_clock_probes_total");
  const auto bound = clocks_.assumed();
  if (peer::certainly_beyond(o, bound / 2)) {
    if (warned_.insert(node).second) {
      spdlog::warn(
          "{}'s clock is {} ms from ours (+-{} ms): past half of --max-clock-offset-ms ({} ms); "
          "forwards and transaction deadlines between us allow for this measurement, but the "
          "item versions each of us stamps and the transactions' retention go by each node's "
          "own clock: check NTP",
          node, o.offset_ms, o.uncertainty_ms, bound.count());
    }
  } else if (warned_.erase(node) > 0) {
    spdlog::info("{}'s clock is within {} ms of ours again", node, o.offset_ms);
  }
}

}  // namespace partid::node
