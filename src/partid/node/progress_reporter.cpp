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

void ProgressReporter::sample() {
  Sample next;
  for (const auto& s : replicator_->statuses()) {
    if (!s.active) continue;
    if (!s.rebuilding) next.progress[s.partition] = s.last;
    if (s.rebuilding) next.importing.insert(s.partition);
    if (!s.handoff.empty()) next.locked.insert(s.partition);
    if (s.follower_needs_snapshot()) next.migrating.insert(s.partition);
  }
  std::lock_guard lock(mu_);
  sample_ = std::move(next);
}

void ProgressReporter::fill(parti::NodeRecord& record) const {
  std::lock_guard lock(mu_);
  record.progress = sample_.progress;
  record.locked_partitions = sample_.locked;
  record.importing_partitions = sample_.importing;
  record.migrating_partitions = sample_.migrating;
}

}  // namespace partid::node
