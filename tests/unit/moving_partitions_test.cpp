// What a node reports as data still moving (its record's locked, importing
// and migrating sets, which libparti's resize guard reads): a leader whose
// follower needs a snapshot or lacks much of the log is migrating, a follower
// that waits for data it asked for is importing; ordinary replication lag is
// neither.
#include <gtest/gtest.h>

#include "partid/node/progress_reporter.h"

namespace partid::node {
namespace {

replication::ReplicaStatus leading(uint32_t partition, uint64_t bytes_behind,
                                   bool needs_snapshot = false) {
  replication::ReplicaStatus s;
  s.partition = partition;
  s.active = true;
  s.role = replication::core::Role::leader;
  replication::FollowerStatus caught_up{"node-1", 100, 0, false, 0};
  replication::FollowerStatus other{"node-2", 0, bytes_behind, needs_snapshot, 0};
  s.followers = {caught_up, other};
  return s;
}

TEST(MovingPartitions, AFollowerFarBehindOrNeedingASnapshotMakesItsPartitionMigrating) {
  const auto moving = moving_partitions({leading(1, kFarBehindBytes + 1), leading(2, 0, true),
                                         leading(3, kFarBehindBytes), leading(4, 4096)});
  EXPECT_EQ(moving.migrating, (std::set<uint32_t>{1, 2}));
  EXPECT_TRUE(moving.importing.empty());
  EXPECT_TRUE(moving.locked.empty());
}

TEST(MovingPartitions, RebuildingReplicasAndFollowersWaitingForDataImportAndHeldAppointmentsLock) {
  auto rebuilding = leading(5, 0);
  rebuilding.role = replication::core::Role::follower;
  rebuilding.followers.clear();
  rebuilding.rebuilding = true;
  auto held = leading(6, 0);
  held.handoff = "draining";
  auto gone = leading(7, kFarBehindBytes * 4);
  gone.active = false;  // no longer one of its replicas: nothing of it counts
  auto waiting = rebuilding;
  waiting.partition = 8;
  waiting.rebuilding = false;
  waiting.waits_for_data = true;  // a follower asked for a snapshot or a catch-up
  auto current = waiting;
  current.partition = 9;
  current.waits_for_data = false;
  const auto moving = moving_partitions({rebuilding, held, gone, waiting, current});
  EXPECT_EQ(moving.importing, (std::set<uint32_t>{5, 8}));
  EXPECT_EQ(moving.locked, (std::set<uint32_t>{6}));
  EXPECT_TRUE(moving.migrating.empty());
}

}  // namespace
}  // namespace partid::node
