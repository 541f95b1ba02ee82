// FragmentAssembler: rebuilding a message sent in fragments, and refusing
// fragments that do not continue a transfer or exceed its limits.
#include "partid/replication/fragments.h"

#include <gtest/gtest.h>

namespace partid::replication {
namespace {

using namespace std::chrono_literals;
using Clock = FragmentAssembler::Clock;

pb::ReplFragment fragment(uint64_t transfer, uint32_t index, uint32_t count, std::string data,
                          std::string from = "node-a") {
  pb::ReplFragment f;
  f.set_from(std::move(from));
  f.set_transfer(transfer);
  f.set_index(index);
  f.set_count(count);
  f.set_data(std::move(data));
  return f;
}

TEST(FragmentAssembler, FragmentsInOrderGiveBackTheWholeMessageOnce) {
  FragmentAssembler a;
  const auto now = Clock::now();
  EXPECT_FALSE(a.add(fragment(7, 0, 3, "ab"), now).message);
  EXPECT_FALSE(a.add(fragment(7, 1, 3, "cd"), now).message);
  auto last = a.add(fragment(7, 2, 3, "e"), now);
  ASSERT_TRUE(last.accepted);
  EXPECT_EQ(last.message, "abcde");
  EXPECT_EQ(a.in_progress(), 0u);
  EXPECT_FALSE(a.add(fragment(7, 2, 3, "e"), now).accepted);  // a late duplicate
}

TEST(FragmentAssembler, ASingleFragmentIsAWholeMessage) {
  FragmentAssembler a;
  EXPECT_EQ(a.add(fragment(1, 0, 1, "all"), Clock::now()).message, "all");
  EXPECT_EQ(a.in_progress(), 0u);
}

TEST(FragmentAssembler, TransfersOfDifferentSendersDoNotMix) {
  FragmentAssembler a;
  const auto now = Clock::now();
  a.add(fragment(1, 0, 2, "a1", "a"), now);
  a.add(fragment(1, 0, 2, "b1", "b"), now);
  EXPECT_EQ(a.add(fragment(1, 1, 2, "b2", "b"), now).message, "b1b2");
  EXPECT_EQ(a.add(fragment(1, 1, 2, "a2", "a"), now).message, "a1a2");
}

TEST(FragmentAssembler, AGapOrAChangedCountDropsTheTransfer) {
  FragmentAssembler a;
  const auto now = Clock::now();
  a.add(fragment(1, 0, 3, "x"), now);
  auto skipped = a.add(fragment(1, 2, 3, "z"), now);
  EXPECT_FALSE(skipped.accepted);
  EXPECT_EQ(skipped.error, "fragment out of order");
  EXPECT_FALSE(a.add(fragment(1, 1, 3, "y"), now).accepted);  // gone with the gap
  a.add(fragment(2, 0, 3, "x"), now);
  EXPECT_FALSE(a.add(fragment(2, 1, 4, "y"), now).accepted);
  EXPECT_EQ(a.in_progress(), 0u);
}

TEST(FragmentAssembler, AFragmentOfAnUnknownTransferOrOutOfRangeIsRefused) {
  FragmentAssembler a;
  const auto now = Clock::now();
  EXPECT_EQ(a.add(fragment(9, 1, 2, "y"), now).error, "unknown transfer");
  EXPECT_EQ(a.add(fragment(9, 2, 2, "y"), now).error, "fragment index out of range");
  EXPECT_EQ(a.add(fragment(9, 0, 0, ""), now).error, "fragment index out of range");
}

TEST(FragmentAssembler, ATransferOverTheByteLimitIsDropped) {
  FragmentAssembler a(AssemblerLimits{5, 16, 30s});
  const auto now = Clock::now();
  EXPECT_TRUE(a.add(fragment(1, 0, 3, "abc"), now).accepted);
  EXPECT_EQ(a.add(fragment(1, 1, 3, "def"), now).error,
            "transfer too large for this node (--max-snapshot-mib)");
  EXPECT_EQ(a.in_progress(), 0u);
  EXPECT_EQ(a.add(fragment(2, 0, 1, "abcdef"), now).error,
            "transfer too large for this node (--max-snapshot-mib)");
}

TEST(FragmentAssembler, TooManyTransfersAtOnceAreRefusedUntilOneGoesQuiet) {
  FragmentAssembler a(AssemblerLimits{1 << 20, 2, 30s});
  const auto now = Clock::now();
  EXPECT_TRUE(a.add(fragment(1, 0, 2, "a"), now).accepted);
  EXPECT_TRUE(a.add(fragment(2, 0, 2, "b"), now + 20s).accepted);
  const auto third = a.add(fragment(3, 0, 2, "c"), now + 20s);
  EXPECT_EQ(third.error, "too many transfers");
  EXPECT_TRUE(third.busy) << "the sender should try again later, not give up";
  // Transfer 1 has been silent past the idle timeout: it is forgotten.
  EXPECT_TRUE(a.add(fragment(3, 0, 2, "c"), now + 31s).accepted);
  EXPECT_EQ(a.add(fragment(1, 1, 2, "a"), now + 31s).error, "unknown transfer");
  EXPECT_EQ(a.add(fragment(2, 1, 2, "b"), now + 31s).message, "bb");
}

// A transfer whose sender gave up after the last fragment anyone sent is
// forgotten by the owner's timer, not held (and counted in the receive
// budget) until some other transfer begins.
TEST(FragmentAssembler, AQuietTransferIsForgottenWithoutAnotherFragment) {
  AssemblerLimits limits;
  limits.idle_timeout = 30s;
  FragmentAssembler a(limits);
  const auto now = Clock::now();
  ASSERT_TRUE(a.add(fragment(1, 0, 3, std::string(1000, 'x')), now).accepted);
  ASSERT_TRUE(a.add(fragment(2, 0, 2, std::string(1000, 'y'), "node-b"), now + 20s).accepted);
  EXPECT_EQ(a.held_bytes(), 5000u);
  a.forget_idle(now + 29s);
  EXPECT_EQ(a.in_progress(), 2u) << "neither has been quiet for the timeout yet";
  a.forget_idle(now + 31s);
  EXPECT_EQ(a.in_progress(), 1u);
  EXPECT_EQ(a.held_bytes(), 2000u) << "the quiet one's count is released";
  EXPECT_EQ(a.add(fragment(1, 1, 3, "x"), now + 31s).error, "unknown transfer");
  EXPECT_TRUE(a.add(fragment(2, 1, 2, "y", "node-b"), now + 31s).message);
}

// The receive budget: a transfer starts only while what the node holds of
// the snapshots it receives is under the budget, or nothing is held; a
// completed transfer counts until whoever keeps its bytes drops its token.
TEST(FragmentAssembler, ATransferPastTheReceiveBudgetIsAnsweredBusyUntilRoomIsMade) {
  AssemblerLimits limits;
  limits.budget_bytes = 2500;
  FragmentAssembler a(limits);
  const auto now = Clock::now();
  const std::string kib(1000, 'x');
  // Three fragments of 1,000 bytes: 3,000 bytes expected, over the budget,
  // yet nothing is held, so it starts.
  ASSERT_TRUE(a.add(fragment(1, 0, 3, kib), now).accepted);
  EXPECT_EQ(a.held_bytes(), 3000u);
  auto second = a.add(fragment(2, 0, 2, kib, "node-b"), now);
  EXPECT_FALSE(second.accepted);
  EXPECT_TRUE(second.busy);
  EXPECT_NE(second.error.find("--snapshot-receive-budget-mib"), std::string::npos);
  EXPECT_EQ(a.in_progress(), 1u);
  a.add(fragment(1, 1, 3, kib), now);
  auto done = a.add(fragment(1, 2, 3, kib), now);
  ASSERT_TRUE(done.message);
  EXPECT_EQ(a.held_bytes(), 3000u) << "completed, its bytes are still kept";
  EXPECT_TRUE(a.add(fragment(2, 0, 2, kib, "node-b"), now).busy);
  done = {};  // installed: its bytes dropped
  EXPECT_EQ(a.held_bytes(), 0u);
  EXPECT_TRUE(a.add(fragment(2, 0, 2, kib, "node-b"), now).accepted);
  EXPECT_EQ(a.held_bytes(), 2000u);
  // Under the budget, another may start (what is held may pass it by one).
  EXPECT_TRUE(a.add(fragment(3, 0, 2, kib, "node-c"), now).accepted);
  EXPECT_TRUE(a.add(fragment(4, 0, 2, kib, "node-d"), now).busy);
  // A transfer forgotten (gone quiet) no longer counts.
  EXPECT_TRUE(a.add(fragment(4, 0, 2, kib, "node-d"), now + 31s).accepted);
  EXPECT_EQ(a.held_bytes(), 2000u);
}

TEST(FragmentAssembler, RestartingATransferReplacesWhatItHad) {
  FragmentAssembler a;
  const auto now = Clock::now();
  a.add(fragment(1, 0, 2, "old"), now);
  a.add(fragment(1, 0, 2, "new"), now);
  EXPECT_EQ(a.add(fragment(1, 1, 2, "!"), now).message, "new!");
}

}  // namespace
}  // namespace partid::replication
