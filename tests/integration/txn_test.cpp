// Transactions across partitions with real partid processes (RF=3) on a real
// nats-server: all writes or none, on every node; a locked item refuses
// writes and conflicting transactions, and readers see a committed
// transaction whole before it is resolved; transactions whose coordinator
// is gone are finished by recovery, also after the death of a leader; and
// what old transactions leave behind is erased once nothing can need it.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "partid/routing/topology.h"
#include "partid/storage/txn_space.h"
#include "support/partid_cluster.h"
#include "support/run_partictl.h"
#include "support/wait.h"

namespace parti::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr uint32_t kPartitions = 16;
constexpr const char* kAdminToken = "s3cret";

class TxnTest : public ::testing::Test {
 protected:
  // RF=3 nodes with an admin token (the tests play a coordinator through
  // the step routes), the given transaction timeout and retention, and the
  // hold (how long a write to a locked item waits for the lock to go).
  void start_nodes(size_t n, uint32_t txn_timeout_ms, uint32_t txn_retention_ms = 600000,
                   uint32_t hold_ms = 5000) {
    PartidOptions options = node_options(txn_timeout_ms, txn_retention_ms, hold_ms);
    for (size_t i = 0; i < n; ++i) cluster.start(options);
    ASSERT_TRUE(cluster.wait_converged(n, 30s)) << cluster.describe_not_serving();
  }
  static PartidOptions node_options(uint32_t txn_timeout_ms, uint32_t txn_retention_ms = 600000,
                                    uint32_t hold_ms = 5000) {
    PartidOptions options;
    options.partitions = kPartitions;
    options.replication_factor = 3;
    options.extra_args = {"--admin-token",      kAdminToken,
                          "--txn-timeout-ms",   std::to_string(txn_timeout_ms),
                          "--txn-retention-ms", std::to_string(txn_retention_ms),
                          "--hold-ms",          std::to_string(hold_ms)};
    return options;
  }
  static uint32_t partition_of(const std::string& key) {
    return partid::routing::partition_of(key, kPartitions);
  }
  // `n` keys (prefix + a number), each in a partition of its own.
  static std::vector<std::string> keys_in_distinct_partitions(const std::string& prefix, size_t n) {
    std::vector<std::string> out;
    std::set<uint32_t> used;
    for (int k = 0; out.size() < n; ++k) {
      const std::string key = prefix + std::to_string(k);
      if (used.insert(partition_of(key)).second) out.push_back(key);
    }
    return out;
  }
  partid::cli::HttpResult txn(size_t via, const json& writes) {
    return cluster.http(via, "POST", "/txn", json{{"writes", writes}}.dump());
  }
  // One step of transaction `id`, as a coordinator would send it.
  partid::cli::HttpResult step(size_t via, const std::string& id, const std::string& name,
                               uint32_t partition, const json& body,
                               const std::string& token = kAdminToken) {
    return partid::cli::http_request(cluster.node(via).api, "POST",
                                     fmt::format("/txn/{}/{}?partition={}", id, name, partition),
                                     body.dump(), 10s, token.empty() ? "" : "Bearer " + token);
  }
  json prepare(size_t via, const std::string& id, const std::string& key, const std::string& msg,
               const std::string& rk = "") {
    const json write = {{"partition_key", key}, {"range_key", rk}, {"message", msg}};
    auto r = step(via, id, "prepare", partition_of(key),
                  {{"home", home_of(id)}, {"writes", json::array({write})}});
    return json::parse(r.body, nullptr, false);
  }
  static uint32_t home_of(const std::string& id) { return partid::storage::parse_txn_id(id)->home; }
  static std::string id_homed_at(const std::string& key, int n) {
    return fmt::format("{}-{:016x}", partition_of(key), n);
  }
  // Finishes hand-made transaction `id`, homed at partition `home` and
  // prepared there only, as its coordinator would: the decision, then the
  // resolve. True when both were accepted.
  bool finish(const std::string& id, uint32_t home, bool commit) {
    return step(1, id, "decide", home, {{"commit", commit}}).status == 200 &&
           step(1, id, "resolve", home, {{"commit", commit}}).status == 200;
  }
  int put(size_t via, const std::string& key, const std::string& msg, const std::string& rk = "") {
    return cluster
        .http(via, "POST", "/items",
              json{{"partition_key", key}, {"range_key", rk}, {"message", msg}}.dump())
        .status;
  }
  // The message of item (key, rk) read through `via` ("" when absent; the
  // error code on an error): GET /items/{key}/{rk}, or the newest of
  // GET /items/{key} without a range key.
  std::string read(size_t via, const std::string& key, const std::string& rk = "") {
    auto r = cluster.get_json(via, "/items/" + key + (rk.empty() ? "" : "/" + rk));
    if (r.contains("message")) return r["message"];
    if (r.contains("items")) return r["items"].empty() ? "" : r["items"][0]["message"];
    if (r.contains("error") && r["error"]["code"] == "not_found") return "";
    return r.contains("error") ? "error:" + r["error"]["code"].get<std::string>() : r.dump();
  }
  std::string outcome(size_t via, const std::string& id) {
    return cluster.get_json(via, "/txn/" + id).value("state", std::string("?"));
  }
  double recovered() {
    double n = 0;
    for (size_t i = 0; i < cluster.size(); ++i) {
      if (cluster.node(i).pid > 0) n += cluster.metric(i, "partid_txn_recovered_total");
    }
    return n;
  }
  // Every replica's report of partition p (GET /admin/partitions/{p}/validate).
  json replicas_of(uint32_t p) {
    auto r = partid::cli::http_request(cluster.node(0).api, "GET",
                                       "/admin/partitions/" + std::to_string(p) + "/validate", {},
                                       10s, std::string("Bearer ") + kAdminToken);
    json j = json::parse(r.body, nullptr, false);
    return j.is_object() && j.contains("replicas") ? j["replicas"] : json::array();
  }
  // True when all 3 replicas of p agree and each stores `records` records
  // and `decisions` decisions of transactions.
  bool replicas_hold(uint32_t p, uint64_t records, uint64_t decisions) {
    json reports = replicas_of(p);
    if (reports.size() != 3) return false;
    for (const auto& r : reports) {
      if (!r.contains("txn_records") || r["txn_records"] != records ||
          r["txn_decisions"] != decisions || !r["problems"].empty()) {
        return false;
      }
    }
    return true;
  }
  static uint64_t now_ms() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  }
  // The index of the node that leads partition p.
  size_t leader_of(uint32_t p) {
    auto topology = cluster.get_json(0, "/cluster/topology");
    const std::string leader = topology["assignment"][p]["replicas"][0];
    for (size_t i = 0; i < cluster.size(); ++i) {
      if (cluster.node(i).id == leader) return i;
    }
    return SIZE_MAX;
  }
  // A key (prefix + a number) of a partition node `node` leads.
  std::string key_led_by(size_t node, const std::string& prefix) {
    for (int k = 0;; ++k) {
      const std::string key = prefix + std::to_string(k);
      if (leader_of(partition_of(key)) == node) return key;
    }
  }
  // Starts 3 nodes with 1-s transaction timeouts, node 0 on a clock `offset`
  // from the others', and waits until every node has measured it.
  void start_with_node0_clock_off(std::chrono::milliseconds offset) {
    PartidOptions off = node_options(1000);
    off.launcher = clock_set_off(offset);
    cluster.start(off);
    cluster.start(node_options(1000));
    cluster.start(node_options(1000));
    ASSERT_TRUE(cluster.wait_converged(3, 30s)) << cluster.describe_not_serving();
    const auto apart = static_cast<double>(std::chrono::abs(offset).count());
    for (size_t node = 0; node < 3; ++node) {
      ASSERT_TRUE(wait_until(
          [&] { return cluster.metric(node, "partid_peer_clock_offset_max_ms") >= apart - 100; },
          20s))
          << "node " << node;
    }
  }
  // Commits a transaction through `via` of one item led by each of `leaders`.
  void expect_commit_through(size_t via, std::initializer_list<size_t> leaders) {
    json writes = json::array();
    std::vector<std::string> keys;
    for (size_t leader : leaders) {
      keys.push_back(key_led_by(leader, fmt::format("via{}-led{}-", via, leader)));
      writes.push_back({{"partition_key", keys.back()}, {"message", "by " + std::to_string(via)}});
    }
    auto r = txn(via, writes);
    ASSERT_EQ(r.status, 200) << "through node " << via << ": " << r.body;
    EXPECT_EQ(json::parse(r.body)["state"], "committed");
    for (const auto& key : keys) EXPECT_EQ(read(via, key), "by " + std::to_string(via)) << key;
  }
  NatsServer nats;
  PartidCluster cluster{nats};
};

