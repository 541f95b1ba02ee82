#include "partid/node/progress_reporter.h"

namespace partid::node {

ProgressReporter::ProgressReporter(asio::any_io_executor loop, std::chrono::milliseconds interval)
    : sampler_(loop, interval, [this] { sample(); }) {}

void ProgressReporter::start(const replication::Replicator& replicator) {
  replicator_ = &replicator;
  sample();
  sampler_.start();
}

void ProgressReporter::stop() { sampler_.stop(); }

MovingPartitions moving_partitions(const std::vector<replication::ReplicaStatus>& statuses) {
  MovingPartitions out;
  for (const auto& s : statuses) {
    if (!s.active) continue;
    if (s.rebuilding || s.waits_for_data) out.importing.insert(s.partition);
    if (!s.handoff.empty()) out.locked.insert(s.partition);
    if (s.follower_far_behind(kFarBehindBytes)) out.migrating.insert(s.partition);
  }
  return out;
}

void ProgressReporter::sample() {
  Sample next;
  const auto statuses = replicator_->statuses();
  for (const auto& s : statuses) {
    if (s.active && !s.rebuilding) next.progress[s.partition] = s.last;
  }
  next.moving = moving_partitions(statuses);
  next.avoid_leading = replicator_->disk_slow();
  std::lock_guard lock(mu_);
  sample_ = std::move(next);
}

void ProgressReporter::fill(parti::NodeRecord& record) const {
  std::lock_guard lock(mu_);
  record.progress = sample_.progress;
  record.locked_partitions = sample_.moving.locked;
  record.importing_partitions = sample_.moving.importing;
  record.migrating_partitions = sample_.moving.migrating;
  record.avoid_leading = sample_.avoid_leading;
}

}  // namespace partid::node
