// tests: a partition source that can be made slow.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "parti/source/partition_source.h"

namespace parti::testing {

// A partition source whose list() blocks while it is held (as one backed by
// a slow database would), counting the calls that wait.
class HeldSource final : public PartitionSource {
 public:
  explicit HeldSource(std::vector<Partition> partitions) : partitions_(std::move(partitions)) {}
  std::vector<Partition> list() override {
    std::unique_lock lock(mu_);
    ++waiting_;
    cv_.wait(lock, [&] { return !held_; });
    --waiting_;
    return partitions_;
  }
  // From now on list() waits, then answers `next`.
  void hold(std::vector<Partition> next) {
    std::lock_guard lock(mu_);
    held_ = true;
    partitions_ = std::move(next);
  }
  void release() {
    std::lock_guard lock(mu_);
    held_ = false;
    cv_.notify_all();
  }
  int waiting() {
    std::lock_guard lock(mu_);
    return waiting_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Partition> partitions_;
  bool held_ = false;
  int waiting_ = 0;
};

// Releases its sources when it goes: a test declares it after the fleet, so
// that no Manager's stop() waits on a list() still held.
struct ReleaseOnExit {
  std::vector<std::shared_ptr<HeldSource>> sources;
  ~ReleaseOnExit() {
    for (auto& s : sources) s->release();
  }
};

}  // namespace parti::testing
