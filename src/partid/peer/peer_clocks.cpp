#include "partid/peer/peer_clocks.h"

#include <algorithm>
#include <cstdlib>

namespace partid::peer {

ClockOffset estimate_offset(uint64_t sent_ms, uint64_t peer_ms, uint64_t received_ms) {
  const int64_t sent = static_cast<int64_t>(sent_ms);
  const int64_t received = std::max(sent, static_cast<int64_t>(received_ms));
  const int64_t middle = sent + (received - sent) / 2;
  return {static_cast<int64_t>(peer_ms) - middle, (received - sent + 1) / 2};
}

bool certainly_beyond(const ClockOffset& o, std::chrono::milliseconds limit) {
  return std::llabs(o.offset_ms) - o.uncertainty_ms > limit.count();
}

void PeerClocks::record(const std::string& peer, ClockOffset offset, Steady::time_point at) {
  measured_[peer] = {offset, at};
}

void PeerClocks::keep_only(const std::set<std::string>& peers) {
  std::erase_if(measured_, [&](const auto& kv) { return !peers.contains(kv.first); });
}

std::optional<ClockOffset> PeerClocks::offset(const std::string& peer,
                                              Steady::time_point now) const {
  auto it = measured_.find(peer);
  if (it == measured_.end()) return std::nullopt;
  const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(now - it->second.at);
  // Rounded up: a measurement a moment old is already a moment less certain.
  const int64_t drift = (std::max<int64_t>(0, age.count()) * kDriftPerSecond + 999) / 1000;
  ClockOffset o = it->second.offset;
  o.uncertainty_ms += drift;
  return o;
}

OnOurClock PeerClocks::on_our_clock(const std::string& peer, uint64_t peer_unix_ms,
                                    Steady::time_point now) const {
  const auto o = offset(peer, now);
  if (!o) return {peer_unix_ms, assumed_};
  const int64_t ours = static_cast<int64_t>(peer_unix_ms) - o->offset_ms;
  return {static_cast<uint64_t>(std::max<int64_t>(1, ours)),
          std::chrono::milliseconds(o->uncertainty_ms)};
}

std::chrono::milliseconds PeerClocks::ahead_at_most(const std::string& peer,
                                                    Steady::time_point now) const {
  const auto o = offset(peer, now);
  if (!o) return assumed_;
  return std::chrono::milliseconds(std::max<int64_t>(0, o->offset_ms + o->uncertainty_ms));
}

int64_t PeerClocks::largest_offset_ms() const {
  int64_t largest = 0;
  for (const auto& [peer, m] : measured_) {
    largest = std::max<int64_t>(largest, std::llabs(m.offset.offset_ms));
  }
  return largest;
}

}  // namespace partid::peer
