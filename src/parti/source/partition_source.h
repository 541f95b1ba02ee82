// source: where a leader learns the partition set. A source may fail (throw);
// the leader then keeps the previous set and reports the error.
#pragma once

#include <mutex>
#include <vector>

#include "parti/core/types.h"

namespace parti {

class PartitionSource {
 public:
  virtual ~PartitionSource() = default;
  // Thread-safe; may block briefly; throws on failure.
  virtual std::vector<Partition> list() = 0;
};

// A fixed set that can be replaced at runtime (followed by refresh_partitions()).
class StaticPartitionSource final : public PartitionSource {
 public:
  explicit StaticPartitionSource(std::vector<Partition> partitions)
      : partitions_(std::move(partitions)) {}
  std::vector<Partition> list() override {
    std::lock_guard lock(mu_);
    return partitions_;
  }
  void update(std::vector<Partition> partitions) {
    std::lock_guard lock(mu_);
    partitions_ = std::move(partitions);
  }

 private:
  std::mutex mu_;
  std::vector<Partition> partitions_;
};

// "p-0" ... "p-<n-1>", weight 1: the common fixed-count case.
std::vector<Partition> numbered_partitions(uint32_t count, const std::string& prefix = "p-");

}  // namespace parti
