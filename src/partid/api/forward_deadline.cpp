#include "partid/api/forward_deadline.h"

#include <algorithm>

namespace partid::api {

uint64_t unix_ms(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
  return static_cast<uint64_t>(std::max<int64_t>(0, ms.count()));
}

uint64_t forward_deadline(uint64_t now_ms, std::chrono::milliseconds timeout, uint64_t inherited) {
  const uint64_t own = now_ms + static_cast<uint64_t>(std::max<int64_t>(0, timeout.count()));
  return inherited == 0 ? own : std::min(own, inherited);
}

bool forward_expired(uint64_t deadline_ms, uint64_t now_ms, std::chrono::milliseconds margin) {
  if (deadline_ms == 0) return false;
  return now_ms > deadline_ms + static_cast<uint64_t>(std::max<int64_t>(0, margin.count()));
}

}  // namespace partid::api