// Each partition's leader judges a transaction's deadline by its own clock
// (every replica of it then decides alike). A deadline set on the
// coordinator's clock alone was already past, on a leader whose clock ran
// further ahead than the transaction timeout, so every transaction with a
// partition that node led was refused; the deadline now leaves room for the
// clocks of the leaders it is sent to, as measured.
TEST_F(TxnTest, ATransactionCommitsInAPartitionLedByANodeWhoseClockRunsAhead) {
  start_with_node0_clock_off(3s);
  expect_commit_through(1, {0, 1});
  expect_commit_through(2, {0, 2});
  expect_commit_through(0, {0, 1, 2});
}

// The same from the other side: through a node whose clock runs behind every
// leader's, a transaction got a deadline already past on theirs.
TEST_F(TxnTest, ATransactionThroughANodeWhoseClockRunsBehindCommits) {
  start_with_node0_clock_off(-3s);
  expect_commit_through(0, {1, 2});
  expect_commit_through(0, {0, 1});
  expect_commit_through(1, {0, 2});
}

// A transaction's records and decision go, on every replica, once its
// deadline and the retention have passed and nothing can need them: a
// commit across partitions (settled by its coordinator once every partition
// resolved it), one in one partition, one a coordinator left prepared
// (recovery aborts it first), and a commit whose coordinator stopped after
// resolving it, before settling it (the home partition's leader asks its
// partitions and settles it).
TEST_F(TxnTest, OldTransactionsAreForgottenOnEveryReplicaOnceNothingCanNeedThem) {
  start_nodes(3, 1000, 3000);
  const auto keys = keys_in_distinct_partitions("gc-", 4);
  auto w = [](const std::string& key, const std::string& rk, const std::string& msg) {
    return json{{"partition_key", key}, {"range_key", rk}, {"message", msg}};
  };
  auto across = txn(0, json::array({w(keys[0], "", "a0"), w(keys[1], "", "a1")}));
  ASSERT_EQ(across.status, 200) << across.body;
  const std::string across_id = json::parse(across.body)["txn"];
  auto single = txn(1, json::array({w(keys[2], "x", "s"), w(keys[2], "y", "s")}));
  ASSERT_EQ(single.status, 200) << single.body;
  const std::string single_id = json::parse(single.body)["txn"];
  const uint32_t p3 = partition_of(keys[3]);
  const std::string left = partid::storage::make_txn_id(now_ms() + 1000, p3, 1);
  EXPECT_EQ(prepare(0, left, keys[3], "never", "l").value("state", ""), "prepared");
  const std::string unsettled = partid::storage::make_txn_id(now_ms() + 1000, p3, 2);
  EXPECT_EQ(prepare(1, unsettled, keys[3], "u", "u").value("state", ""), "prepared");
  EXPECT_EQ(step(2, unsettled, "decide", p3, {{"commit", true}, {"partitions", {p3}}}).status, 200);
  EXPECT_EQ(step(2, unsettled, "resolve", p3, {{"commit", true}}).status, 200);
  // Before the retention is over the outcome is kept.
  EXPECT_EQ(outcome(2, across_id), "committed");

  for (uint32_t p : {partition_of(keys[0]), partition_of(keys[1]), partition_of(keys[2])}) {
    EXPECT_TRUE(wait_until([&] { return replicas_hold(p, 0, 0); }, 30s))
        << "partition " << p << ": " << replicas_of(p).dump();
  }
  EXPECT_TRUE(wait_until([&] { return replicas_hold(p3, 0, 0); }, 30s)) << replicas_of(p3).dump();
  for (size_t via = 0; via < 3; ++via) {
    for (const auto& id : {across_id, single_id, left, unsettled}) {
      auto r = cluster.get_json(via, "/txn/" + id);
      EXPECT_EQ(r["error"]["code"], "txn_unknown") << id << " via " << via << ": " << r.dump();
    }
    EXPECT_EQ(read(via, keys[0]), "a0");
    EXPECT_EQ(read(via, keys[1]), "a1");
    EXPECT_EQ(read(via, keys[2], "y"), "s");
    EXPECT_EQ(read(via, keys[3], "u"), "u");
    EXPECT_EQ(read(via, keys[3], "l"), "");
  }
  double settled = 0, forgotten = 0;
  for (size_t i = 0; i < 3; ++i) {
    settled += cluster.metric(i, "partid_txn_settled_total");
    forgotten += cluster.metric(i, "partid_txn_forgotten_total");
  }
  EXPECT_EQ(settled, 2);  // by the coordinator, and by the home partition's leader
  EXPECT_GE(forgotten, 5);
  // A late step of a forgotten transaction changes nothing: past its deadline.
  EXPECT_EQ(step(0, across_id, "prepare", partition_of(keys[0]),
                 {{"home", home_of(across_id)}, {"writes", json::array({w(keys[0], "", "late")})}})
                .status,
            409);
  EXPECT_EQ(read(0, keys[0]), "a0");
  EXPECT_EQ(put(0, keys[0], "free"), 200);
}

