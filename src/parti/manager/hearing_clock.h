// manager: since when this node has heard NATS, as the coordinator's
// calculator needs it (Calculator::on_hearing). A lost connection makes the
// node deaf, and it hears again only once the server accepts one of its
// writes (its heartbeat): a connection that is back to a server still
// starting, whose KV writes time out, hears nothing yet, while the workers'
// own heartbeats fail as well. That comeback opens a rejoin window in which
// workers not heard yet are not counted lost (the process's start opens one
// too). A comeback while a window is open extends it to a whole window after
// the comeback, but never past two windows after the comeback that opened
// it: every comeback gives the workers a whole window to be heard again (an
// outage that began and ended within the start's window needs one as much
// as any), while a connection that flaps faster than the window cannot hold
// a dead worker's partitions for as long as it flaps.
#pragma once

#include <optional>

#include "parti/core/types.h"

namespace parti {

class HearingClock {
 public:
  HearingClock(TimePoint started, Millis rejoin_window)
      : since_(started), opened_(started), rejoin_window_(rejoin_window) {}

  // The connection went down. Its coming back is no input: hearing resumes
  // with on_write_accepted.
  void on_connection_lost() { deaf_ = true; }
  // The server accepted a write of this node's: true when that ended a
  // deafness (since() changed).
  bool on_write_accepted(TimePoint now);
  // When the node began hearing, as the calculator takes it; nullopt while deaf.
  std::optional<TimePoint> since() const;

 private:
  TimePoint since_;   // the window in force ends at since_ + rejoin_window_
  TimePoint opened_;  // the comeback (or start) that opened it
  Millis rejoin_window_;
  bool deaf_ = false;
};

}  // namespace parti
