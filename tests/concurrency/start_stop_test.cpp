// StartStop: a stop asked for from another thread ends whatever wait a
// starting node is in at once; await() returns as soon as its condition is
// made true and notified, and says when its patience ran out instead.
#include "partid/node/start_stop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "partid/node/startup_retry.h"

namespace partid::node {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(StartStopTest, AnAwaitReturnsOnceItsConditionIsNotified) {
  StartStop stop;
  std::atomic<bool> ready{false};
  std::thread other([&] {
    ready = true;
    stop.notify();
  });
  const auto began = Clock::now();
  EXPECT_TRUE(stop.await([&] { return ready.load(); }, 60s));
  EXPECT_LT(Clock::now() - began, 30s);  // not its patience
  other.join();
}

TEST(StartStopTest, AnAwaitWhoseConditionNeverHoldsSaysSoAfterItsPatience) {
  StartStop stop;
  const auto began = Clock::now();
  EXPECT_FALSE(stop.await([] { return false; }, 50ms));
  EXPECT_GE(Clock::now() - began, 50ms);
}

TEST(StartStopTest, AStopDuringAnAwaitEndsItAtOnce) {
  StartStop stop;
  std::atomic<bool> waiting{false};
  std::thread other([&] {
    while (!waiting) std::this_thread::yield();
    stop.request(15);
  });
  const auto began = Clock::now();
  EXPECT_THROW(stop.await(
                   [&] {
                     waiting = true;
                     return false;
                   },
                   60s),
               StartInterrupted);
  EXPECT_LT(Clock::now() - began, 30s);
  other.join();
}

TEST(StartStopTest, AStopAskedForBeforeAWaitEndsEveryLaterOne) {
  StartStop stop;
  stop.request(2);
  EXPECT_THROW(stop.await([] { return true; }, 60s), StartInterrupted);
  EXPECT_THROW(stop.pause(60s), StartInterrupted);
  EXPECT_THROW(stop.watch(nullptr), StartInterrupted);
  EXPECT_THROW(stop.forget(), StartInterrupted);
}

}  // namespace
}  // namespace partid::node
