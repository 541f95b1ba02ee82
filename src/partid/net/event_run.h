// net: a run of like events (failed accepts, refused connections) logged as
// two lines, the first event and, once the run ends, how many there were,
// instead of a line per event: a flood of them must not flood the log.
#pragma once

#include <cstdint>
#include <utility>

namespace partid::net {

class EventRun {
 public:
  // Counts one event; true for the first of a run (the caller logs it).
  bool add() { return count_++ == 0; }
  // Ends the run: how many events it had (0: none was under way).
  uint64_t end() { return std::exchange(count_, 0); }

 private:
  uint64_t count_ = 0;
};

}  // namespace partid::net