// The nodes' records (each one's data format among them) vanish with the
// nats-server and come back one heartbeat after it: transactions, which may
// be written only in a format every live node reads, were refused 503
// format_not_active meanwhile (15% of the soak's transfers through four
// nats-server restarts). A node now judges a worker whose record it lost by
// the record it saw last (a node's format changes only when it restarts, and
// publishes its record again). The items and transactions themselves never
// needed NATS.
TEST_F(TxnTest, TransactionsGoOnWhileTheNatsServerRestarts) {
  start_nodes(3, 5000);
  std::mutex mu;
  std::map<std::string, int> outcomes;
  std::jthread client([&](std::stop_token stop) {
    for (int k = 0; !stop.stop_requested(); ++k) {
      const json writes =
          json::array({{{"partition_key", "a" + std::to_string(k % 7)}, {"message", "m"}},
                       {{"partition_key", "b" + std::to_string(k % 5)}, {"message", "m"}}});
      const auto r = txn(k % 3, writes);
      const auto body = json::parse(r.body, nullptr, false);
      std::string outcome = std::to_string(r.status);
      if (body.is_object() && body.contains("error"))
        outcome += " " + body["error"].value("code", "");
      std::lock_guard lock(mu);
      ++outcomes[outcome];
    }
  });
  auto committed = [&] {
    std::lock_guard lock(mu);
    return outcomes["200"];
  };
  for (int round = 0; round < 2; ++round) {
    const int before = committed();
    nats.stop();
    ASSERT_TRUE(cluster.wait_record_lost(0, 30s));
    const int unheard = committed();
    ASSERT_TRUE(wait_until([&] { return committed() >= unheard + 50; }, 30s));
    ASSERT_GE(unheard, before);
    nats.start();
    ASSERT_TRUE(cluster.wait_converged(3, 60s)) << cluster.describe_not_serving();
    const int back = committed();
    ASSERT_TRUE(wait_until([&] { return committed() >= back + 50; }, 30s));
  }
  client.request_stop();
  client.join();
  EXPECT_EQ(outcomes.size(), 1u) << json(outcomes).dump();
}

