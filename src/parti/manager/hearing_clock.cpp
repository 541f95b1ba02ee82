#include "parti/manager/hearing_clock.h"

namespace parti {

void HearingClock::on_connection(bool up, TimePoint now) {
  if (up && deaf_ && now >= since_ + rejoin_window_) since_ = now;
  deaf_ = !up;
}

std::optional<TimePoint> HearingClock::since() const {
  return deaf_ ? std::nullopt : std::optional<TimePoint>(since_);
}

}  // namespace parti
