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
  std::map<uint32_t, uint64_t> next;
  for (const auto& s : replicator_->statuses()) {
    if (s.active && !s.rebuilding) next[s.partition] = s.last;
  }
  std::lock_guard lock(mu_);
  progress_ = std::move(next);
}

void ProgressReporter::fill(parti::NodeRecord& record) const {
  std::lock_guard lock(mu_);
  record.progress = progress_;
}

}  // namespace partid::node
