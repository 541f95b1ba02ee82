// manager: since when this node has heard NATS, as the coordinator's
// calculator needs it (Calculator::on_hearing). A lost connection makes the
// node deaf; a comeback opens a rejoin window in which workers not heard yet
// are not counted lost. A comeback while the last window is still open opens
// no new one: a connection that flaps faster than the window would otherwise
// hold a dead worker's partitions for as long as it flaps.
#pragma once

#include <optional>

#include "parti/core/types.h"

namespace parti {

class HearingClock {
 public:
  HearingClock(TimePoint started, Millis rejoin_window)
      : since_(started), rejoin_window_(rejoin_window) {}

  void on_connection(bool up, TimePoint now);
  // When the node began hearing, as the calculator takes it; nullopt while deaf.
  std::optional<TimePoint> since() const;

 private:
  TimePoint since_;
  Millis rejoin_window_;
  bool deaf_ = false;
};

}  // namespace parti
