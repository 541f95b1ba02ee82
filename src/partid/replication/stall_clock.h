// replication: StallClock, how long a replica has had work it cannot finish
// (seed 004's "stuck event detection"): entries beyond its watermark, a
// sealing not yet done, or a gap in its buffer, while its watermark does not
// move. Under steady writes the watermark keeps moving and the clock keeps
// restarting; it grows only while the replica is stuck. Pure logic, fed by
// the Replicator after every step (ticks included, so it never goes stale).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace partid::replication {

class StallClock {
 public:
  using Clock = std::chrono::steady_clock;

  void observe(bool pending, uint64_t watermark, Clock::time_point now) {
    if (!pending) {
      since_.reset();
    } else if (!since_ || watermark != watermark_) {
      since_ = now;  // work appeared, or the watermark moved: progress
    }
    watermark_ = watermark;
  }
  // 0 while nothing is pending.
  double stalled_seconds(Clock::time_point now) const {
    return since_ ? std::chrono::duration<double>(now - *since_).count() : 0.0;
  }

 private:
  std::optional<Clock::time_point> since_;
  uint64_t watermark_ = 0;
};

}  // namespace partid::replication
