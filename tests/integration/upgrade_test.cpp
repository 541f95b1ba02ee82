// Rolling upgrades across data formats (partid/upgrade): the cluster writes a
// format only once every live node reads it, activates it for good in NATS
// KV, and from then on refuses nodes that could misread it. Real nats-server,
// real partid processes.
#include <gtest/gtest.h>

#include "parti/coord/connection.h"
#include "parti/coord/kv_bucket.h"
#include "partid/storage/store_engine.h"
#include "support/partid_cluster.h"
#include "support/wait.h"

namespace parti::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class UpgradeTest : public ::testing::Test {
 protected:
  static PartidOptions options(std::vector<std::string> extra = {}) {
    PartidOptions o;
    o.partitions = 16;
    o.replication_factor = 3;
    o.extra_args = std::move(extra);
    o.extra_args.insert(o.extra_args.end(), {"--admin-token", "t"});
    return o;
  }
  // Node i's view of the formats (GET /cluster/status: data_format).
  json format_of(size_t i) {
    json status = cluster.get_json(i, "/cluster/status");
    return status.is_object() && status.contains("data_format") ? status["data_format"] : json();
  }
  bool every_node_has_active(uint32_t active) {
    for (size_t i = 0; i < cluster.size(); ++i) {
      json f = format_of(i);
      if (!f.is_object() || f["cluster_active"] != active) return false;
    }
    return true;
  }
  partid::cli::HttpResult transfer(size_t via, const std::string& message) {
    const json writes = json::array({{{"partition_key", "alice"}, {"message", message}},
                                     {{"partition_key", "bob"}, {"message", message}}});
    return cluster.http(via, "POST", "/txn", json{{"writes", writes}}.dump());
  }
  NatsServer nats;
  PartidCluster cluster{nats};
};

// One node preserving format 2 holds the whole cluster at 2: transactions
// (format 3) are refused with nothing written, and a node preserving an even
// older format cannot join. Preserving 3, transactions work but conditions
// (format 4), splits (format 5) and merges (format 6) are refused. Restarted
// without it, the cluster activates the build's format, conditions work, and
// an older format can no longer be preserved.
TEST_F(UpgradeTest, AFormatIsActivatedOnlyOnceNoNodeHoldsTheClusterBelowIt) {
  ASSERT_EQ(partid::storage::kStorageFormat, 6u);  // the steps below walk 2 -> 3 -> 6
  cluster.start(options({"--preserve-format", "2"}));
  cluster.start(options());
  cluster.start(options());
  ASSERT_TRUE(cluster.wait_converged(3, 30s)) << cluster.describe_not_serving();
  ASSERT_TRUE(wait_until([&] { return every_node_has_active(2); }, 20s)) << format_of(1).dump();
  EXPECT_EQ(format_of(0)["published"], 2);
  EXPECT_EQ(format_of(1)["published"], 6);
  EXPECT_EQ(format_of(1)["lowest_live"], 2);

  auto refused = transfer(1, "refused");
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_NE(refused.body.find("format_not_active"), std::string::npos) << refused.body;
  EXPECT_EQ(cluster.get_json(2, "/items/alice")["items"], json::array());
  // Plain writes are of every format: they go on.
  EXPECT_EQ(
      cluster
          .http(2, "POST", "/items", json{{"partition_key", "carol"}, {"message", "plain"}}.dump())
          .status,
      200);
  std::string log;
  EXPECT_EQ(cluster.start_expecting_failure(options({"--preserve-format", "1"}), &log), 1);
  EXPECT_NE(log.find("--preserve-format 1: the cluster's active data format is 2"),
            std::string::npos)
      << log;

  // While node 0 is down for the restart, the other two publish 6, but its
  // hold keeps the ratchet at 2: it can come back preserving 3.
  cluster.node(0).options.extra_args = {"--preserve-format", "3", "--admin-token", "t"};
  cluster.restart(0);
  ASSERT_TRUE(cluster.wait_converged(3, 30s)) << cluster.describe_not_serving();
  int status = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        status = transfer(1, "sent").status;
        return status == 200;
      },
      20s))
      << status;
  auto conditional = [&](uint64_t at) {
    const json write = {{"partition_key", "carol"}, {"message", "cas"}, {"if_sequence", at}};
    return cluster.http(1, "POST", "/txn", json{{"writes", json::array({write})}}.dump());
  };
  const uint64_t carol = cluster.get_json(1, "/items/carol")["items"][0]["sequence"];
  auto too_new = conditional(carol);
  EXPECT_EQ(too_new.status, 503) << too_new.body;
  EXPECT_NE(too_new.body.find("conditions (if_sequence) need data format 4"), std::string::npos)
      << too_new.body;
  auto split = cluster.http(1, "POST", "/cluster/split", "", "Bearer t");
  EXPECT_EQ(split.status, 503) << split.body;
  EXPECT_NE(split.body.find("a split needs data format 5"), std::string::npos) << split.body;
  auto merge = cluster.http(1, "POST", "/cluster/merge", "", "Bearer t");
  EXPECT_EQ(merge.status, 503) << merge.body;
  EXPECT_NE(merge.body.find("a merge needs data format 6"), std::string::npos) << merge.body;
  EXPECT_EQ(cluster.get_json(1, "/cluster/topology")["layout"]["count"], 16);

  cluster.node(0).options.extra_args = {"--admin-token", "t"};
  cluster.restart(0);
  ASSERT_TRUE(cluster.wait_converged(3, 30s)) << cluster.describe_not_serving();
  ASSERT_TRUE(wait_until(
      [&] {
        status = conditional(carol).status;
        return status == 200;
      },
      20s))
      << status;
  for (size_t via = 0; via < 3; ++via) {
    EXPECT_EQ(cluster.get_json(via, "/items/alice")["items"][0]["message"], "sent") << via;
    EXPECT_EQ(cluster.get_json(via, "/items/carol")["items"][0]["message"], "cas") << via;
  }
  EXPECT_TRUE(wait_until([&] { return every_node_has_active(6); }, 20s)) << format_of(0).dump();
  EXPECT_EQ(cluster.start_expecting_failure(options({"--preserve-format", "3"}), &log), 1);
  EXPECT_NE(log.find("--preserve-format 3: the cluster's active data format is 6"),
            std::string::npos)
      << log;
}

// A build older than the cluster's active format refuses to start: data it
// would receive may be in a format it would misread.
TEST_F(UpgradeTest, ANodeOfABuildOlderThanTheActiveFormatRefusesToStart) {
  const uint32_t newer = partid::storage::kStorageFormat + 1;
  {
    auto conn = coord::Connection::connect({.url = nats.url(), .name = "test"});
    coord::BucketOptions o;
    o.name = "test-format";
    auto bucket = coord::KvBucket::open_or_create(conn, o);
    ASSERT_TRUE(bucket.ok()) << bucket.status.message;
    ASSERT_TRUE(bucket.value->put("active", std::to_string(newer)).ok());
  }
  std::string log;
  EXPECT_EQ(cluster.start_expecting_failure(options(), &log), 1);
  EXPECT_NE(log.find("the cluster's active data format is " + std::to_string(newer)),
            std::string::npos)
      << log;
}

}  // namespace
}  // namespace parti::testing
