#include "partid/api/resize_eta.h"

namespace partid::api {

std::optional<ResizeEta> estimate_time_left(const ResizeLeft& since, const ResizeLeft& now) {
  // Progress means a replica moved on: fewer entries behind. The bytes alone
  // can shrink by noise (they include RocksDB's size estimate of the items a
  // snapshot will carry), which must not pass for a copy's pace.
  if (now.entries >= since.entries) return std::nullopt;
  const double elapsed = std::chrono::duration<double>(now.at - since.at).count();
  const bool in_bytes = now.bytes > 0;
  const uint64_t before = in_bytes ? since.bytes : since.entries;
  const uint64_t left = in_bytes ? now.bytes : now.entries;
  if (left == 0 || elapsed <= 0 || before <= left) return std::nullopt;
  const double rate = static_cast<double>(before - left) / elapsed;
  return ResizeEta{static_cast<double>(left) / rate, rate, in_bytes};
}

std::optional<ResizeEta> ResizeEtaTracker::observe(const ResizeLeft& now, bool done) {
  if (done) {
    baseline_.reset();
    return std::nullopt;
  }
  const bool grew = baseline_ && (now.bytes > baseline_->bytes ||
                                  (now.bytes == 0 && now.entries > baseline_->entries));
  if (!baseline_ || grew) {
    baseline_ = now;
    return std::nullopt;
  }
  return estimate_time_left(*baseline_, now);
}

}  // namespace partid::api
