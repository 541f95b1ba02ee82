// The peer circuit breaker's state machine, with a hand-moved clock.
#include "partid/peer/circuit_breaker.h"

#include <gtest/gtest.h>

namespace partid::peer {
namespace {

using namespace std::chrono_literals;
using State = CircuitBreaker::State;

class CircuitBreakerTest : public ::testing::Test {
 protected:
  CircuitBreaker breaker{{3, 100ms, 350ms}};
  CircuitBreaker::Clock::time_point now{};
  void fail(int times) {
    for (int i = 0; i < times; ++i) {
      ASSERT_TRUE(breaker.allow(now));
      breaker.on_failure(now);
    }
  }
};

TEST_F(CircuitBreakerTest, OpensAfterConsecutiveFailuresOnly) {
  fail(2);
  breaker.on_success();  // not consecutive any more
  fail(2);
  EXPECT_EQ(breaker.state(), State::closed);
  fail(1);
  EXPECT_EQ(breaker.state(), State::open);
  EXPECT_FALSE(breaker.allow(now + 99ms));
  EXPECT_EQ(breaker.times_opened(), 1u);
}

TEST_F(CircuitBreakerTest, AfterTheCooldownOneProbeDecides) {
  fail(3);
  now += 100ms;
  EXPECT_TRUE(breaker.allow(now));  // the probe
  EXPECT_EQ(breaker.state(), State::half_open);
  EXPECT_FALSE(breaker.allow(now));  // only one at a time
  breaker.on_success();
  EXPECT_EQ(breaker.state(), State::closed);
  EXPECT_TRUE(breaker.allow(now));
}

TEST_F(CircuitBreakerTest, AFailedProbeReopensForLongerUpToTheMaximum) {
  fail(3);
  EXPECT_EQ(breaker.cooldown(), 100ms);
  for (auto expected : {200ms, 350ms, 350ms}) {
    now += breaker.cooldown();
    ASSERT_TRUE(breaker.allow(now));
    breaker.on_failure(now);
    EXPECT_EQ(breaker.state(), State::open);
    EXPECT_EQ(breaker.cooldown(), expected);
    EXPECT_FALSE(breaker.allow(now + expected - 1ms));
  }
  now += breaker.cooldown();
  ASSERT_TRUE(breaker.allow(now));
  breaker.on_success();  // closing forgets the backoff
  fail(3);
  EXPECT_EQ(breaker.cooldown(), 100ms);
}

TEST_F(CircuitBreakerTest, LateFailuresOfCallsFromBeforeItOpenedChangeNothing) {
  fail(3);
  breaker.on_failure(now);
  breaker.on_failure(now);
  EXPECT_EQ(breaker.cooldown(), 100ms);
  EXPECT_EQ(breaker.times_opened(), 1u);
}

}  // namespace
}  // namespace partid::peer
