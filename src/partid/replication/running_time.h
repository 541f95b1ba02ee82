// replication: RunningTime, the part of a wait during which this process was
// running. The disk watch (Replicator::watch_disk) judges a storage write
// stalled by how long it has waited; if the process itself was stopped
// (SIGSTOP, its machine paused) while a write was in flight, the first check
// after the resume can come before the write's completion reaches the loop,
// and the pause looked like a stalled disk: a soak saw a node stop itself
// so. A check far later than the one before says the process was not
// running in between; a wait counts only from then. A disk that is stalled
// is still judged, one whole limit after the resume. Pure logic.
#pragma once

#include <algorithm>
#include <chrono>

namespace partid::replication {

class RunningTime {
 public:
  using Clock = std::chrono::steady_clock;

  // A check more than `late_after` after the one before marks a pause.
  explicit RunningTime(Clock::duration late_after) : late_after_(late_after) {}

  // Called at every check: `waited`, cut to the time since the last pause.
  Clock::duration running_part(Clock::time_point now, Clock::duration waited) {
    if (checked_ && now - last_check_ > late_after_) {
      resumed_ = now;
      paused_ = true;
    }
    checked_ = true;
    last_check_ = now;
    return paused_ ? std::min(waited, now - resumed_) : waited;
  }

 private:
  Clock::duration late_after_;
  bool checked_ = false;
  bool paused_ = false;
  Clock::time_point last_check_{};
  Clock::time_point resumed_{};
};

}  // namespace partid::replication
