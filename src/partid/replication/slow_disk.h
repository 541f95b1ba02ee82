// replication: SlowDiskJudge, whether this node's disk has been slow for long
// enough that it should stop leading (a gray failure: a disk that still
// answers, only slowly, fails no call and stalls nothing, yet every write to
// a partition this node leads waits for it; RF >= 3 lets a quorum commit
// around a slow follower, never around a slow leader). The node then asks
// libparti not to lead (NodeRecord::avoid_leading) and stays a replica.
//
// Samples are the storage writes' durations (GroupCommit): those of the last
// window (at most the last 1,024), or the last `min_samples` writes when the
// window holds fewer (a disk so slow that it completes few writes), and the
// write in flight once it has waited past the threshold. Slow: their median
// reaches the threshold, on at least `min_samples`. Fast again: that has not
// held for a whole window and the median is below half the threshold. One
// long write (a large snapshot installed) moves no median; without writes
// the judgment stays.
// Pure logic, on the loop.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>

namespace partid::replication {

struct SlowDiskOptions {
  std::chrono::milliseconds threshold{0};  // median write duration; 0: never slow
  std::chrono::milliseconds window{10000};
  size_t min_samples = 5;
};

class SlowDiskJudge {
 public:
  using Clock = std::chrono::steady_clock;

  explicit SlowDiskJudge(SlowDiskOptions options = {}) : options_(options) {}
  // A storage write that finished at `now` after `took`.
  void observe(Clock::duration took, Clock::time_point now);
  // Judges at `now`, with the write in flight waiting for `waiting` (zero:
  // none); the judgment, also kept for slow().
  bool judge(Clock::time_point now, Clock::duration waiting);
  bool slow() const { return slow_; }
  // The median of the last judgment's samples (zero: none).
  Clock::duration median() const { return median_; }

 private:
  struct Sample {
    Clock::time_point at;
    Clock::duration took;
  };
  SlowDiskOptions options_;
  std::deque<Sample> samples_;  // oldest first
  std::optional<Clock::time_point> last_slow_;
  Clock::duration median_{};
  bool slow_ = false;
};

}  // namespace partid::replication
