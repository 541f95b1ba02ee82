#include "parti/core/node_record.h"

#include <gtest/gtest.h>

namespace parti {

NodeRecord sample_record() {
  NodeRecord r;
  r.id = "node-3";
  r.instance = "abc";
  r.api_address = "127.0.0.1:8080";
  r.peer_address = "127.0.0.1:9080";
  r.state = NodeState::Draining;
  r.startup_ms = 1700000000000;
  r.hlc = {1700000000123, 4};
  r.weight = 3;
  r.locked_partitions = {1, 7};
  r.importing_partitions = {9};
  r.migrating_partitions = {11, 12};
  r.handoff_final_sequence = {{7, 42}};
  r.progress = {{0, 18446744073709551615u}, {7, 3}};
  r.format = 3;
  r.reads_since = true;
  r.avoid_leading = true;
  return r;
}

TEST(NodeRecord, RoundTripsEveryField) {
  const NodeRecord r = sample_record();
  std::string err;
  auto back = decode_node_record(encode(r), &err);
  ASSERT_TRUE(back) << err;
  EXPECT_EQ(*back, r);
}

TEST(NodeRecord, ARecordWithoutProgressDecodesWithNone) {
  NodeRecord r = sample_record();
  r.progress.clear();
  const std::string bytes = encode(r);
  EXPECT_EQ(bytes.find("progress"), std::string::npos);
  std::string err;
  auto back = decode_node_record(bytes, &err);
  ASSERT_TRUE(back) << err;
  EXPECT_TRUE(back->progress.empty());
}

TEST(NodeRecord, ARecordWithoutAFormatDecodesWithZero) {
  NodeRecord r = sample_record();
  r.format = 0;
  const std::string bytes = encode(r);
  EXPECT_EQ(bytes.find("format"), std::string::npos);
  std::string err;
  auto back = decode_node_record(bytes, &err);
  ASSERT_TRUE(back) << err;
  EXPECT_EQ(back->format, 0u);
}

TEST(NodeRecord, ARecordWithoutReadsSinceSaysItDoesNot) {
  NodeRecord r = sample_record();
  r.reads_since = false;
  const std::string bytes = encode(r);
  EXPECT_EQ(bytes.find("reads_since"), std::string::npos);
  auto back = decode_node_record(bytes, nullptr);
  ASSERT_TRUE(back);
  EXPECT_FALSE(back->reads_since);
}

TEST(NodeRecord, ARecordWithoutAvoidLeadingMayLead) {
  NodeRecord r = sample_record();
  r.avoid_leading = false;
  const std::string bytes = encode(r);
  EXPECT_EQ(bytes.find("avoid_leading"), std::string::npos);
  std::string err;
  auto back = decode_node_record(bytes, &err);
  ASSERT_TRUE(back) << err;
  EXPECT_FALSE(back->avoid_leading);
}

TEST(NodeRecord, RejectsGarbage) {
  const std::string good = encode(sample_record());
  const std::vector<std::string> bad = {
      "",
      "not json",
      "[]",
      "{}",
      "\xff\xfe",
      good.substr(0, good.size() / 2),
      R"({"id":"","instance":"a","api":"","peer":"","state":"active","startup_ms":1,"hlc":[1,0],"weight":1,"locked":[],"importing":[],"migrating":[],"handoff":{}})",
      R"({"id":"n","instance":"a","api":"","peer":"","state":"flying","startup_ms":1,"hlc":[1,0],"weight":1,"locked":[],"importing":[],"migrating":[],"handoff":{}})",
      R"({"id":"n","instance":"a","api":"","peer":"","state":"active","startup_ms":1,"hlc":[1],"weight":1,"locked":[],"importing":[],"migrating":[],"handoff":{}})",
      R"({"id":"n","instance":"a","api":"","peer":"","state":"active","startup_ms":1,"hlc":[1,0],"weight":0,"locked":[],"importing":[],"migrating":[],"handoff":{}})",
      R"({"id":"n","instance":"a","api":"","peer":"","state":"active","startup_ms":1,"hlc":[1,0],"weight":1,"locked":[-1],"importing":[],"migrating":[],"handoff":{}})",
      R"({"id":"n","instance":"a","api":"","peer":"","state":"active","startup_ms":1,"hlc":[1,0],"weight":1,"locked":"x","importing":[],"migrating":[],"handoff":{}})",
      R"({"id":"n","instance":"a","api":"","peer":"","state":"active","startup_ms":1,"hlc":[1,0],"weight":1,"locked":[],"importing":[],"migrating":[],"handoff":{"x":1}})",
      R"({"id":"n","instance":"a","api":"","peer":"","state":"active","startup_ms":1,"hlc":[1,0],"weight":1,"locked":[],"importing":[],"migrating":[],"handoff":{},"progress":{"1":-4}})",
      R"({"id":"n","instance":"a","api":"","peer":"","state":"active","startup_ms":1,"hlc":[1,0],"weight":1,"locked":[],"importing":[],"migrating":[],"handoff":{},"progress":[1]})",
      R"({"id":"n","instance":"a","api":"","peer":"","state":"active","startup_ms":1,"hlc":[1,0],"weight":1,"locked":[],"importing":[],"migrating":[],"handoff":{},"format":-3})",
      R"({"id":"n","instance":"a","api":"","peer":"","state":"active","startup_ms":1,"hlc":[1,0],"weight":1,"locked":[],"importing":[],"migrating":[],"handoff":{},"format":"3"})",
      R"({"id":5,"instance":"a","api":"","peer":"","state":"active","startup_ms":1,"hlc":[1,0],"weight":1,"locked":[],"importing":[],"migrating":[],"handoff":{}})",
  };
  for (const auto& b : bad) {
    std::string err;
    EXPECT_FALSE(decode_node_record(b, &err)) << "accepted: " << b;
    EXPECT_FALSE(err.empty());
  }
}

}  // namespace parti
