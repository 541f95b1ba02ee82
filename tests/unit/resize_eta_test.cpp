// The resize's time left: the estimate, the baseline the node keeps between
// reports, and how partictl prints it.
#include "partid/api/resize_eta.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "partid/cli/output.h"

namespace partid::api {
namespace {

using namespace std::chrono_literals;
const auto t0 = std::chrono::steady_clock::time_point{} + 1h;

ResizeLeft left(std::chrono::milliseconds after, uint64_t bytes, uint64_t entries) {
  return {t0 + after, bytes, entries};
}

}  // namespace

TEST(ResizeEtaTest, BytesThatShrinkGiveTheirRateAndTheTimeLeft) {
  const auto eta = estimate_time_left(left(0ms, 10'000, 50), left(2000ms, 6'000, 40));
  ASSERT_TRUE(eta);
  EXPECT_TRUE(eta->in_bytes);
  EXPECT_DOUBLE_EQ(eta->per_second, 2'000);
  EXPECT_DOUBLE_EQ(eta->seconds, 3);
}

TEST(ResizeEtaTest, OnceNoBytesAreLeftTheEntriesCount) {
  const auto eta = estimate_time_left(left(0ms, 0, 90), left(3000ms, 0, 30));
  ASSERT_TRUE(eta);
  EXPECT_FALSE(eta->in_bytes);
  EXPECT_DOUBLE_EQ(eta->per_second, 20);
  EXPECT_DOUBLE_EQ(eta->seconds, 1.5);
}

TEST(ResizeEtaTest, NoEstimateWithoutProgressTimeOrAnythingLeft) {
  EXPECT_FALSE(estimate_time_left(left(0ms, 500, 5), left(1000ms, 500, 5)));  // stuck
  EXPECT_FALSE(estimate_time_left(left(0ms, 500, 5), left(1000ms, 700, 5)));  // growing
  EXPECT_FALSE(estimate_time_left(left(0ms, 500, 5), left(0ms, 100, 5)));     // no time
  EXPECT_FALSE(estimate_time_left(left(0ms, 500, 5), left(1000ms, 0, 0)));    // nothing left
}

// While a snapshot is due, the bytes include RocksDB's estimate of the items,
// which moves without any replica moving on.
TEST(ResizeEtaTest, BytesThatShrinkWhileNoEntryMovesAreNoise) {
  EXPECT_FALSE(estimate_time_left(left(0ms, 2'000, 40), left(1000ms, 1'700, 40)));
}

TEST(ResizeEtaTest, TheTrackerEstimatesFromTheFirstReportOfAResize) {
  ResizeEtaTracker tracker;
  EXPECT_FALSE(tracker.observe(left(0ms, 9'000, 9), false));  // the baseline
  const auto eta = tracker.observe(left(1000ms, 6'000, 6), false);
  ASSERT_TRUE(eta);
  EXPECT_DOUBLE_EQ(eta->seconds, 2);
  EXPECT_DOUBLE_EQ(tracker.observe(left(2000ms, 3'000, 3), false)->seconds, 1);
}

TEST(ResizeEtaTest, NewWorkOrTheEndOfAResizeStartsOver) {
  ResizeEtaTracker tracker;
  tracker.observe(left(0ms, 9'000, 9), false);
  EXPECT_FALSE(tracker.observe(left(1000ms, 12'000, 12), false));  // grew: a new baseline
  EXPECT_DOUBLE_EQ(tracker.observe(left(2000ms, 8'000, 8), false)->seconds, 2);
  EXPECT_FALSE(tracker.observe(left(3000ms, 0, 0), true));       // done
  EXPECT_FALSE(tracker.observe(left(4000ms, 5'000, 5), false));  // the next resize's baseline
  EXPECT_DOUBLE_EQ(tracker.observe(left(5000ms, 4'000, 4), false)->seconds, 4);
}

TEST(ResizeEtaTest, PartictlPrintsTheNodesEstimateWhenThereIsOne) {
  nlohmann::json j = {{"assignment_version", 7},
                      {"settled", 14},
                      {"partitions", 16},
                      {"entries_behind", 30},
                      {"bytes_behind", 6144},
                      {"done", false},
                      {"moving", nlohmann::json::array()}};
  EXPECT_EQ(cli::render_resize(j).find("s left"), std::string::npos);
  j["eta"] = {{"seconds", 3.0}, {"per_second", 2048.0}, {"unit", "bytes"}};
  EXPECT_NE(cli::render_resize(j).find("catching up 2.0 KiB/s: about 3 s left"), std::string::npos)
      << cli::render_resize(j);
  j["eta"] = {{"seconds", 1.5}, {"per_second", 20.0}, {"unit", "entries"}};
  EXPECT_NE(cli::render_resize(j).find("catching up 20 entries/s: about 2 s left"),
            std::string::npos)
      << cli::render_resize(j);
}

}  // namespace partid::api
