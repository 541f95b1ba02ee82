#include "partid/replication/snapshots_out.h"

namespace partid::replication {

SnapshotsOut::Clock::duration SnapshotsOut::patience(uint64_t bytes) {
  return kMinPatience + std::chrono::seconds(bytes / kInstallBytesPerSecond);
}

void SnapshotsOut::sent(uint32_t partition, const std::string& follower, uint64_t point,
                        uint64_t bytes, Clock::time_point now) {
  sent_[{partition, follower}] = Sent{point, now, now + patience(bytes)};
}

bool SnapshotsOut::installing(uint32_t partition, const std::string& follower, uint64_t match,
                              Clock::time_point now, std::optional<Clock::time_point> abandoned) {
  auto it = sent_.find({partition, follower});
  if (it == sent_.end()) return false;
  if (match >= it->second.point || now >= it->second.until ||
      (abandoned && *abandoned >= it->second.at)) {
    sent_.erase(it);
    return false;
  }
  return true;
}

void SnapshotsOut::forget(uint32_t partition) {
  std::erase_if(sent_, [&](const auto& kv) { return kv.first.first == partition; });
}

}  // namespace partid::replication
