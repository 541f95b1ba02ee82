// Unit tests of ReplicaLog's byte accounting: the bytes a follower lacks, and
// the memory a hold keeps, are answered in constant time however the log was
// appended to, trimmed, truncated or reset.
#include <gtest/gtest.h>

#include "partid/replication/core/replica_log.h"

namespace partid::replication::core {
namespace {

// Appends entries after the log's last one with payloads of these sizes.
void append_sizes(ReplicaLog& log, std::initializer_list<size_t> sizes) {
  for (size_t size : sizes) {
    log.append(Entry{log.last().seq + 1, 1, false, std::string(size, 'x')});
  }
}

TEST(ReplicaLogBytesTest, CountsThePayloadsAfterAPosition) {
  ReplicaLog log;
  append_sizes(log, {10, 20, 30});
  EXPECT_EQ(log.payload_bytes_after(0), 60u);
  EXPECT_EQ(log.payload_bytes_after(1), 50u);
  EXPECT_EQ(log.payload_bytes_after(2), 30u);
  EXPECT_EQ(log.payload_bytes_after(3), 0u);
  EXPECT_EQ(log.payload_bytes_after(7), 0u);
}

// The memory a hold keeps counts each entry's own size as well: a log of
// small writes takes far more than its payloads.
TEST(ReplicaLogBytesTest, MemoryCountsEachEntryBesideItsPayload) {
  constexpr uint64_t kEach = ReplicaLog::kEntryOverhead;
  EXPECT_GE(kEach, sizeof(Entry));
  ReplicaLog log;
  append_sizes(log, {10, 20, 30, 40});
  EXPECT_EQ(log.memory_bytes_after(0), 100u + 4 * kEach);
  EXPECT_EQ(log.memory_bytes_after(2), 70u + 2 * kEach);
  EXPECT_EQ(log.memory_bytes_after(4), 0u);
  log.trim_through(2);
  EXPECT_EQ(log.memory_bytes_after(0), 70u + 2 * kEach) << "a position before the base";
  EXPECT_EQ(log.memory_bytes_after(3), 40u + kEach);
}

TEST(ReplicaLogBytesTest, AnEmptyLogHasNothingAfterAnyPosition) {
  ReplicaLog log;
  EXPECT_EQ(log.payload_bytes_after(0), 0u);
  log.reset({2, 40});
  EXPECT_EQ(log.payload_bytes_after(0), 0u);
  EXPECT_EQ(log.payload_bytes_after(40), 0u);
}

TEST(ReplicaLogBytesTest, AfterATrimAPositionBeforeTheBaseCountsEverythingHeld) {
  ReplicaLog log;
  append_sizes(log, {10, 20, 30, 40});
  log.trim_through(2);
  EXPECT_EQ(log.payload_bytes_after(0), 70u);
  EXPECT_EQ(log.payload_bytes_after(2), 70u);
  EXPECT_EQ(log.payload_bytes_after(3), 40u);
  append_sizes(log, {5});
  EXPECT_EQ(log.payload_bytes_after(1), 75u);
  EXPECT_EQ(log.payload_bytes_after(4), 5u);
}

TEST(ReplicaLogBytesTest, ATruncatedSuffixNoLongerCountsAndItsReplacementDoes) {
  ReplicaLog log;
  append_sizes(log, {10, 20, 30});
  log.truncate_after(1);
  EXPECT_EQ(log.payload_bytes_after(0), 10u);
  append_sizes(log, {7, 8});
  EXPECT_EQ(log.payload_bytes_after(0), 25u);
  EXPECT_EQ(log.payload_bytes_after(1), 15u);
  log.truncate_after(0);
  EXPECT_EQ(log.payload_bytes_after(0), 0u);
  append_sizes(log, {3});
  EXPECT_EQ(log.payload_bytes_after(0), 3u);
}

TEST(ReplicaLogBytesTest, AResetLogCountsOnlyWhatIsAppendedAfterIt) {
  ReplicaLog log;
  append_sizes(log, {10, 20});
  log.reset({1, 100});
  append_sizes(log, {4, 6});
  EXPECT_EQ(log.payload_bytes_after(50), 10u);
  EXPECT_EQ(log.payload_bytes_after(100), 10u);
  EXPECT_EQ(log.payload_bytes_after(101), 6u);
}

}  // namespace
}  // namespace partid::replication::core
