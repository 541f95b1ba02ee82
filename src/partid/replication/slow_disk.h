// replication: SlowDiskJudge, whether this node's disk has been slow for long
// enough that it should stop leading (a gray failure: a disk that still
// answers, only slowly, fails no call and stalls nothing, yet every write to
// a partition this node leads waits for it; RF >= 3 lets a quorum commit
// around a slow follower, never around a slow leader). The node then asks
// libparti not to lead (NodeRecord::avoid_leading) and stays a replica.
//
// Evidence is the last `samples` commits' durations (GroupCommit's storage
// writes, one in flight at a time, so they follow each other; not those that
// install a snapshot, whose time says how fast the disk takes many megabytes:
// a node rebuilding large partitions is not slow), and the commit in flight
// once it has waited past the threshold. Slow: their median reaches the
// threshold, i.e. most of the last commits each took that long, which a disk
// does only once it has been slow for (samples + 1) / 2 x threshold (one
// long commit moves no median).
// Counted in writes, not over a time window: a disk that turns slow
// completes few writes, and a window would keep the many fast ones of before
// for as long as it lasts. Fast again: the median is below half the
// threshold and it was last judged slow `calm` ago or more (so an
// intermittently slow disk does not pass leaderships back and forth).
// Without writes the judgment stays. Pure logic, on the loop.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>

namespace partid::replication {

struct SlowDiskOptions {
  std::chrono::milliseconds threshold{0};  // median write duration; 0: never slow
  std::chrono::milliseconds calm{30000};   // fast again at the earliest this long after
  size_t samples = 9;
};

class SlowDiskJudge {
 public:
  using Clock = std::chrono::steady_clock;

  explicit SlowDiskJudge(SlowDiskOptions options = {}) : options_(options) {}
  // A storage write that finished after `took`.
  void observe(Clock::duration took);
  // Judges at `now`, with the write in flight waiting for `waiting` (zero:
  // none); the judgment, also kept for slow().
  bool judge(Clock::time_point now, Clock::duration waiting);
  bool slow() const { return slow_; }
  // The median of the last judgment's samples (zero: too few yet).
  Clock::duration median() const { return median_; }

 private:
  SlowDiskOptions options_;
  std::deque<Clock::duration> last_;  // the last `samples` writes, oldest first
  std::optional<Clock::time_point> last_slow_;
  Clock::duration median_{};
  bool slow_ = false;
};

}  // namespace partid::replication
