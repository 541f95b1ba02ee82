// Partition merges (partid/split) with real nodes: RF=3 on three nodes.
// Splits undone by merges under continuous overwrites, down past the
// starting count (an unsplit even layout halves its base) and up again, so
// that a split re-creates a partition that merged away, also after the set
// its earlier incarnation sealed is gone; a merge whose source's leader is
// killed; and what a merged item keeps: its version, so a condition read
// before the merge still holds while the item is unchanged and never again
// once it changed, and its transactions' outcomes.
#include "support/layout_cluster.h"

namespace parti::testing {
namespace {

class MergeTest : public LayoutClusterTest {};

TEST_F(MergeTest, MergesUnderOverwritesLoseNoAcknowledgedWriteAndASplitRemakesAMergedPartition) {
  start_nodes(3);
  EXPECT_EQ(cluster.http(0, "POST", "/cluster/merge").status, 401);  // the token is needed
  Overwriter writer(apis(), 300);
  ASSERT_TRUE(wait_until([&] { return writer.acked() >= 600; }, 60s));
  // 4 -> 5 -> 4 -> 3 (the base halves: 3 merges into 1) -> 4 (3 is made again).
  struct Step {
    bool merge;
    uint32_t source, target, count;
  };
  const Step steps[] = {{false, 0, 4, 5}, {true, 4, 0, 4}, {true, 3, 1, 3}, {false, 1, 3, 4}};
  for (const Step& step : steps) {
    auto begun = step.merge ? merge(step.count % 3) : split(step.count % 3);
    ASSERT_EQ(begun.status, 202) << begun.body;
    const json plan = json::parse(begun.body)["split"];
    EXPECT_EQ(plan["kind"], step.merge ? "merge" : "split");
    EXPECT_EQ(plan["source"], step.source);
    EXPECT_EQ(plan["target"], step.target);
    expect_layout_done(step.count);
    const size_t acked = writer.acked();
    ASSERT_TRUE(wait_until([&] { return writer.acked() >= acked + 300; }, 30s));
  }
  // Each key counted once: nothing is left of the merged partitions' data.
  expect_writes_kept({&writer}, "the merges");
  const auto possible = writer.possible();
  const json topology = cluster.get_json(1, "/cluster/topology");
  EXPECT_EQ(topology["layout"]["base"], 4);
  EXPECT_EQ(topology["assignment"].size(), 4u);
  expect_every_partition_validates(2, 4);
  // The layout cannot merge below what it can halve: 4 -> 3 -> 2 -> 1, no further.
  for (uint32_t count = 3; count >= 1; --count) {
    ASSERT_EQ(merge(0).status, 202);
    expect_layout_done(count);
  }
  auto refused = merge(1);
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_NE(refused.body.find("merge_refused"), std::string::npos) << refused.body;
  for (size_t via = 0; via < 3; ++via) expect_reads(via, possible);
  EXPECT_EQ(total_items(2), 300);
}

TEST_F(MergeTest, AMergeWhoseSourceLeaderIsKilledIsFinishedByTheNextLeader) {
  start_nodes(3);
  ASSERT_EQ(split(0).status, 202);
  expect_layout_done(kStartPartitions + 1);
  std::map<std::string, std::set<std::string>> written;
  for (int k = 0; k < 200; ++k) {
    const std::string key = "key" + std::to_string(k), value = "v" + std::to_string(k);
    const json body = {{"partition_key", key}, {"message", value}};
    auto r = cluster.http(k % 3, "POST", "/items", body.dump());
    ASSERT_EQ(r.status, 200) << key << ": " << r.body;
    written[key] = {value};
  }
  const size_t leader = index_of(leader_of(0, kStartPartitions));
  ASSERT_NE(leader, SIZE_MAX);
  const size_t survivor = (leader + 1) % 3;
  ASSERT_EQ(merge(survivor).status, 202);
  cluster.kill(leader);
  const size_t other = (leader + 2) % 3;
  for (size_t i : {survivor, other}) {
    ASSERT_TRUE(wait_until([&] { return split_done(i, kStartPartitions); }, 60s))
        << "node " << i << ": " << cluster.get_json(i, "/cluster/topology")["layout"].dump();
  }
  expect_reads(survivor, written);
  EXPECT_EQ(total_items(survivor), 200);
  // The killed node comes back with the merged partition on its disk: it
  // drops it and serves the merged layout.
  cluster.restart(leader);
  ASSERT_TRUE(cluster.wait_converged(3, 30s)) << cluster.describe_not_serving();
  ASSERT_TRUE(wait_until([&] { return split_done(leader, kStartPartitions); }, 30s));
  expect_reads(leader, written);
  EXPECT_TRUE(wait_until([&] { return total_items(leader) == 200; }, 10s)) << total_items(leader);
  expect_every_partition_validates(leader, kStartPartitions);
}

// The merged partition's log ran ahead of its target's (it took more writes
// since the split that made it); the target's next writes must still get
// sequences above every merged one.
TEST_F(MergeTest, AMergedItemKeepsItsVersionAndItsNextWriteASequenceAboveEveryMergedOne) {
  start_nodes(3);
  ASSERT_EQ(split(0).status, 202);
  expect_layout_done(kStartPartitions + 1);
  const partid::routing::Layout layout{kStartPartitions, kStartPartitions + 1};
  std::vector<std::string> merging;
  for (int i = 0; merging.size() < 3; ++i) {
    const std::string key = "cas" + std::to_string(i);
    if (layout.partition_of(key) == kStartPartitions) merging.push_back(key);
  }
  for (int round = 0; round < 40; ++round) {  // partition 4 runs ahead of 0
    for (const auto& key : merging) {
      const json body = {{"partition_key", key}, {"message", "before"}};
      ASSERT_EQ(cluster.http(round % 3, "POST", "/items", body.dump()).status, 200);
    }
  }
  // A transaction homed in the merging partition: its outcome outlives it.
  const json txn_write = {{"partition_key", merging[2]}, {"message", "t"}};
  const json other_write = {{"partition_key", "elsewhere"}, {"message", "t"}};
  auto txn = cluster.http(0, "POST", "/txn",
                          json{{"writes", json::array({txn_write, other_write})}}.dump());
  ASSERT_EQ(txn.status, 200) << txn.body;
  const std::string txn_id = json::parse(txn.body)["txn"];
  std::map<std::string, uint64_t> read_at;
  uint64_t highest = 0;
  for (const auto& key : merging) {
    read_at[key] = cluster.get_json(1, "/items/" + key)["items"][0]["sequence"];
    highest = std::max(highest, read_at[key]);
  }
  ASSERT_EQ(merge(2).status, 202);
  expect_layout_done(kStartPartitions);
  for (const auto& key : merging) {
    const json item = cluster.get_json(0, "/items/" + key);
    EXPECT_EQ(item["partition"], 0) << key << " did not move";
    EXPECT_EQ(item["items"][0]["sequence"], read_at[key]) << key << " lost its version";
  }
  const json overwrite = {{"partition_key", merging[1]}, {"message", "after"}};
  ASSERT_EQ(cluster.http(1, "POST", "/items", overwrite.dump()).status, 200);
  EXPECT_GT(cluster.get_json(2, "/items/" + merging[1])["items"][0]["sequence"].get<uint64_t>(),
            highest);
  auto cas = [&](const std::string& key) {
    const json write = {{"partition_key", key}, {"message", "cas"}, {"if_sequence", read_at[key]}};
    return cluster.http(0, "POST", "/txn", json{{"writes", json::array({write})}}.dump());
  };
  auto unchanged = cas(merging[0]);
  EXPECT_EQ(unchanged.status, 200) << unchanged.body;
  auto stale = cas(merging[1]);
  EXPECT_EQ(stale.status, 409) << stale.body;
  EXPECT_EQ(cluster.get_json(1, "/items/" + merging[0])["items"][0]["message"], "cas");
  EXPECT_EQ(cluster.get_json(1, "/items/" + merging[1])["items"][0]["message"], "after");
  const json status = cluster.get_json(2, "/txn/" + txn_id);
  EXPECT_EQ(status["state"], "committed") << status.dump();
}

// A split that makes a merged partition again must not wait for the set its
// earlier incarnation sealed: here two of those three nodes are gone by
// then (one at a time, so no other partition loses a majority), and the
// new partition must still be sealed and serve (its seal floor).
TEST_F(MergeTest, APartitionMadeAgainIgnoresTheSetItsEarlierIncarnationSealed) {
  start_nodes(5);
  ASSERT_EQ(split(0).status, 202);
  expect_layout_done(kStartPartitions + 1);
  const json first = cluster.get_json(0, "/cluster/topology")["assignment"][kStartPartitions];
  std::vector<size_t> earlier_set;
  for (const auto& id : first["replicas"]) earlier_set.push_back(index_of(id.get<std::string>()));
  ASSERT_EQ(earlier_set.size(), 3u) << first.dump();
  ASSERT_EQ(merge(0).status, 202);
  expect_layout_done(kStartPartitions);
  size_t alive = 5;
  for (size_t k = 0; k < 2; ++k) {
    cluster.kill(earlier_set[k]);
    --alive;
    ASSERT_TRUE(cluster.wait_converged(alive, 30s)) << cluster.describe_not_serving();
  }
  const size_t via = earlier_set[2];
  // Right after the kills a node may answer 503 (nothing recorded: e.g. a
  // dead worker still in the assignment, its record gone, counts as format
  // 0): asked again until it begins, as any client of a 503 would.
  partid::cli::HttpResult begun;
  ASSERT_TRUE(wait_until(
      [&] {
        begun = split(via);
        return begun.status != 503;
      },
      30s))
      << begun.body;
  ASSERT_EQ(begun.status, 202) << begun.body;
  ASSERT_TRUE(wait_until([&] { return split_done(via, kStartPartitions + 1); }, 30s))
      << cluster.get_json(via, "/cluster/topology")["layout"].dump() << "\n"
      << cluster.describe_not_serving();
  const partid::routing::Layout layout{kStartPartitions, kStartPartitions + 1};
  std::string key;
  for (int i = 0; key.empty(); ++i) {
    if (layout.partition_of("again" + std::to_string(i)) == kStartPartitions) {
      key = "again" + std::to_string(i);
    }
  }
  const json body = {{"partition_key", key}, {"message", "made again"}};
  auto written = cluster.http(via, "POST", "/items", body.dump());
  ASSERT_EQ(written.status, 200) << written.body;
  EXPECT_EQ(cluster.get_json(via, "/items/" + key)["items"][0]["message"], "made again");
}

}  // namespace
}  // namespace parti::testing