TEST_F(TxnTest, ATransactionAppliesEveryWriteOnEveryNodeAcrossPartitions) {
  start_nodes(3, 60000);
  const auto keys = keys_in_distinct_partitions("acct-", 5);
  ASSERT_EQ(put(0, keys[4], "to be deleted"), 200);
  json writes = json::array();
  for (size_t k = 0; k < 4; ++k) {
    writes.push_back(
        {{"partition_key", keys[k]}, {"range_key", "r"}, {"message", "v" + std::to_string(k)}});
  }
  writes.push_back({{"partition_key", keys[4]}, {"delete", true}});
  auto r = txn(1, writes);
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = json::parse(r.body);
  EXPECT_EQ(body["state"], "committed");
  EXPECT_EQ(body["partitions"].size(), 5u);
  EXPECT_EQ(body["unresolved_partitions"], 0);
  const std::string id = body["txn"];
  EXPECT_EQ(home_of(id), partition_of(keys[0]));
  for (size_t via = 0; via < 3; ++via) {
    for (size_t k = 0; k < 4; ++k) {
      EXPECT_EQ(read(via, keys[k], "r"), "v" + std::to_string(k)) << via;
    }
    EXPECT_EQ(read(via, keys[4]), "") << via;
    EXPECT_EQ(outcome(via, id), "committed") << via;
  }
  // Every replica applied it: replica reads everywhere, and the items are
  // unlocked for ordinary writes.
  for (size_t via = 0; via < 3; ++via) {
    EXPECT_TRUE(wait_until(
        [&] {
          auto got = cluster.get_json(via, "/items/" + keys[3] + "/r?consistency=replica");
          return got.value("message", std::string()) == "v3";
        },
        10s))
        << via;
  }
  EXPECT_EQ(put(2, keys[0], "after"), 200);
  EXPECT_EQ(cluster.metric(1, "partid_txn_committed_total"), 1);
}

// Items of one partition key share a partition: such a transaction commits in
// one step, and still meets other transactions' locks.
TEST_F(TxnTest, ATransactionInOnePartitionCommitsInOneStep) {
  start_nodes(3, 60000);
  auto r = txn(0, json::array({{{"partition_key", "user"}, {"range_key", "a"}, {"message", "1"}},
                               {{"partition_key", "user"}, {"range_key", "b"}, {"message", "2"}}}));
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string id = json::parse(r.body)["txn"];
  EXPECT_EQ(json::parse(r.body)["partitions"], json::array({partition_of("user")}));
  for (size_t via = 0; via < 3; ++via) {
    EXPECT_EQ(read(via, "user", "a"), "1");
    EXPECT_EQ(read(via, "user", "b"), "2");
    EXPECT_EQ(outcome(via, id), "committed");
  }
  EXPECT_EQ(put(1, "user", "3", "a"), 200);  // nothing stayed locked
  ASSERT_EQ(prepare(0, id_homed_at("user", 9), "user", "locked", "c").value("state", ""),
            "prepared");
  auto refused =
      txn(2, json::array({{{"partition_key", "user"}, {"range_key", "c"}, {"message", "x"}},
                          {{"partition_key", "user"}, {"range_key", "d"}, {"message", "y"}}}));
  ASSERT_EQ(refused.status, 409) << refused.body;
  const std::string refused_id = json::parse(refused.body)["txn"];
  EXPECT_EQ(outcome(0, refused_id), "aborted");
  EXPECT_EQ(read(1, "user", "d"), "");
}

TEST_F(TxnTest, ALockedItemRefusesWritesAndConflictsAndIsReadWholeOnceCommitted) {
  start_nodes(3, 60000, 600000, 300);  // a write waits 300 ms for a lock that never goes
  const auto keys = keys_in_distinct_partitions("item-", 2);
  const std::string& x = keys[0];
  const std::string& y = keys[1];
  ASSERT_EQ(put(0, x, "before", "r"), 200);
  // A coordinator that prepared (x, r) and stopped there.
  const std::string stuck = id_homed_at(x, 1);
  auto prepared = prepare(0, stuck, x, "stuck's", "r");
  ASSERT_EQ(prepared.value("state", ""), "prepared") << prepared.dump();
  EXPECT_EQ(step(0, stuck, "decide", 0, {{"commit", true}}, "").status, 401);

  auto refused = cluster.http(
      1, "POST", "/items", json{{"partition_key", x}, {"range_key", "r"}, {"message", "w"}}.dump());
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_NE(refused.body.find("locked_by_transaction"), std::string::npos) << refused.body;
  EXPECT_EQ(cluster.http(2, "DELETE", "/items/" + x + "/r").status, 409);
  EXPECT_EQ(cluster.http(2, "DELETE", "/items/" + x).status, 409);
  EXPECT_EQ(put(2, x, "another item of the key", "s"), 200);

  // A transaction that also writes x is refused whole: y stays absent.
  auto conflicting =
      txn(2, json::array({{{"partition_key", y}, {"message", "y1"}},
                          {{"partition_key", x}, {"range_key", "r"}, {"message", "x1"}}}));
  ASSERT_EQ(conflicting.status, 409) << conflicting.body;
  auto conflict = json::parse(conflicting.body);
  EXPECT_EQ(conflict["error"]["code"], "txn_conflict");
  const std::string aborted = conflict["txn"];
  for (size_t via = 0; via < 3; ++via) {
    EXPECT_EQ(read(via, y), "") << via;
    EXPECT_EQ(outcome(via, aborted), "aborted") << via;
  }
  EXPECT_EQ(put(1, y, "free again"), 200);

  // Undecided: readers see the value before it.
  for (size_t via = 0; via < 3; ++via) EXPECT_EQ(read(via, x, "r"), "before") << via;
  EXPECT_EQ(outcome(1, stuck), "undecided");
  // Committed but not resolved: readers see its write already.
  auto decided = step(2, stuck, "decide", 0, {{"commit", true}});
  ASSERT_EQ(decided.status, 200) << decided.body;
  EXPECT_EQ(json::parse(decided.body)["state"], "committed");
  EXPECT_EQ(json::parse(step(1, stuck, "decide", 0, {{"commit", false}}).body)["state"],
            "committed");  // the first decision stands
  for (size_t via = 0; via < 3; ++via) {
    EXPECT_EQ(read(via, x, "r"), "stuck's") << via;
    auto list = cluster.get_json(via, "/items/" + x);  // range keys descending: s, r
    ASSERT_EQ(list["items"].size(), 2u) << list.dump();
    EXPECT_EQ(list["items"][1]["message"], "stuck's");
    auto newest = cluster.get_json(via, "/items/" + x + "?limit=1");
    ASSERT_EQ(newest["items"].size(), 1u) << newest.dump();
    EXPECT_EQ(newest["items"][0]["range_key"], "s");
    EXPECT_EQ(newest["next"], "s") << newest.dump();
    auto older = cluster.get_json(via, "/items/" + x + "?limit=1&after=s");  // the page after it
    ASSERT_EQ(older["items"].size(), 1u) << older.dump();
    EXPECT_EQ(older["items"][0]["message"], "stuck's");
    EXPECT_FALSE(older.contains("next")) << older.dump();
  }
  EXPECT_EQ(put(0, x, "w", "r"), 409);
  auto resolved = step(1, stuck, "resolve", partition_of(x), {{"commit", true}});
  ASSERT_EQ(resolved.status, 200) << resolved.body;
  EXPECT_EQ(read(2, x, "r"), "stuck's");
  EXPECT_EQ(put(0, x, "after", "r"), 200);
  EXPECT_EQ(read(1, x, "r"), "after");
}

