// The rules of rolling upgrades across data formats (upgrade/formats.h) and
// the lowest format among a topology's workers.
#include <gtest/gtest.h>

#include "partid/routing/topology.h"
#include "partid/upgrade/formats.h"

namespace partid::upgrade {
namespace {

TEST(UpgradeFormats, ANodePublishesItsBuildsFormatOrTheOneItPreserves) {
  EXPECT_EQ(published_format(3, 0), 3u);
  EXPECT_EQ(published_format(3, 2), 2u);
  EXPECT_EQ(published_format(3, 5), 3u);  // never more than it writes
}

TEST(UpgradeFormats, WhatANodeMayWriteIsWhatTheClusterActivatedAndEveryLiveNodeReads) {
  EXPECT_EQ(writable_format({.build = 3, .preserve = 0, .active = 3, .lowest_known = 3}), 3u);
  // Activated, but a node of an older build has joined since.
  EXPECT_EQ(writable_format({.build = 3, .preserve = 0, .active = 3, .lowest_known = 0}), 0u);
  // Every live node reads 3, the ratchet has not been raised yet.
  EXPECT_EQ(writable_format({.build = 3, .preserve = 0, .active = 2, .lowest_known = 3}), 2u);
  // This node preserves 2 (its own record may not be seen yet).
  EXPECT_EQ(writable_format({.build = 3, .preserve = 2, .active = 3, .lowest_known = 3}), 2u);
  // The records lost with NATS (none live), each last seen at 3: still 3.
  EXPECT_EQ(writable_format({.build = 3, .active = 3, .lowest_live = 0, .lowest_known = 3}), 3u);
}

TEST(UpgradeFormats, TheRatchetRisesToWhatEveryLiveNodeReadsAndNeverFalls) {
  EXPECT_EQ(raise_target({.build = 3, .preserve = 0, .active = 0, .lowest_live = 3}), 3u);
  EXPECT_EQ(raise_target({.build = 3, .preserve = 0, .active = 0, .lowest_live = 2}), 2u);
  EXPECT_EQ(raise_target({.build = 3, .preserve = 2, .active = 0, .lowest_live = 3}), 2u);
  EXPECT_FALSE(raise_target({.build = 3, .preserve = 0, .active = 3, .lowest_live = 3}));
  EXPECT_FALSE(raise_target({.build = 3, .preserve = 0, .active = 3, .lowest_live = 0}));
  EXPECT_FALSE(raise_target({.build = 3, .preserve = 0, .active = 0, .lowest_live = 0}));
}

TEST(UpgradeFormats, ANodeRefusesToStartBelowTheActiveFormat) {
  EXPECT_FALSE(start_refusal(3, 0, 0));
  EXPECT_FALSE(start_refusal(3, 0, 3));
  EXPECT_FALSE(start_refusal(3, 2, 2));
  auto older = start_refusal(3, 0, 4);
  ASSERT_TRUE(older);
  EXPECT_NE(older->find("active data format is 4"), std::string::npos) << *older;
  auto preserving = start_refusal(3, 2, 3);
  ASSERT_TRUE(preserving);
  EXPECT_NE(preserving->find("--preserve-format 2"), std::string::npos) << *preserving;
}

TEST(UpgradeFormats, HoldsKeepTheRatchetDownUntilADayPassesWithoutARenewal) {
  const int64_t now = 1'700'000'000'000;
  EXPECT_EQ(held_at({}, now), UINT32_MAX);
  EXPECT_EQ(held_at({{3, now - 1000}, {2, now - kHoldLifetimeMs}}, now), 2u);
  EXPECT_EQ(held_at({{3, now - 1000}, {2, now - kHoldLifetimeMs - 1}}, now), 3u);
  auto back = decode_hold(encode_hold({2, now}));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->format, 2u);
  EXPECT_EQ(back->renewed_ms, now);
  for (const char* bad : {"", "2", "2 ", " 5", "x 5", "2 5x", "-1 5"}) {
    EXPECT_FALSE(decode_hold(bad)) << bad;
  }
}

TEST(UpgradeFormats, TheRatchetsValueIsOneDecimalFormatAndNothingElse) {
  EXPECT_EQ(decode_format("4"), 4u);
  EXPECT_EQ(decode_format("0"), 0u);
  for (const char* bad : {"", " 4", "4 ", "4x", "-1", "x", "4294967296"}) {
    EXPECT_FALSE(decode_format(bad)) << bad;
  }
}

TEST(UpgradeFormats, TheLowestFormatCountsEveryWorkerAndOneWithoutARecordAsZero) {
  routing::Topology t;
  EXPECT_EQ(t.lowest_format(), 0u);
  t.workers = {"node-0", "node-1"};
  t.nodes["node-0"].format = 3;
  t.nodes["node-1"].format = 2;
  t.nodes["node-dead"].format = 1;  // a record, but not a worker of the assignment
  EXPECT_EQ(t.lowest_format(), 2u);
  t.nodes["node-1"].format = 3;
  EXPECT_EQ(t.lowest_format(), 3u);
  t.workers.push_back("node-2");  // no record here yet
  EXPECT_EQ(t.lowest_format(), 0u);
  EXPECT_EQ(t.lowest_known_format(), 0u);  // nor ever seen
}

// A NATS outage past the heartbeat TTL loses every record: a worker is then
// judged by the record seen last, for what may be written (never for the
// ratchet, which lowest_format() alone raises).
TEST(UpgradeFormats, AWorkerWhoseRecordWasLostCountsWithTheFormatItLastPublished) {
  routing::Topology t;
  t.workers = {"node-0", "node-1"};
  t.nodes["node-0"].format = 4;
  t.last_known["node-1"].format = 3;
  EXPECT_EQ(t.lowest_format(), 0u);
  EXPECT_EQ(t.lowest_known_format(), 3u);
  t.nodes["node-1"].format = 4;  // back, and its record now counts
  EXPECT_EQ(t.lowest_known_format(), 4u);
}

}  // namespace
}  // namespace partid::upgrade
