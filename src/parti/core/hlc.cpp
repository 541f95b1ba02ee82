#include "parti/core/hlc.h"

#include <algorithm>

namespace parti {

HlcTimestamp HybridLogicalClock::tick(int64_t wall_ms) {
  if (wall_ms > last_.physical_ms) {
    last_ = {wall_ms, 0};
  } else {
    ++last_.logical;
  }
  return last_;
}

HlcTimestamp HybridLogicalClock::merge(HlcTimestamp remote, int64_t wall_ms) {
  const int64_t physical = std::max({wall_ms, last_.physical_ms, remote.physical_ms});
  uint32_t logical = 0;
  if (physical == last_.physical_ms && physical == remote.physical_ms) {
    logical = std::max(last_.logical, remote.logical) + 1;
  } else if (physical == last_.physical_ms) {
    logical = last_.logical + 1;
  } else if (physical == remote.physical_ms) {
    logical = remote.logical + 1;
  }
  last_ = {physical, logical};
  return last_;
}

}  // namespace parti