TEST_F(TxnTest, TransactionsACoordinatorLeftAreFinishedByRecovery) {
  start_nodes(3, 300);
  const auto keys = keys_in_distinct_partitions("rec-", 2);
  const std::string& x = keys[0];
  const std::string& y = keys[1];
  ASSERT_EQ(put(0, x, "x0"), 200);
  ASSERT_EQ(put(0, y, "y0"), 200);
  // Left before its commit point: aborted, its writes dropped everywhere.
  const std::string left = id_homed_at(x, 1);
  ASSERT_EQ(prepare(1, left, x, "x1").value("state", ""), "prepared");
  ASSERT_EQ(prepare(1, left, y, "y1").value("state", ""), "prepared");
  EXPECT_TRUE(wait_until([&] { return recovered() >= 2; }, 20s)) << recovered();
  for (size_t via = 0; via < 3; ++via) {
    EXPECT_EQ(outcome(via, left), "aborted") << via;
    EXPECT_EQ(read(via, x), "x0") << via;
    EXPECT_EQ(read(via, y), "y0") << via;
  }
  EXPECT_EQ(put(2, y, "y0b"), 200);

  // Left after its commit point (decided before it prepared, so recovery
  // cannot abort it first however slow this test runs): committed everywhere.
  const std::string committed = id_homed_at(x, 2);
  ASSERT_EQ(step(0, committed, "decide", 0, {{"commit", true}}).status, 200);
  ASSERT_EQ(prepare(2, committed, x, "x2").value("state", ""), "prepared");
  ASSERT_EQ(prepare(2, committed, y, "y2").value("state", ""), "prepared");
  for (size_t via = 0; via < 3; ++via) EXPECT_EQ(read(via, y), "y2") << via;
  EXPECT_TRUE(wait_until([&] { return recovered() >= 4; }, 20s)) << recovered();
  EXPECT_EQ(put(0, x, "x3"), 200);
  EXPECT_EQ(put(0, y, "y3"), 200);
  for (size_t via = 0; via < 3; ++via) {
    EXPECT_EQ(outcome(via, committed), "committed") << via;
    EXPECT_EQ(read(via, x), "x3") << via;
  }
}

TEST_F(TxnTest, APreparedTransactionSurvivesTheDeathOfItsPartitionsLeader) {
  start_nodes(3, 300);
  const auto keys = keys_in_distinct_partitions("dead-", 2);
  const std::string& x = keys[0];
  const std::string& home_key = keys[1];
  const std::string id = id_homed_at(home_key, 7);
  ASSERT_EQ(step(0, id, "decide", 0, {{"commit", true}}).status, 200);
  ASSERT_EQ(prepare(0, id, x, "survived").value("state", ""), "prepared");
  // The leader of x's partition dies before anyone resolves it.
  auto topology = cluster.get_json(0, "/cluster/topology");
  const std::string leader = topology["assignment"][partition_of(x)]["replicas"][0];
  size_t victim = SIZE_MAX;
  for (size_t i = 0; i < cluster.size(); ++i) {
    if (cluster.node(i).id == leader) victim = i;
  }
  ASSERT_NE(victim, SIZE_MAX);
  cluster.kill(victim);
  const size_t via = (victim + 1) % 3;
  // Its successor finds the prepare in the replicated log and finishes it.
  EXPECT_TRUE(wait_until([&] { return read(via, x) == "survived"; }, 30s))
      << read(via, x) << cluster.describe_not_serving();
  EXPECT_TRUE(wait_until([&] { return put(via, x, "later") == 200; }, 30s))
      << cluster.describe_not_serving();
  EXPECT_EQ(read(via, x), "later");
  EXPECT_GE(recovered(), 1);
}

