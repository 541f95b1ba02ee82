// api: how long a resize has left (DESIGN 4.5's ETA), from how fast what is
// left shrank since a baseline: in bytes while any are left (they include
// snapshots, which entries do not count), in log entries otherwise. The
// tracker keeps the baseline of the resize in progress on the node asked, so
// any client polling GET /cluster/resize (partictl resize --wait, a
// dashboard) gets the estimate. Pure; ApiService owns one on its loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace partid::api {

struct ResizeLeft {
  std::chrono::steady_clock::time_point at;
  uint64_t bytes = 0;
  uint64_t entries = 0;
};

struct ResizeEta {
  double seconds = 0;     // left, at the rate so far
  double per_second = 0;  // bytes or entries a second
  bool in_bytes = true;
};

// Nothing until fewer entries are behind than at `since` (the bytes alone
// jitter: they include RocksDB's estimate of a snapshot's items), nor when no
// time passed or nothing is left.
std::optional<ResizeEta> estimate_time_left(const ResizeLeft& since, const ResizeLeft& now);

class ResizeEtaTracker {
 public:
  // The estimate from the baseline to `now`. The first report of a resize
  // becomes the baseline; so does one with more left than the baseline (new
  // work: another change, or writes outrunning the copy), and a done one
  // clears it.
  std::optional<ResizeEta> observe(const ResizeLeft& now, bool done);

 private:
  std::optional<ResizeLeft> baseline_;
};

}  // namespace partid::api
