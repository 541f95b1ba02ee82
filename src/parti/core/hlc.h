// core: hybrid logical clock. Orders node-record changes across nodes even when
// wall clocks disagree: a tick never goes backwards and a merge never goes below
// anything already seen.
#pragma once

#include <compare>
#include <cstdint>

namespace parti {

struct HlcTimestamp {
  int64_t physical_ms = 0;
  uint32_t logical = 0;
  friend auto operator<=>(const HlcTimestamp&, const HlcTimestamp&) = default;
};

class HybridLogicalClock {
 public:
  // Local event: returns a timestamp strictly greater than every previous one.
  HlcTimestamp tick(int64_t wall_ms);
  // Remote timestamp observed: returns a timestamp strictly greater than both
  // the local history and `remote`.
  HlcTimestamp merge(HlcTimestamp remote, int64_t wall_ms);
  HlcTimestamp last() const { return last_; }

 private:
  HlcTimestamp last_;
};

}  // namespace parti
