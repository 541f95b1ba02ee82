// RunningTime: a wait counted only while the process ran (a pause of the
// whole process is not a stalled disk).
#include <gtest/gtest.h>

#include "partid/replication/running_time.h"

namespace partid::replication {
namespace {

using namespace std::chrono_literals;
using Clock = RunningTime::Clock;

TEST(RunningTimeTest, ChecksOnTimeCountTheWholeWait) {
  RunningTime running(1s);
  const Clock::time_point t0{};
  for (int i = 1; i <= 50; ++i) {
    EXPECT_EQ(running.running_part(t0 + i * 100ms, i * 100ms), i * 100ms);
  }
}

TEST(RunningTimeTest, AWaitCountsOnlyFromTheResumeAfterALateCheck) {
  RunningTime running(1s);
  const Clock::time_point t0{};
  EXPECT_EQ(running.running_part(t0 + 100ms, 100ms), 100ms);
  // The process was stopped for 5 s with the write in flight.
  EXPECT_EQ(running.running_part(t0 + 5100ms, 5100ms), 0ms);
  EXPECT_EQ(running.running_part(t0 + 5200ms, 5200ms), 100ms);
  // A disk that stays stalled is still judged by its running time.
  for (auto t = 5300ms; t < 8100ms; t += 100ms) running.running_part(t0 + t, t);
  EXPECT_EQ(running.running_part(t0 + 8100ms, 8100ms), 3000ms);
  // A write that began after the resume counts whole.
  EXPECT_EQ(running.running_part(t0 + 8200ms, 50ms), 50ms);
}

}  // namespace
}  // namespace partid::replication
