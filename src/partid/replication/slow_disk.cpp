#include "partid/replication/slow_disk.h"

#include <algorithm>
#include <vector>

namespace partid::replication {

namespace {
constexpr size_t kMaxSamples = 1024;
}  // namespace

void SlowDiskJudge::observe(Clock::duration took, Clock::time_point now) {
  if (options_.threshold.count() <= 0) return;
  samples_.push_back({now, took});
  // The most recent writes are evidence enough: a busy node judges on them,
  // and each judgment stays a few microseconds.
  if (samples_.size() > kMaxSamples) samples_.pop_front();
}

bool SlowDiskJudge::judge(Clock::time_point now, Clock::duration waiting) {
  if (options_.threshold.count() <= 0) return false;
  while (samples_.size() > options_.min_samples && samples_.front().at + options_.window < now) {
    samples_.pop_front();
  }
  std::vector<Clock::duration> took;
  for (const auto& s : samples_) took.push_back(s.took);
  if (waiting >= options_.threshold) took.push_back(waiting);
  if (took.size() < std::max<size_t>(options_.min_samples, 1)) {
    median_ = {};
    return slow_;  // not evidence enough either way
  }
  auto mid = took.begin() + static_cast<std::ptrdiff_t>(took.size() / 2);
  std::nth_element(took.begin(), mid, took.end());
  median_ = *mid;
  if (median_ >= options_.threshold) {
    last_slow_ = now;
    slow_ = true;
  } else if (slow_ && median_ * 2 < options_.threshold && now - *last_slow_ >= options_.window) {
    slow_ = false;
  }
  return slow_;
}

}  // namespace partid::replication
