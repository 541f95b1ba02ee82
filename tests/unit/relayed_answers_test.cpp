// RelayedAnswers: an answer too large for a peer frame, kept for the asking
// node to pull in parts, within a byte budget, and forgotten when done or idle.
#include "partid/api/relayed_answers.h"

#include <gtest/gtest.h>

namespace partid::api {
namespace {

using namespace std::chrono_literals;
using Clock = RelayedAnswers::Clock;

RelayedAnswers::Options options(size_t part, size_t budget) {
  return {.part_bytes = part, .budget_bytes = budget, .idle = 30s};
}

TEST(RelayedAnswers, PartsFromEachOffsetRebuildTheAnswerAndTheLastOneForgetsIt) {
  RelayedAnswers relay(options(4, 100));
  const auto now = Clock::now();
  const uint64_t id = relay.keep("abcdefghij", now);
  ASSERT_NE(id, 0u);
  EXPECT_EQ(relay.kept_bytes(), 10u);
  std::string rebuilt;
  for (bool last = false; !last;) {
    auto part = relay.part(id, rebuilt.size(), now);
    ASSERT_TRUE(part);
    EXPECT_LE(part->data.size(), 4u);
    rebuilt += part->data;
    last = part->last;
  }
  EXPECT_EQ(rebuilt, "abcdefghij");
  EXPECT_EQ(relay.kept_answers(), 0u);
  EXPECT_EQ(relay.kept_bytes(), 0u);
  EXPECT_FALSE(relay.part(id, 0, now));
}

TEST(RelayedAnswers, APartAskedAgainIsServedAgainUntilTheLastIsHandedOut) {
  RelayedAnswers relay(options(4, 100));
  const auto now = Clock::now();
  const uint64_t id = relay.keep("abcdefgh", now);
  EXPECT_EQ(relay.part(id, 0, now)->data, "abcd");
  EXPECT_EQ(relay.part(id, 0, now)->data, "abcd");
  EXPECT_FALSE(relay.part(id, 8, now));  // past the end: nothing, and still kept
  EXPECT_EQ(relay.kept_answers(), 1u);
  auto last = relay.part(id, 4, now);
  ASSERT_TRUE(last);
  EXPECT_EQ(last->data, "efgh");
  EXPECT_TRUE(last->last);
  EXPECT_EQ(relay.kept_answers(), 0u);
}

TEST(RelayedAnswers, TheBudgetRefusesAnAnswerUntilAnIdleOneIsForgotten) {
  RelayedAnswers relay(options(4, 10));
  const auto t0 = Clock::now();
  const uint64_t first = relay.keep("12345678", t0);
  ASSERT_NE(first, 0u);
  EXPECT_EQ(relay.keep("abcdef", t0 + 29s), 0u);  // 14 bytes > 10, the first not yet idle
  EXPECT_EQ(relay.kept_bytes(), 8u);
  const uint64_t second = relay.keep("abcdef", t0 + 30s);  // the first went quiet
  ASSERT_NE(second, 0u);
  EXPECT_NE(second, first);
  EXPECT_FALSE(relay.part(first, 0, t0 + 30s));
  EXPECT_EQ(relay.kept_bytes(), 6u);
  EXPECT_EQ(relay.keep(std::string(11, 'x'), t0 + 90s), 0u);  // never fits
}

TEST(RelayedAnswers, AskingForAPartKeepsAnAnswerFromGoingQuiet) {
  RelayedAnswers relay(options(2, 100));
  const auto t0 = Clock::now();
  const uint64_t asked = relay.keep("aaaaaa", t0);
  const uint64_t left = relay.keep("bbbbbb", t0);
  ASSERT_TRUE(relay.part(asked, 0, t0 + 20s));
  relay.forget_idle(t0 + 40s);
  EXPECT_TRUE(relay.part(asked, 2, t0 + 40s));
  EXPECT_FALSE(relay.part(left, 0, t0 + 40s));
  EXPECT_EQ(relay.kept_bytes(), 6u);
}

TEST(RelayedAnswers, AnUnknownAnswerIsNothing) {
  RelayedAnswers relay(options(4, 100));
  EXPECT_FALSE(relay.part(0, 0, Clock::now()));
  EXPECT_FALSE(relay.part(12345, 0, Clock::now()));
}

}  // namespace
}  // namespace partid::api
