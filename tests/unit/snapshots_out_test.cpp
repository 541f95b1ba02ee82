// The snapshots a leader waits to see installed: none is built again for a
// follower until it acknowledges past the last one's point, its patience
// (growing with the snapshot's size) runs out, or its transfer was abandoned.
#include "partid/replication/snapshots_out.h"

#include <gtest/gtest.h>

namespace partid::replication {
namespace {

using namespace std::chrono_literals;
using Clock = SnapshotsOut::Clock;

constexpr uint64_t kMiB = 1u << 20;

TEST(SnapshotsOut, AFollowerInstallsUntilItAcknowledgesPastTheSnapshotsPoint) {
  SnapshotsOut out;
  const Clock::time_point t0{};
  EXPECT_FALSE(out.installing(4, "b", 0, t0, std::nullopt)) << "nothing was sent";
  out.sent(4, "b", 100, 200 * kMiB, t0);
  EXPECT_TRUE(out.installing(4, "b", 0, t0 + 16s, std::nullopt));
  EXPECT_TRUE(out.installing(4, "b", 99, t0 + 20s, std::nullopt));
  EXPECT_FALSE(out.installing(4, "c", 0, t0 + 20s, std::nullopt)) << "another follower";
  EXPECT_FALSE(out.installing(5, "b", 0, t0 + 20s, std::nullopt)) << "another partition";
  EXPECT_FALSE(out.installing(4, "b", 100, t0 + 21s, std::nullopt)) << "installed";
  EXPECT_FALSE(out.installing(4, "b", 0, t0 + 22s, std::nullopt)) << "and forgotten";
}

TEST(SnapshotsOut, ThePatienceGrowsWithTheSnapshotsSize) {
  EXPECT_EQ(SnapshotsOut::patience(0), SnapshotsOut::kMinPatience);
  EXPECT_EQ(SnapshotsOut::patience(400 * kMiB), SnapshotsOut::kMinPatience + 100s);
  SnapshotsOut out;
  const Clock::time_point t0{};
  out.sent(1, "b", 10, 400 * kMiB, t0);
  EXPECT_TRUE(out.installing(1, "b", 0, t0 + 159s, std::nullopt));
  EXPECT_FALSE(out.installing(1, "b", 0, t0 + 160s, std::nullopt)) << "lost it: send again";
}

TEST(SnapshotsOut, ATransferAbandonedAfterTheSnapshotWasSentEndsTheWait) {
  SnapshotsOut out;
  const Clock::time_point t0 = Clock::time_point{} + 1h;
  out.sent(2, "b", 10, kMiB, t0);
  EXPECT_TRUE(out.installing(2, "b", 0, t0 + 1s, t0 - 5s)) << "an earlier transfer's";
  EXPECT_FALSE(out.installing(2, "b", 0, t0 + 2s, t0 + 1s));
}

TEST(SnapshotsOut, ForgettingAPartitionForgetsItsSnapshotsOnly) {
  SnapshotsOut out;
  const Clock::time_point t0{};
  out.sent(2, "b", 10, kMiB, t0);
  out.sent(3, "b", 10, kMiB, t0);
  out.forget(2);
  EXPECT_FALSE(out.installing(2, "b", 0, t0, std::nullopt));
  EXPECT_TRUE(out.installing(3, "b", 0, t0, std::nullopt));
}

}  // namespace
}  // namespace partid::replication
