// A starting node's patience with NATS (partid/node/startup_retry.h), on a
// clock of the test's own: every pause moves it on, none is slept.
#include "partid/node/startup_retry.h"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>

using namespace std::chrono_literals;
using parti::coord::CoordError;
using parti::coord::KvErrc;
using partid::node::StartupRetry;

namespace {

struct FakeTime {
  StartupRetry::Clock::time_point now{};
  int pauses = 0;
  StartupRetry::Hooks hooks() {
    return {[this] { return now; },
            [this](StartupRetry::Clock::duration d) {
              now += d;
              ++pauses;
            }};
  }
};

}  // namespace

TEST(StartupRetry, ATimeoutAndNoServerAreTriedAgainUntilTheStepSucceeds) {
  FakeTime time;
  StartupRetry retry(10s, 200ms, time.hooks());
  int calls = 0;
  const int value = retry.run("reading the data format", [&] {
    ++calls;
    if (calls == 1) throw CoordError("no server", KvErrc::Unavailable);
    if (calls == 2) throw CoordError("timed out", KvErrc::Timeout);
    return 7;
  });
  EXPECT_EQ(value, 7);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(time.pauses, 2);
  EXPECT_EQ(time.now.time_since_epoch(), 400ms);
}

TEST(StartupRetry, AnErrorThatWillNotPassEndsTheStartAtOnce) {
  FakeTime time;
  StartupRetry retry(10s, 200ms, time.hooks());
  int calls = 0;
  EXPECT_THROW(retry.run("connecting to NATS",
                         [&]() -> int {
                           ++calls;
                           throw CoordError("Authorization Violation", KvErrc::Other);
                         }),
               CoordError);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(time.pauses, 0);
}

TEST(StartupRetry, AnythingButACoordinationErrorIsNotRetried) {
  FakeTime time;
  StartupRetry retry(10s, 200ms, time.hooks());
  int calls = 0;
  EXPECT_THROW(retry.run("reading the layout",
                         [&]() -> int {
                           ++calls;
                           throw std::runtime_error("the layout record does not decode");
                         }),
               std::runtime_error);
  EXPECT_EQ(calls, 1);
}

TEST(StartupRetry, GivesUpAtTheDeadlineWithTheLastError) {
  FakeTime time;
  StartupRetry retry(1s, 200ms, time.hooks());
  int calls = 0;
  try {
    retry.run("connecting to NATS", [&]() -> int {
      ++calls;
      throw CoordError("no server " + std::to_string(calls), KvErrc::Unavailable);
    });
    FAIL() << "no error";
  } catch (const CoordError& e) {
    EXPECT_EQ(std::string(e.what()), "no server " + std::to_string(calls));
  }
  EXPECT_EQ(calls, 6);  // at 0, 200, ..., 1000 ms
  EXPECT_LE(time.now.time_since_epoch(), 1s);
}

TEST(StartupRetry, EveryStepSharesOneDeadline) {
  FakeTime time;
  StartupRetry retry(1s, 200ms, time.hooks());
  int first = 0;
  retry.run("opening the layout bucket", [&] {
    if (++first < 4) throw CoordError("timed out", KvErrc::Timeout);
    return 0;
  });
  ASSERT_EQ(time.now.time_since_epoch(), 600ms);
  int second = 0;
  EXPECT_THROW(retry.run("reading the layout",
                         [&]() -> int {
                           ++second;
                           throw CoordError("timed out", KvErrc::Timeout);
                         }),
               CoordError);
  EXPECT_EQ(second, 3);  // at 600, 800 and 1000 ms
}
