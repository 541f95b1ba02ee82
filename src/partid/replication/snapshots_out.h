// replication: SnapshotsOut, the snapshots a leader has sent and waits to see
// installed. A follower installs a large snapshot for seconds after it has
// received it (a 200-MB one took 16 s on a loaded 2-core machine), and says
// nothing meanwhile: its acknowledgements wait behind the install's write.
// The core asks for a snapshot again while the follower is silent; the
// transfer's own settle window (FragmentSender) covers the sending, not the
// install, so a slow install used to cost a second build and transfer of
// the whole partition. A follower is given until it acknowledges past the
// snapshot's point, or a patience that grows with the snapshot's size (a
// follower that lost it, by a restart, waits that long for the next one; a
// transfer abandoned on the way ends the wait). Only snapshots sent as
// transfers in fragments are counted: a small one is cheap to send again.
// Pure logic; the Replicator asks it before building a snapshot.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

namespace partid::replication {

class SnapshotsOut {
 public:
  using Clock = std::chrono::steady_clock;

  // The floor and the rate behind patience(): a snapshot is parsed, decoded
  // and written on the follower at no less than 4 MiB/s, plus a minute.
  static constexpr std::chrono::seconds kMinPatience{60};
  static constexpr uint64_t kInstallBytesPerSecond = 4u << 20;
  static Clock::duration patience(uint64_t bytes);

  // A snapshot of `partition` through `point` of `bytes` went to `follower`.
  void sent(uint32_t partition, const std::string& follower, uint64_t point, uint64_t bytes,
            Clock::time_point now);
  // Whether `follower`, which matches the leader's log through `match`, may
  // still be installing the last snapshot of `partition` it was sent (no new
  // one should be built). Forgets a snapshot installed, past its patience, or
  // whose transfer was abandoned (`abandoned`: when the last transfer of
  // `partition` to `follower` was, if one was) after it was sent.
  bool installing(uint32_t partition, const std::string& follower, uint64_t match,
                  Clock::time_point now, std::optional<Clock::time_point> abandoned);
  void forget(uint32_t partition);

 private:
  struct Sent {
    uint64_t point = 0;
    Clock::time_point at, until;
  };
  std::map<std::pair<uint32_t, std::string>, Sent> sent_;
};

}  // namespace partid::replication
