#include "partid/replication/slow_disk.h"

#include <algorithm>
#include <vector>

namespace partid::replication {

void SlowDiskJudge::observe(Clock::duration took) {
  if (options_.threshold.count() <= 0) return;
  last_.push_back(took);
  if (last_.size() > options_.samples) last_.pop_front();
}

bool SlowDiskJudge::judge(Clock::time_point now, Clock::duration waiting) {
  if (options_.threshold.count() <= 0) return false;
  std::vector<Clock::duration> took(last_.begin(), last_.end());
  if (waiting >= options_.threshold) took.push_back(waiting);
  if (took.size() < std::max<size_t>(options_.samples, 1)) {
    median_ = {};
    return slow_;  // not evidence enough either way
  }
  auto mid = took.begin() + static_cast<std::ptrdiff_t>(took.size() / 2);
  std::nth_element(took.begin(), mid, took.end());
  median_ = *mid;
  if (median_ >= options_.threshold) {
    last_slow_ = now;
    slow_ = true;
  } else if (slow_ && median_ * 2 < options_.threshold && now - *last_slow_ >= options_.calm) {
    slow_ = false;
  }
  return slow_;
}

}  // namespace partid::replication
