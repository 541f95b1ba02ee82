// peer: what this node knows of its peers' wall clocks. A forward carries the
// time its sender gives up, read on the sender's clock (api/forward_deadline.h);
// judged on the receiver's clock as it is, a deadline is off by the offset
// between the two clocks, so a node whose clock ran seconds ahead refused
// every forward as expired, and one whose clock ran behind served forwards
// long after their senders had answered 504. Node::ClockProbe measures each
// peer's offset (as NTP does, from the middle of a ping's round trip,
// uncertain by half of it) and records it here; a deadline is then read
// through the measurement, within its uncertainty, and the configured bound
// (--max-clock-offset-ms) stands in only for a peer never measured.
//
// A measurement's uncertainty grows with its age by kDriftPerSecond (clocks
// that NTP disciplines drift far less). It is kept while the peer cannot be
// reached, however long: the forwards that arrive from it then were sent
// before or during the cut, stamped by the clock that was measured (forgotten
// after 1.5 s, as first built, it left the soak's forwards after every cut
// judged on the bound against clocks seconds apart). A clock stepped since is
// measured again within a probe interval of the peer answering. Pure: the
// caller passes the time; loop-owned.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace partid::peer {

// A peer's clock minus ours.
struct ClockOffset {
  int64_t offset_ms = 0;
  int64_t uncertainty_ms = 0;  // the true offset is within offset_ms +- this
};

// The offset from one ping sent at `sent_ms` and answered at `received_ms`
// (our clock) by a peer that read `peer_ms` on its own.
ClockOffset estimate_offset(uint64_t sent_ms, uint64_t peer_ms, uint64_t received_ms);
// Whether the offset is beyond `limit` whatever the round trip hid.
bool certainly_beyond(const ClockOffset& o, std::chrono::milliseconds limit);

// A time a peer read on its clock, on ours, and how far off that may be.
struct OnOurClock {
  uint64_t unix_ms = 0;
  std::chrono::milliseconds margin{0};
};

class PeerClocks {
 public:
  using Steady = std::chrono::steady_clock;
  // 1 ms a second (1000 ppm): twice what NTP ever slews a clock by.
  static constexpr int64_t kDriftPerSecond = 1;

  // `assumed`: how far apart clocks may be when nothing was measured.
  explicit PeerClocks(std::chrono::milliseconds assumed) : assumed_(assumed) {}

  void record(const std::string& peer, ClockOffset offset, Steady::time_point at);
  // Drops the measurements of peers not in `peers`.
  void keep_only(const std::set<std::string>& peers);
  // The peer's offset now: its last measurement, less certain by its age.
  std::optional<ClockOffset> offset(const std::string& peer, Steady::time_point now) const;
  // `peer_unix_ms`, read on `peer`'s clock, on ours (never 0 for a nonzero time).
  OnOurClock on_our_clock(const std::string& peer, uint64_t peer_unix_ms,
                          Steady::time_point now) const;
  // How far ahead of ours the peer's clock may run now: its offset plus the
  // offset's uncertainty (0 for a clock behind ours), or the assumed bound
  // for a peer never measured.
  std::chrono::milliseconds ahead_at_most(const std::string& peer, Steady::time_point now) const;
  // The largest offset measured (its magnitude), 0 with none.
  int64_t largest_offset_ms() const;
  std::chrono::milliseconds assumed() const { return assumed_; }

 private:
  struct Measured {
    ClockOffset offset;
    Steady::time_point at;
  };
  std::chrono::milliseconds assumed_;
  std::map<std::string, Measured> measured_;
};

}  // namespace partid::peer
