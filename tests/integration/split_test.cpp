// Partition splits (partid/split) with real nodes: RF=3 on three nodes, a
// split of the layout's next partition under continuous overwrites through
// every node, twice, and one whose source's leader is killed (SIGKILL) as it
// begins. Every key must read back its last acknowledged value (or a later
// one whose write's outcome was unknown), the item counts must add up, and
// every partition's replicas must agree.
#include "support/layout_cluster.h"

namespace parti::testing {
namespace {

class SplitTest : public LayoutClusterTest {};

// Keys that move in the first split and in the second, ten of each, in turn.
std::vector<std::string> keys_moving_in_two_splits() {
  const partid::routing::Layout first{kStartPartitions, kStartPartitions + 1};
  const partid::routing::Layout second{kStartPartitions, kStartPartitions + 2};
  std::vector<std::string> in_first, in_second, keys;
  for (int i = 0; in_first.size() < 10 || in_second.size() < 10; ++i) {
    const std::string key = "moving" + std::to_string(i);
    if (first.partition_of(key) == kStartPartitions && in_first.size() < 10) {
      in_first.push_back(key);
    } else if (second.partition_of(key) == kStartPartitions + 1 && in_second.size() < 10) {
      in_second.push_back(key);
    }
  }
  for (size_t i = 0; i < 10; ++i) keys.insert(keys.end(), {in_first[i], in_second[i]});
  return keys;
}

TEST_F(SplitTest, TwoSplitsUnderOverwritesLoseNoAcknowledgedWriteAndMoveHalfTheSource) {
  start_nodes(3);
  EXPECT_EQ(cluster.http(0, "POST", "/cluster/split").status, 401);  // the token is needed
  Overwriter writer(apis(), 300);
  // Writes nothing but keys each split moves, so that one arrives while
  // they are frozen, whatever the timing.
  Overwriter on_moving(apis(), keys_moving_in_two_splits());
  ASSERT_TRUE(wait_until([&] { return writer.acked() >= 600; }, 60s));
  for (uint32_t count = kStartPartitions + 1; count <= kStartPartitions + 2; ++count) {
    const uint32_t source = count - 1 - kStartPartitions;  // linear hashing: 0, then 1
    auto begun = split(count % 3);
    ASSERT_EQ(begun.status, 202) << begun.body;
    const json plan = json::parse(begun.body)["split"];
    EXPECT_EQ(plan["source"], source);
    EXPECT_EQ(plan["target"], count - 1);
    expect_layout_done(count);
    const size_t acked = writer.acked();
    ASSERT_TRUE(wait_until([&] { return writer.acked() >= acked + 300; }, 30s));
  }
  expect_writes_kept({&writer, &on_moving}, "the splits");
  // A write held on a frozen key was let go by a new topology, not at the
  // end of a pause.
  double woken = 0;
  for (size_t i = 0; i < cluster.size(); ++i) {
    woken += cluster.metric(i, "partid_held_retries_woken_total");
  }
  EXPECT_GT(woken, 0);
  const auto possible = writer.possible();
  const partid::routing::Layout layout{kStartPartitions, kStartPartitions + 2};
  std::map<uint32_t, int> per_partition;
  for (const auto& [key, values] : possible) ++per_partition[layout.partition_of(key)];
  EXPECT_GT(per_partition[4], 0);
  EXPECT_GT(per_partition[5], 0);
  const json topology = cluster.get_json(1, "/cluster/topology");
  EXPECT_EQ(topology["layout"]["base"], kStartPartitions);
  EXPECT_EQ(topology["assignment"].size(), kStartPartitions + 2);
  expect_every_partition_validates(2, kStartPartitions + 2);
}

TEST_F(SplitTest, ASplitWhoseSourceLeaderIsKilledIsFinishedByTheNextLeader) {
  start_nodes(3);
  std::map<std::string, std::set<std::string>> written;
  for (int k = 0; k < 200; ++k) {
    const std::string key = "key" + std::to_string(k), value = "v" + std::to_string(k);
    const json body = {{"partition_key", key}, {"message", value}};
    ASSERT_EQ(cluster.http(k % 3, "POST", "/items", body.dump()).status, 200) << key;
    written[key] = {value};
  }
  const size_t leader = index_of(leader_of(0, 0));
  ASSERT_NE(leader, SIZE_MAX);
  const size_t survivor = (leader + 1) % 3;
  auto begun = split(survivor);
  ASSERT_EQ(begun.status, 202) << begun.body;
  // Whatever phase it has reached, the split's driver dies with the leader.
  cluster.kill(leader);
  const size_t other = (leader + 2) % 3;
  for (size_t i : {survivor, other}) {
    ASSERT_TRUE(wait_until([&] { return split_done(i, kStartPartitions + 1); }, 60s))
        << "node " << i << ": " << cluster.get_json(i, "/cluster/topology")["layout"].dump();
  }
  expect_reads(survivor, written);
  EXPECT_EQ(total_items(survivor), 200);
  // The killed node comes back with the old layout on its disk and the
  // split's entries in its log: it catches up and serves the new layout.
  cluster.restart(leader);
  ASSERT_TRUE(cluster.wait_converged(3, 30s)) << cluster.describe_not_serving();
  ASSERT_TRUE(wait_until([&] { return split_done(leader, kStartPartitions + 1); }, 30s));
  expect_reads(leader, written);
  expect_every_partition_validates(leader, kStartPartitions + 1);
}

// A moved item keeps its version, so a compare-and-set prepared from a read
// before the split (`if_sequence`) still commits after it when nothing wrote
// the item meanwhile, and is refused once something has: the new partition's
// own writes get sequences above every copied one.
TEST_F(SplitTest, AConditionReadBeforeASplitHoldsAfterItOnlyWhileTheItemIsUnchanged) {
  start_nodes(3);
  const partid::routing::Layout before = partid::routing::Layout::unsplit(kStartPartitions);
  const partid::routing::Layout after = before.after_split();
  std::vector<std::string> moving;
  for (int i = 0; moving.size() < 2; ++i) {
    const std::string key = "cas" + std::to_string(i);
    if (after.partition_of(key) == kStartPartitions) moving.push_back(key);
  }
  std::map<std::string, uint64_t> read_at;
  for (const auto& key : moving) {
    const json body = {{"partition_key", key}, {"message", "before"}};
    ASSERT_EQ(cluster.http(0, "POST", "/items", body.dump()).status, 200);
    read_at[key] = cluster.get_json(1, "/items/" + key)["items"][0]["sequence"];
  }
  ASSERT_EQ(split(2).status, 202);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(wait_until([&] { return split_done(i, kStartPartitions + 1); }, 30s)) << i;
  }
  for (const auto& key : moving) {
    const json item = cluster.get_json(0, "/items/" + key);
    EXPECT_EQ(item["partition"], kStartPartitions) << key << " did not move";
    EXPECT_EQ(item["items"][0]["sequence"], read_at[key]) << key << " lost its version";
  }
  // The second key is written again after the split: its old read is stale.
  const json overwrite = {{"partition_key", moving[1]}, {"message", "after"}};
  ASSERT_EQ(cluster.http(1, "POST", "/items", overwrite.dump()).status, 200);
  EXPECT_GT(cluster.get_json(2, "/items/" + moving[1])["items"][0]["sequence"].get<uint64_t>(),
            read_at[moving[1]]);
  auto cas = [&](const std::string& key) {
    const json write = {{"partition_key", key}, {"message", "cas"}, {"if_sequence", read_at[key]}};
    return cluster.http(0, "POST", "/txn", json{{"writes", json::array({write})}}.dump());
  };
  auto unchanged = cas(moving[0]);
  EXPECT_EQ(unchanged.status, 200) << unchanged.body;
  auto stale = cas(moving[1]);
  EXPECT_EQ(stale.status, 409) << stale.body;
  EXPECT_NE(stale.body.find("txn_condition_failed"), std::string::npos) << stale.body;
  EXPECT_EQ(cluster.get_json(1, "/items/" + moving[0])["items"][0]["message"], "cas");
  EXPECT_EQ(cluster.get_json(1, "/items/" + moving[1])["items"][0]["message"], "after");
}

// Transactions that keep a prepare open in a partition at almost every
// moment (eight clients, each moving a pair of keys together) would keep its
// freeze refused (txn_in_progress) while they run: the freeze needs a moment
// with nothing prepared (in release runs the split's freeze was refused 39
// times in a row before it landed; with 24 clients 81 times). Once a split or
// merge has begun, the source's leader takes no new prepare there until the
// freeze (they are held, then retried), so both finish while the
// transactions run, and none of them is applied in half.
TEST_F(SplitTest, ASplitAndAMergeFinishUnderAConstantStreamOfTransactionsIntoTheirSource) {
  start_nodes(3);
  const partid::routing::Layout layout = partid::routing::Layout::unsplit(kStartPartitions);
  const partid::routing::Layout split_layout = layout.after_split();
  auto key_in = [](const partid::routing::Layout& l, uint32_t p, const std::string& prefix) {
    for (int i = 0;; ++i) {
      const std::string key = prefix + std::to_string(i);
      if (l.partition_of(key) == p) return key;
    }
  };
  // Half the pairs have a key that the split moves to partition 4, which the
  // merge then moves back: each step's source has prepares.
  constexpr size_t kClients = 8;
  std::vector<std::pair<std::string, std::string>> pairs;
  for (size_t c = 0; c < kClients; ++c) {
    const std::string prefix = "t" + std::to_string(c) + "-";
    pairs.emplace_back(key_in(split_layout, c % 2 == 0 ? kStartPartitions : 0, prefix + "a"),
                       key_in(layout, 1, prefix + "b"));
  }
  std::atomic<bool> running{true};
  std::vector<std::atomic<size_t>> committed(kClients);
  std::vector<std::thread> clients;
  for (size_t c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c, api = cluster.node(c % 3).api] {
      for (uint64_t n = 0; running; ++n) {
        const std::string value = std::to_string(n);
        const json writes = json::array({{{"partition_key", pairs[c].first}, {"message", value}},
                                         {{"partition_key", pairs[c].second}, {"message", value}}});
        auto r = partid::cli::http_request(api, "POST", "/txn", json{{"writes", writes}}.dump());
        if (r.status == 200) ++committed[c];
      }
    });
  }
  auto total = [&] {
    size_t sum = 0;
    for (const auto& n : committed) sum += n;
    return sum;
  };
  auto finishes = [&](uint32_t count) {
    for (size_t i = 0; i < 3; ++i) {
      if (!wait_until([&] { return split_done(i, count); }, 30s)) return false;
    }
    const size_t after = total();
    return wait_until([&] { return total() >= after + 100; }, 30s);  // and they go on
  };
  ASSERT_TRUE(wait_until([&] { return total() >= 200; }, 60s));
  bool split_finished = false, merge_finished = false;
  if (split(1).status == 202) split_finished = finishes(kStartPartitions + 1);
  if (split_finished && merge(2).status == 202) merge_finished = finishes(kStartPartitions);
  running = false;
  for (auto& t : clients) t.join();
  const std::string layout_now = cluster.get_json(0, "/cluster/topology")["layout"].dump();
  ASSERT_TRUE(split_finished) << layout_now;
  ASSERT_TRUE(merge_finished) << layout_now;
  for (size_t c = 0; c < kClients; ++c) {
    EXPECT_GT(committed[c].load(), 0u) << "client " << c;
    const json a = cluster.get_json(2, "/items/" + pairs[c].first);
    const json b = cluster.get_json(2, "/items/" + pairs[c].second);
    ASSERT_FALSE(a["items"].empty()) << pairs[c].first;
    ASSERT_FALSE(b["items"].empty()) << pairs[c].second;
    EXPECT_EQ(a["items"][0]["message"], b["items"][0]["message"]) << "client " << c;
  }
  expect_every_partition_validates(0, kStartPartitions);
}

}  // namespace
}  // namespace parti::testing
