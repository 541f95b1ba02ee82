#include "partid/node/progress_reporter.h"

namespace partid::node {

ProgressReporter::ProgressReporter(asio::any_io_executor loop, std::chrono::milliseconds interval)
    : timer_(loop), interval_(interval) {}

void ProgressReporter::start(const replication::Replicator& replicator) {
  replicator_ = &replicator;
  sample();
  arm();
}

void ProgressReporter::stop() {
  *alive_ = false;
  timer_.cancel();
}

void ProgressReporter::arm() {
  timer_.expires_after(interval_);
  timer_.async_wait([this, alive = alive_](boost::system::error_code ec) {
    if (ec || !*alive) return;
    sample();
    arm();
  });
}

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
