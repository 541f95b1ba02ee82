// node: tells libparti how far this node's replica of each partition has got
// (its last log sequence), for the successor rule that picks a dead leader's
// replacement among the survivors. The reporter samples the Replicator on the
// node's loop and keeps the figures for the Manager's heartbeat hook, which
// runs on the Manager's own loop; the two meet only at a mutex held for a map
// copy. The figures ride on heartbeats, so they are up to one heartbeat
// interval plus one sample old: good enough to pick the survivor with the
// least to adopt; sealing, not this, is what keeps acknowledged writes.
//
// The same samples fill the record's locked, importing and migrating sets,
// which the coordinator's resize guard reads (a planned rebalance waits while
// any node moves data; parti::WorkerInfo::moving_data): `locked`, partitions
// whose appointment this node holds for a handoff; `importing`, replicas here
// that are rebuilding or wait for data they asked their leader for (a
// snapshot or a catch-up: ReplicaCore::waits_for_data), which libparti then
// makes no leader (parti::keep_leaders_with_data); `migrating`, partitions this node
// leads with a follower that needs a snapshot or lacks more than
// kFarBehindBytes of the log: a replica that a staged move just added (a step
// of libparti's, parti/assignment/staging.h) catches up before the next step
// counts it towards a quorum or makes it the leader. Under a steady load a
// follower lacks far less: what is in flight.
//
// And the record's avoid_leading: this node's disk has been slow
// (replication::SlowDiskJudge), so the coordinator gives its leaderships to
// other replicas.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <set>

#include "parti/core/node_record.h"
#include "parti/core/periodic.h"
#include "partid/replication/replicator.h"

namespace partid::node {

namespace asio = boost::asio;

inline constexpr uint64_t kFarBehindBytes = 256u << 10;

// What this node is moving, from the replicator's statuses (see above).
struct MovingPartitions {
  std::set<uint32_t> locked, importing, migrating;
};
MovingPartitions moving_partitions(const std::vector<replication::ReplicaStatus>& statuses);

class ProgressReporter {
 public:
  ProgressReporter(asio::any_io_executor loop, std::chrono::milliseconds interval);
  // Loop only. Samples `replicator` now and every interval until stop().
  void start(const replication::Replicator& replicator);
  void stop();
  // Any thread (the Manager's heartbeat hook): the latest sample into `record`.
  void fill(parti::NodeRecord& record) const;

 private:
  void sample();

  parti::Periodic sampler_;
  const replication::Replicator* replicator_ = nullptr;
  mutable std::mutex mu_;
  struct Sample {
    std::map<uint32_t, uint64_t> progress;
    MovingPartitions moving;
    bool avoid_leading = false;  // the disk is slow (SlowDiskJudge)
  };
  Sample sample_;  // guarded by mu_
};

}  // namespace partid::node