// Clients run transactions that each write all three items of one group (in
// three partitions) with their own value, through every node, while the
// leader of one of those partitions is killed. Whatever was refused,
// committed, or cut off halfway, the group ends whole: its three items hold
// one transaction's value, and never that of a transaction that was refused.
TEST_F(TxnTest, ConcurrentTransactionsLeaveAGroupWholeThroughALeaderKill) {
  start_nodes(3, 500);
  const auto group = keys_in_distinct_partitions("group-", 3);
  std::atomic<bool> stop{false};
  std::atomic<int> killed{-1};
  std::mutex mu;
  std::set<std::string> refused;  // values of transactions answered 409: never applied
  std::atomic<int> committed{0};
  auto client = [&](int c) {
    for (int n = 0; !stop; ++n) {
      const std::string value = fmt::format("c{}-{}", c, n);
      json writes = json::array();
      for (const auto& key : group) writes.push_back({{"partition_key", key}, {"message", value}});
      size_t via = c % 3;
      if (static_cast<int>(via) == killed) via = (via + 1) % 3;
      auto r = txn(via, writes);
      if (r.status == 200) ++committed;
      if (r.status == 409) {
        std::lock_guard lock(mu);
        refused.insert(value);
      }
    }
  };
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) clients.emplace_back(client, c);
  // Four clients contending for one group commit a few transactions a second
  // under TSan beside other scenarios (10 in 30 s once): ten show they run.
  EXPECT_TRUE(wait_until([&] { return committed >= 10; }, 60s)) << committed;
  auto topology = cluster.get_json(0, "/cluster/topology");
  const std::string leader = topology["assignment"][partition_of(group[1])]["replicas"][0];
  for (size_t i = 0; i < cluster.size(); ++i) {
    if (cluster.node(i).id == leader) killed = static_cast<int>(i);
  }
  ASSERT_GE(killed, 0);
  cluster.kill(killed);
  const int before = committed;
  EXPECT_TRUE(wait_until([&] { return committed >= before + 10; }, 90s))
      << committed << cluster.describe_not_serving();
  stop = true;
  for (auto& t : clients) t.join();
  const size_t via = (killed + 1) % 3;
  std::vector<std::string> values;
  EXPECT_TRUE(wait_until(
      [&] {
        values.clear();
        for (const auto& key : group) values.push_back(read(via, key));
        return values[0] == values[1] && values[1] == values[2] && !values[0].empty();
      },
      20s))
      << values[0] << " " << values[1] << " " << values[2];
  std::lock_guard lock(mu);
  EXPECT_FALSE(refused.contains(values[0])) << values[0];
  EXPECT_FALSE(refused.empty());  // the clients did meet each other's locks
  // Once recovery has finished what the dead node's clients left, nothing is
  // locked: a plain write goes through, and the transaction state is consistent.
  EXPECT_TRUE(wait_until([&] { return put(via, group[1], "plain") == 200; }, 20s));
}

// A commit decision stays while a partition it names has not resolved it,
// even past the retention (that partition may still ask for it), and goes
// once the partition has. Recovery is kept out of the way (a timeout of an
// hour); the steps are played by hand with ids whose deadline is near.
TEST_F(TxnTest, ACommitDecisionStaysUntilEveryPartitionResolvedIt) {
  start_nodes(3, 3600000, 1000);
  const auto keys = keys_in_distinct_partitions("stay-", 3);
  const uint32_t home = partition_of(keys[0]), q = partition_of(keys[1]);
  const std::string pending = partid::storage::make_txn_id(now_ms() + 500, home, 1);
  const std::string done = partid::storage::make_txn_id(now_ms() + 500, home, 2);
  EXPECT_EQ(prepare(0, pending, keys[1], "p", "p").value("state", ""), "prepared");
  EXPECT_EQ(prepare(0, done, keys[1], "d", "d").value("state", ""), "prepared");
  for (const auto& id : {pending, done}) {
    EXPECT_EQ(step(1, id, "decide", home, {{"commit", true}, {"partitions", {q}}}).status, 200);
  }
  EXPECT_EQ(step(2, done, "resolve", q, {{"commit", true}}).status, 200);
  // `done` is settled and forgotten; `pending`, with the same deadline, keeps
  // its decision and its record.
  EXPECT_TRUE(wait_until([&] { return replicas_hold(home, 0, 1) && replicas_hold(q, 1, 0); }, 30s))
      << replicas_of(home).dump() << replicas_of(q).dump();
  EXPECT_EQ(cluster.get_json(0, "/txn/" + done)["error"]["code"], "txn_unknown");
  EXPECT_EQ(outcome(0, pending), "committed");
  EXPECT_EQ(cluster.get_json(1, "/txn/" + pending + "?partition=" + std::to_string(q))["state"],
            "prepared");
  // Readers see the commit; the item is locked until it is resolved.
  EXPECT_EQ(read(2, keys[1], "p"), "p");
  EXPECT_EQ(step(0, pending, "resolve", q, {{"commit", true}}).status, 200);
  EXPECT_TRUE(wait_until([&] { return replicas_hold(home, 0, 0) && replicas_hold(q, 0, 0); }, 30s))
      << replicas_of(home).dump() << replicas_of(q).dump();
  EXPECT_EQ(cluster.get_json(2, "/txn/" + pending)["error"]["code"], "txn_unknown");
  EXPECT_EQ(read(1, keys[1], "p"), "p");
  EXPECT_EQ(read(1, keys[1], "d"), "d");
}

