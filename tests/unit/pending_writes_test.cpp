// PendingWrites: each op of a client's write is answered once, the group's
// callback runs once with every answer, a deadline fails only what is still
// open, and too many writes in flight refuse a new group whole.
#include "partid/replication/pending_writes.h"

#include <gtest/gtest.h>

#include <functional>
#include <optional>

#include <boost/asio/io_context.hpp>

#include "support/run_loop.h"

namespace partid::replication {
namespace {

using namespace std::chrono_literals;

class PendingWritesTest : public ::testing::Test {
 protected:
  PendingWrites make(std::chrono::milliseconds timeout, size_t max_pending = 100) {
    return PendingWrites(loop.get_executor(), timeout, max_pending, alive);
  }
  // A callback that records the group's answers and how often it ran.
  PendingWrites::Done record() {
    return [this](std::vector<WriteResult> results) {
      ++calls;
      answers = std::move(results);
    };
  }
  // Runs the loop until `pred` holds or `budget` passes; true if it held.
  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds budget) {
    return parti::testing::run_until(loop, pred, budget);
  }

  boost::asio::io_context loop;
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  int calls = 0;
  std::vector<WriteResult> answers;
};

WriteResult ok(uint64_t seq) { return {true, seq, 7, {}, {}}; }

TEST_F(PendingWritesTest, AGroupIsAnsweredOnceItsLastOpIsInOpOrder) {
  auto writes = make(10s);
  auto slots = writes.open(3, record());
  ASSERT_EQ(slots.size(), 3u);
  EXPECT_EQ(writes.pending(), 3u);
  writes.complete(slots[2], ok(12));
  writes.complete(slots[0], {false, 0, 0, "not_leader", "elsewhere"});
  EXPECT_EQ(calls, 0);
  writes.complete(slots[1], ok(11));
  ASSERT_EQ(calls, 1);
  ASSERT_EQ(answers.size(), 3u);
  EXPECT_EQ(answers[0].code, "not_leader");
  EXPECT_EQ(answers[1].sequence, 11u);
  EXPECT_EQ(answers[2].sequence, 12u);
  EXPECT_EQ(writes.pending(), 0u);
  EXPECT_EQ(writes.committed(), 2u);
  EXPECT_EQ(writes.failed(), 1u);
}

TEST_F(PendingWritesTest, AnOpAnsweredTwiceKeepsItsFirstAnswer) {
  auto writes = make(10s);
  auto slots = writes.open(2, record());
  writes.complete(slots[0], ok(5));
  writes.complete(slots[0], {false, 0, 0, "leadership_lost", "late"});
  EXPECT_EQ(writes.pending(), 1u);
  writes.complete(slots[1], ok(6));
  writes.complete(slots[1], ok(99));
  ASSERT_EQ(calls, 1);
  EXPECT_TRUE(answers[0].ok);
  EXPECT_EQ(answers[1].sequence, 6u);
  EXPECT_EQ(writes.committed(), 2u);
  EXPECT_EQ(writes.failed(), 0u);
}

TEST_F(PendingWritesTest, TheDeadlineFailsOnlyTheOpsStillOpen) {
  auto writes = make(20ms);
  auto slots = writes.open(2, record());
  writes.complete(slots[0], ok(1));
  ASSERT_TRUE(run_until([&] { return calls > 0; }, 5s));
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(answers[0].ok);
  EXPECT_EQ(answers[1].code, "quorum_timeout");
  EXPECT_EQ(writes.pending(), 0u);
  writes.complete(slots[1], ok(2));  // the commit after the deadline says nothing more
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(writes.committed(), 1u);
}

TEST_F(PendingWritesTest, TooManyWritesInFlightRefuseANewGroupWhole) {
  auto writes = make(10s, 3);
  auto first = writes.open(2, [](std::vector<WriteResult>) {});
  ASSERT_EQ(first.size(), 2u);
  auto refused = writes.open(2, record());
  EXPECT_TRUE(refused.empty());
  ASSERT_EQ(calls, 1);
  for (const auto& answer : answers) EXPECT_EQ(answer.code, "overloaded");
  EXPECT_EQ(writes.pending(), 2u);  // the first group's, still open
  EXPECT_EQ(writes.open(1, [](std::vector<WriteResult>) {}).size(), 1u);
}

TEST_F(PendingWritesTest, NoDeadlineFiresOnceTheOwnerIsGone) {
  auto writes = make(1ms);
  auto slots = writes.open(1, record());
  *alive = false;
  bool fired = false;
  boost::asio::steady_timer later(loop, 50ms);
  later.async_wait([&](boost::system::error_code) { fired = true; });
  ASSERT_TRUE(run_until([&] { return fired; }, 5s));  // well past the 1-ms deadline
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(writes.pending(), 1u);
}

}  // namespace
}  // namespace partid::replication
