// core: value types shared by every libparti module (partitions, workers, time).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace parti {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Millis = std::chrono::milliseconds;

// A unit of work or data. `id` is stable and unique within one partition set;
// `weight` is the relative cost used by weighted strategies (>= 1).
struct Partition {
  std::string id;
  uint32_t weight = 1;
  friend bool operator==(const Partition&, const Partition&) = default;
};

// A live worker as the leader sees it: its stable ID and its capacity weight,
// what the successor rule weighs when a partition's leader dies: when the
// process started and how far its copy of each partition has got (from its
// node record; see NodeRecord::progress), and whether it still moves data for
// the last assignment (its record's locked, importing or migrating sets are
// not empty), which holds planned rebalances back (the resize guard).
struct WorkerInfo {
  std::string id;
  uint32_t weight = 1;
  int64_t startup_ms = 0;
  std::map<uint32_t, uint64_t> progress;  // by partition index
  bool moving_data = false;
  bool reads_since = false;    // NodeRecord::reads_since
  bool avoid_leading = false;  // NodeRecord::avoid_leading
  // Partition indices it holds no copy of yet and is still taking in
  // (NodeRecord::importing_partitions): it should not lead them.
  std::set<uint32_t> importing{};
  friend bool operator==(const WorkerInfo&, const WorkerInfo&) = default;
};

// Milliseconds since the Unix epoch, used for timestamps that cross processes.
int64_t wall_clock_ms();

// A fresh random id for one process start (Config::instance_id).
std::string random_instance_id();

}  // namespace parti