// A write to an item a transaction has locked waits for the transaction to
// resolve (up to the hold) instead of being refused, and lands after it.
TEST_F(TxnTest, AWriteOrABatchToALockedItemWaitsUntilItsTransactionResolves) {
  start_nodes(3, 60000);
  const auto keys = keys_in_distinct_partitions("wait-", 2);
  const std::string& x = keys[0];
  const std::string& y = keys[1];
  const std::string id = id_homed_at(x, 5);
  ASSERT_EQ(prepare(0, id, x, "the transaction's", "r").value("state", ""), "prepared");
  const size_t leader = leader_of(partition_of(x));
  ASSERT_NE(leader, SIZE_MAX);
  const std::string url = cluster.node(leader).api;
  std::atomic<int> status{0};
  std::thread writer([&] {
    json body = {{"partition_key", x}, {"range_key", "r"}, {"message", "the write's"}};
    status = partid::cli::http_request(url, "POST", "/items", body.dump(), 10s, "").status;
  });
  // The write is waiting for the lock; only then is the transaction finished.
  EXPECT_TRUE(
      wait_until([&] { return cluster.metric(leader, "partid_lock_waits_total") >= 1; }, 10s));
  EXPECT_EQ(status, 0);
  EXPECT_TRUE(finish(id, partition_of(x), true));
  writer.join();
  EXPECT_EQ(status, 200);
  for (size_t via = 0; via < 3; ++via) EXPECT_EQ(read(via, x, "r"), "the write's") << via;

  // A batch that holds a locked item waits for it too, and writes every item.
  const std::string second = id_homed_at(x, 6);
  ASSERT_EQ(prepare(0, second, x, "the second transaction's", "r").value("state", ""), "prepared");
  status = 0;
  std::thread batcher([&] {
    json items = json::array({{{"partition_key", y}, {"range_key", "r"}, {"message", "y's"}},
                              {{"partition_key", x}, {"range_key", "r"}, {"message", "batch's"}}});
    status = partid::cli::http_request(url, "POST", "/items/batch", json{{"items", items}}.dump(),
                                       10s, "")
                 .status;
  });
  EXPECT_TRUE(
      wait_until([&] { return cluster.metric(leader, "partid_lock_waits_total") >= 2; }, 10s));
  EXPECT_EQ(status, 0);
  EXPECT_TRUE(finish(second, partition_of(x), false));
  batcher.join();
  EXPECT_EQ(status, 200);
  for (size_t via = 0; via < 3; ++via) {
    EXPECT_EQ(read(via, x, "r"), "batch's") << via;
    EXPECT_EQ(read(via, y, "r"), "y's") << via;
  }
}

// Wait-die: a transaction waits for a younger one's lock (the hand-made
// transaction here has a later deadline) and commits once it goes; one that
// meets an older one's lock is refused at once, without waiting; its retry
// keeps its age, so it is not starved by transactions begun after it.
TEST_F(TxnTest, ATransactionWaitsForYoungerLocksOnlyAndARetryKeepsItsAge) {
  start_nodes(3, 60000, 600000, 30000);
  const auto keys = keys_in_distinct_partitions("wait-die-", 3);
  const std::string &x = keys[0], &y = keys[1], &z = keys[2];
  const std::string younger = partid::storage::make_txn_id(now_ms() + 600000, partition_of(x), 1);
  ASSERT_EQ(prepare(0, younger, x, "the younger one's").value("state", ""), "prepared");
  const size_t leader = leader_of(partition_of(x));
  ASSERT_NE(leader, SIZE_MAX);
  // Through x's leader, so the prepare waits there for the whole hold.
  const std::string url = cluster.node(leader).api;
  std::atomic<int> status{0};
  std::thread client([&] {
    json writes = json::array({{{"partition_key", x}, {"message", "the waiting one's"}},
                               {{"partition_key", y}, {"message", "the waiting one's"}}});
    status =
        partid::cli::http_request(url, "POST", "/txn", json{{"writes", writes}}.dump(), 40s, "")
            .status;
  });
  EXPECT_TRUE(
      wait_until([&] { return cluster.metric(leader, "partid_lock_waits_total") >= 1; }, 20s));
  EXPECT_EQ(status, 0);
  EXPECT_TRUE(finish(younger, partition_of(x), true));
  client.join();
  EXPECT_EQ(status, 200);
  for (size_t via = 0; via < 3; ++via) {
    EXPECT_EQ(read(via, x), "the waiting one's") << via;
    EXPECT_EQ(read(via, y), "the waiting one's") << via;
  }

  // An older transaction's lock: refused at once, nothing written, no wait.
  const std::string older = partid::storage::make_txn_id(now_ms() + 30000, partition_of(z), 2);
  ASSERT_EQ(prepare(0, older, z, "the older one's").value("state", ""), "prepared");
  const size_t z_leader = leader_of(partition_of(z));
  ASSERT_NE(z_leader, SIZE_MAX);
  const double waits = cluster.metric(z_leader, "partid_lock_waits_total");
  auto refused = txn(z_leader, json::array({{{"partition_key", z}, {"message", "refused"}},
                                            {{"partition_key", y}, {"message", "refused"}}}));
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_NE(refused.body.find("txn_conflict"), std::string::npos) << refused.body;
  EXPECT_EQ(cluster.metric(z_leader, "partid_lock_waits_total"), waits);
  EXPECT_EQ(read(1, y), "the waiting one's");

  // A retry keeps the refused attempt's age: once `older` is gone, a lock of
  // a transaction begun after that attempt (deadline one ms later) refuses a
  // new transaction at once, but the retry (retry_of) waits for it.
  const std::string attempt = json::parse(refused.body)["txn"];
  const uint64_t attempt_deadline = *partid::storage::parse_txn_id(attempt)->deadline_ms;
  EXPECT_TRUE(finish(older, partition_of(z), false));
  const std::string later = partid::storage::make_txn_id(attempt_deadline + 1, partition_of(z), 3);
  ASSERT_EQ(prepare(0, later, z, "the later one's").value("state", ""), "prepared");
  const json writes = json::array({{{"partition_key", z}, {"message", "retried"}},
                                   {{"partition_key", y}, {"message", "retried"}}});
  auto anew = txn(z_leader, writes);
  EXPECT_EQ(anew.status, 409) << anew.body;
  EXPECT_NE(anew.body.find("txn_conflict"), std::string::npos) << anew.body;
  EXPECT_EQ(cluster.metric(z_leader, "partid_lock_waits_total"), waits);
  status = 0;
  std::string retried;
  std::thread retry([&] {
    auto r =
        partid::cli::http_request(cluster.node(z_leader).api, "POST", "/txn",
                                  json{{"writes", writes}, {"retry_of", attempt}}.dump(), 40s, "");
    retried = r.body;
    status = r.status;
  });
  EXPECT_TRUE(wait_until(
      [&] { return cluster.metric(z_leader, "partid_lock_waits_total") >= waits + 1; }, 20s));
  EXPECT_EQ(status, 0);
  EXPECT_TRUE(finish(later, partition_of(z), false));
  retry.join();
  ASSERT_EQ(status, 200) << retried;
  EXPECT_EQ(
      partid::storage::parse_txn_id(json::parse(retried)["txn"].get<std::string>())->deadline_ms,
      attempt_deadline);
  for (size_t via = 0; via < 3; ++via) {
    EXPECT_EQ(read(via, z), "retried") << via;
    EXPECT_EQ(read(via, y), "retried") << via;
  }
}

