// Wakeup: a wake that arrives while its loop is busy elsewhere is kept.
#include "parti/core/wakeup.h"

#include <gtest/gtest.h>

namespace parti {
using namespace std::chrono_literals;

namespace {

// Runs one sleep of `d` on `loop`; true when it returned within `budget`.
bool sleep_returns_within(asio::io_context& loop, Wakeup& w, std::chrono::milliseconds d,
                          std::chrono::milliseconds budget) {
  bool done = false;
  asio::co_spawn(
      loop,
      [&]() -> asio::awaitable<void> {
        co_await w.sleep(d);
        done = true;
      },
      asio::detached);
  loop.restart();
  loop.run_for(budget);
  return done;
}

}  // namespace

TEST(WakeupTest, AWakeBeforeTheSleepIsKeptAndEndsTheNextSleepAtOnce) {
  asio::io_context loop;
  Wakeup w(loop);
  w.wake();
  EXPECT_TRUE(sleep_returns_within(loop, w, 60s, 5s));
}

TEST(WakeupTest, AWakeIsUsedUpByTheSleepItEnded) {
  asio::io_context loop;
  Wakeup w(loop);
  w.wake();
  ASSERT_TRUE(sleep_returns_within(loop, w, 60s, 5s));
  EXPECT_FALSE(sleep_returns_within(loop, w, 60s, 100ms));  // nothing new: it sleeps
}

TEST(WakeupTest, AWakeDuringTheSleepEndsIt) {
  asio::io_context loop;
  Wakeup w(loop);
  asio::steady_timer later(loop, 20ms);
  later.async_wait([&](boost::system::error_code) { w.wake(); });
  EXPECT_TRUE(sleep_returns_within(loop, w, 60s, 5s));
}

TEST(WakeupTest, WithoutAWakeTheSleepLastsItsDuration) {
  asio::io_context loop;
  Wakeup w(loop);
  EXPECT_TRUE(sleep_returns_within(loop, w, 10ms, 5s));
}

}  // namespace parti
