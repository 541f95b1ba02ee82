#include "partid/replication/install_lane.h"

#include <algorithm>
#include <utility>

namespace partid::replication {

bool installs_snapshot(const std::vector<storage::ReplicaChange>& changes) {
  return std::any_of(changes.begin(), changes.end(), [](const auto& c) {
    return std::holds_alternative<storage::change::ReplaceState>(c);
  });
}

void InstallLane::queue(CommitStep install, uint64_t barrier, Clock::time_point now) {
  partitions_[install.partition];  // held from now on
  queue_.push_back({std::make_shared<CommitStep>(std::move(install)), barrier, now});
}

void InstallLane::park(CommitStep step) { partitions_[step.partition].push_back(std::move(step)); }

std::shared_ptr<CommitStep> InstallLane::start(uint64_t batches_done, Clock::time_point now) {
  if (in_flight_ || queue_.empty() || queue_.front().barrier > batches_done) return nullptr;
  in_flight_ = std::move(queue_.front().install);
  waited_ = now - queue_.front().since;
  writing_since_ = now;
  queue_.pop_front();
  return in_flight_;
}

std::vector<CommitStep> InstallLane::finish() {
  std::vector<CommitStep> out;
  if (!in_flight_) return out;
  const uint32_t partition = in_flight_->partition;
  out.push_back(std::move(*in_flight_));
  in_flight_.reset();
  auto it = partitions_.find(partition);
  for (auto& parked : it->second) out.push_back(std::move(parked));
  partitions_.erase(it);
  return out;
}

}  // namespace partid::replication
