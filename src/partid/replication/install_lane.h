// replication: InstallLane keeps the order of snapshot installs beside the
// group commit's batches. An install (a change::ReplaceState: a partition's
// whole state, many megabytes on a replica being rebuilt) is written on its
// own, beside the batches, so that the node's other partitions keep
// committing, and acknowledging, while it lasts. Order is kept per partition:
// an install starts only once every batch cut before it was added is durable
// (a barrier, counted in batches), and what its partition adds meanwhile
// waits behind it (parked) and joins the batches once it is durable. One
// install is written at a time, in the order they were added: the disk pool
// keeps a thread for the batches.
// Pure bookkeeping; GroupCommit does the writing. Threading: the loop only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "partid/storage/store_engine.h"

namespace partid::replication {

// One add() of GroupCommit: a partition's changes and what runs once they
// are durable.
struct CommitStep {
  uint32_t partition = 0;
  std::vector<storage::ReplicaChange> changes;
  std::function<void()> after;
};

// True if the step replaces its partition's state (it goes to the lane).
bool installs_snapshot(const std::vector<storage::ReplicaChange>& changes);

class InstallLane {
 public:
  // True while `partition` has an install queued or being written: its next
  // steps must wait behind it (park()).
  bool holds(uint32_t partition) const { return partitions_.count(partition) > 0; }
  using Clock = std::chrono::steady_clock;
  // Queues an install that may be written once `barrier` batches are done.
  void queue(CommitStep install, uint64_t barrier, Clock::time_point now);
  // Keeps a step of a partition held by an install until that is durable.
  void park(CommitStep step);
  // The next install, if none is being written and the first queued one's
  // barrier is passed with `batches_done`; it is the one in flight until
  // finish().
  std::shared_ptr<CommitStep> start(uint64_t batches_done, Clock::time_point now);
  // How long the install in flight waited in the queue, and since when it is
  // being written.
  Clock::duration waited() const { return waited_; }
  Clock::time_point writing_since() const { return writing_since_; }
  // The install in flight is durable: returns its step and then the steps
  // parked behind it, in the order they were added, to be added again.
  std::vector<CommitStep> finish();
  bool writing() const { return in_flight_ != nullptr; }
  bool empty() const { return partitions_.empty(); }

 private:
  struct Queued {
    std::shared_ptr<CommitStep> install;
    uint64_t barrier = 0;
    Clock::time_point since;
  };
  std::deque<Queued> queue_;
  std::shared_ptr<CommitStep> in_flight_;
  Clock::duration waited_{};
  Clock::time_point writing_since_;
  // Per held partition, the steps parked behind its install.
  std::map<uint32_t, std::vector<CommitStep>> partitions_;
};

}  // namespace partid::replication