// partictl txn --retries: refused by an older transaction's lock, it tries
// again, each time as a retry of its attempt, and commits once that one goes.
TEST_F(TxnTest, PartictlRetriesATransactionRefusedByAnOlderOnesLockUntilItCommits) {
  start_nodes(3, 60000);
  const auto keys = keys_in_distinct_partitions("retried-", 2);
  const std::string &x = keys[0], &y = keys[1];
  const std::string older = id_homed_at(x, 7);  // an id without a deadline: older than any
  ASSERT_EQ(prepare(0, older, x, "the older one's").value("state", ""), "prepared");
  const double aborted = cluster.metric(1, "partid_txn_aborted_total");
  PartictlRun run;
  std::thread client([&] {
    run = run_partictl(
        fmt::format("--url {} --json txn --put {} '' retried --put {} '' retried --retries 100",
                    cluster.node(1).api, x, y));
  });
  // Refused twice at least (so retried), then the older transaction goes.
  EXPECT_TRUE(wait_until(
      [&] { return cluster.metric(1, "partid_txn_aborted_total") >= aborted + 2; }, 20s));
  EXPECT_TRUE(finish(older, partition_of(x), false));
  client.join();
  ASSERT_EQ(run.code, 0) << run.out;
  EXPECT_NE(run.out.find("refused by an older one's lock; retrying"), std::string::npos) << run.out;
  for (size_t via = 0; via < 3; ++via) {
    EXPECT_EQ(read(via, x), "retried") << via;
    EXPECT_EQ(read(via, y), "retried") << via;
  }
}

// Conditions make a read-modify-write safe: two clients that read the same
// balances both try to write them back, and only the first succeeds; the
// second is refused whole (409 txn_condition_failed) and succeeds once it
// has read again. Within one partition, a condition is a compare-and-set.
TEST_F(TxnTest, ConditionsLetOnlyOneOfTwoReadModifyWritesOfTheSameVersionsCommit) {
  start_nodes(3, 60000);
  const auto keys = keys_in_distinct_partitions("balance-", 2);
  const std::string &x = keys[0], &y = keys[1];
  ASSERT_EQ(put(0, x, "100"), 200);
  ASSERT_EQ(put(0, y, "0"), 200);
  auto sequence_of = [&](const std::string& key) -> uint64_t {
    return cluster.get_json(1, "/items/" + key)["items"][0]["sequence"].get<uint64_t>();
  };
  auto move = [&](const std::string& to_x, const std::string& to_y, uint64_t at_x, uint64_t at_y) {
    return txn(2, json::array({{{"partition_key", x}, {"message", to_x}, {"if_sequence", at_x}},
                               {{"partition_key", y}, {"message", to_y}, {"if_sequence", at_y}}}));
  };
  const uint64_t sx = sequence_of(x), sy = sequence_of(y);
  ASSERT_GT(sx, 0u);
  auto first = move("90", "10", sx, sy);
  ASSERT_EQ(first.status, 200) << first.body;
  auto second = move("50", "50", sx, sy);
  ASSERT_EQ(second.status, 409) << second.body;
  EXPECT_EQ(json::parse(second.body)["error"]["code"], "txn_condition_failed") << second.body;
  for (size_t via = 0; via < 3; ++via) {
    EXPECT_EQ(read(via, x), "90") << via;
    EXPECT_EQ(read(via, y), "10") << via;
  }
  auto again = move("40", "60", sequence_of(x), sequence_of(y));
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(read(0, x), "40");
  EXPECT_EQ(read(0, y), "60");

  // One partition: create-if-absent, then compare-and-set.
  auto create = [&](const std::string& msg) {
    return txn(1, json::array({{{"partition_key", "flag"}, {"message", msg}, {"if_sequence", 0}}}))
        .status;
  };
  EXPECT_EQ(create("mine"), 200);
  EXPECT_EQ(create("theirs"), 409);
  EXPECT_EQ(read(2, "flag"), "mine");
  const uint64_t at = sequence_of("flag");
  ASSERT_EQ(put(0, "flag", "changed by a plain write"), 200);
  auto cas =
      txn(1, json::array({{{"partition_key", "flag"}, {"message", "cas"}, {"if_sequence", at}}}));
  EXPECT_EQ(cas.status, 409) << cas.body;
  EXPECT_EQ(read(2, "flag"), "changed by a plain write");
}

}  // namespace
}  // namespace parti::testing
