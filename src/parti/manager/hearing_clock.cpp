#include "parti/manager/hearing_clock.h"

#include <algorithm>

namespace parti {

bool HearingClock::on_write_accepted(TimePoint now) {
  if (!deaf_) return false;
  if (now >= since_ + rejoin_window_) opened_ = now;  // the last window has closed
  since_ = std::min(now, opened_ + rejoin_window_);
  deaf_ = false;
  return true;
}

std::optional<TimePoint> HearingClock::since() const {
  return deaf_ ? std::nullopt : std::optional<TimePoint>(since_);
}

}  // namespace parti
