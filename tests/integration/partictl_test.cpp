#include <gtest/gtest.h>

#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "partid/cli/http_client.h"
#include "partid/cli/process.h"
#include "partid/storage/txn_space.h"
#include "support/cluster.h"
#include "support/partid_cluster.h"
#include "support/run_partictl.h"
#include "support/temp_dir.h"

namespace parti::testing {
namespace {

PartictlRun partictl(const std::string& dir, const std::string& args) {
  return run_partictl("--dir " + dir + " " + args);
}

// The README's main command in miniature: a local cluster from partictl,
// items through different nodes, the topology, a resize up and back down,
// and a clean shutdown.
TEST(PartictlTest, ClusterUpServesItemsThroughEveryNodeResizesAndClusterDownStopsIt) {
  TempDir dir;
  const std::string d = dir.sub("cluster");
  auto up = partictl(
      d, "--json cluster up --nodes 3 --replication-factor 3 --partitions 32 --sync false");
  // However the test ends: a failed ASSERT returns early, and the detached
  // nodes it left running used to load the machine for every later test.
  struct Down {
    std::string dir;
    ~Down() { partictl(dir, "cluster down"); }
  } down_at_exit{d};
  ASSERT_EQ(up.code, 0) << up.out;
  auto cluster = nlohmann::json::parse(up.out);
  ASSERT_EQ(cluster["nodes"].size(), 3u);
  // The nodes share a secret and the NATS server's token, in files only their
  // owner can read, and prove them: the server turns away a client without it.
  for (const char* file : {"/cluster-secret", "/nats-token", "/nats.conf"}) {
    const auto status = std::filesystem::status(d + file);
    ASSERT_TRUE(std::filesystem::is_regular_file(status)) << file;
    EXPECT_EQ(status.permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write)
        << file;
  }
  const std::string nats_url = cluster["nats"];
  EXPECT_THROW(connect(nats_url), coord::CoordError);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(read_file(d + "/node-" + std::to_string(i) + "/partid.log").find("not authenticated"),
              std::string::npos);
  }
  std::vector<std::string> urls;
  for (const auto& n : cluster["nodes"]) {
    urls.push_back(n["api"]);
    EXPECT_EQ(urls.back().rfind("http://127.0.0.1:", 0), 0u);
  }
  for (int k = 0; k < 9; ++k) {
    auto put = partictl(d, "--url " + urls[k % 3] + " put user-" + std::to_string(k) + " hello-" +
                               std::to_string(k) + " --range-key r");
    ASSERT_EQ(put.code, 0) << put.out;
  }
  for (int k = 0; k < 9; ++k) {
    auto get =
        partictl(d, "--url " + urls[(k + 1) % 3] + " --json get user-" + std::to_string(k) + " r");
    ASSERT_EQ(get.code, 0) << get.out;
    EXPECT_EQ(nlohmann::json::parse(get.out)["message"], "hello-" + std::to_string(k));
  }
  auto missing = partictl(d, "get nobody here");
  EXPECT_EQ(missing.code, 4);
  EXPECT_NE(missing.out.find("not_found"), std::string::npos) << missing.out;
  auto topo = partictl(d, "topology");
  ASSERT_EQ(topo.code, 0);
  EXPECT_NE(topo.out.find("32 partitions"), std::string::npos) << topo.out;
  auto status = partictl(d, "status");
  ASSERT_EQ(status.code, 0) << status.out;
  EXPECT_NE(status.out.find("32 partition(s) held"), std::string::npos) << status.out;
  auto admin = partictl(d, "admin failover 0 --token nope");  // the nodes have no admin token
  EXPECT_EQ(admin.code, 1);
  EXPECT_NE(admin.out.find("admin_disabled"), std::string::npos) << admin.out;
  auto list = partictl(d, "--json list");
  EXPECT_EQ(nlohmann::json::parse(list.out)["total"], 9) << list.out;
  // A key's items page by page: the cursor a page ends with, --after it, --all.
  for (int e = 1; e <= 5; ++e) {
    ASSERT_EQ(partictl(d, "put feed m" + std::to_string(e) + " -r e" + std::to_string(e)).code, 0);
  }
  auto first = partictl(d, "get feed --limit 2");
  EXPECT_NE(first.out.find("more after \"e4\""), std::string::npos) << first.out;
  auto second = nlohmann::json::parse(partictl(d, "--json get feed --limit 2 --after e4").out);
  EXPECT_EQ(second["items"][0]["range_key"], "e3") << second.dump();
  EXPECT_EQ(second["next"], "e2") << second.dump();
  auto every = nlohmann::json::parse(partictl(d, "--json get feed --limit 2 --all").out);
  ASSERT_EQ(every["items"].size(), 5u) << every.dump();
  EXPECT_EQ(every["items"][4]["message"], "m1");
  EXPECT_FALSE(every.contains("next"));
  auto rest = nlohmann::json::parse(partictl(d, "--json get feed --limit 2 --all --after e3").out);
  EXPECT_EQ(rest["items"].size(), 2u) << rest.dump();
  // A transaction: two puts and a delete, all or none.
  ASSERT_EQ(partictl(d, "put acct-c gone").code, 0);
  auto txn = partictl(d, "--json txn --put acct-a '' 90 --put acct-b r 110 --delete acct-c ''");
  ASSERT_EQ(txn.code, 0) << txn.out;
  const std::string txn_id = nlohmann::json::parse(txn.out)["txn"];
  auto a = partictl(d, "--url " + urls[1] + " --json get acct-a");
  EXPECT_EQ(nlohmann::json::parse(a.out)["items"][0]["message"], "90") << a.out;
  auto b = partictl(d, "--url " + urls[2] + " --json get acct-b r");
  EXPECT_EQ(nlohmann::json::parse(b.out)["message"], "110") << b.out;
  EXPECT_EQ(nlohmann::json::parse(partictl(d, "--json get acct-c").out)["items"].size(), 0u);
  auto txn_status = partictl(d, "txn-status " + txn_id);
  EXPECT_EQ(txn_status.code, 0) << txn_status.out;
  EXPECT_NE(txn_status.out.find("committed"), std::string::npos) << txn_status.out;
  EXPECT_EQ(partictl(d, "txn --put only two").code, 2);
  // A condition: acct-a is at the sequence the transaction wrote it with.
  const uint64_t a_at = nlohmann::json::parse(a.out)["items"][0]["sequence"];
  auto stale = partictl(d, fmt::format("txn --put acct-a '' 80 --if-seq acct-a '' {}", a_at - 1));
  EXPECT_EQ(stale.code, 1) << stale.out;
  EXPECT_NE(stale.out.find("txn_condition_failed"), std::string::npos) << stale.out;
  // The refusal names its attempt; the retry keeps that attempt's deadline.
  const auto named = stale.out.find("--retry-of ");
  ASSERT_NE(named, std::string::npos) << stale.out;
  const std::string stale_id =
      stale.out.substr(named + 11, stale.out.find(' ', named + 11) - named - 11);
  auto fresh =
      partictl(d, fmt::format("--json txn --put acct-a '' 80 --if-seq acct-a '' {} --retry-of {}",
                              a_at, stale_id));
  ASSERT_EQ(fresh.code, 0) << fresh.out;
  const std::string fresh_id = nlohmann::json::parse(fresh.out)["txn"];
  EXPECT_NE(fresh_id, stale_id);
  EXPECT_EQ(partid::storage::parse_txn_id(fresh_id)->deadline_ms,
            partid::storage::parse_txn_id(stale_id)->deadline_ms);
  auto bad_retry = partictl(d, "txn --put acct-a '' 1 --retry-of nonsense");
  EXPECT_EQ(bad_retry.code, 1);
  EXPECT_NE(bad_retry.out.find("bad_retry_of"), std::string::npos) << bad_retry.out;
  EXPECT_EQ(partictl(d, "txn --put acct-a '' 1 --if-seq acct-z '' 0").code, 2);
  EXPECT_EQ(partictl(d, "txn --put acct-a '' 1 --if-seq acct-a '' x").code, 2);
  auto twice = partictl(d, "txn --put k '' 1 --delete k ''");
  EXPECT_EQ(twice.code, 1);
  EXPECT_NE(twice.out.find("duplicate_item"), std::string::npos) << twice.out;
  // Grown by one and shrunk back (the newest node drains): every item stays
  // readable, through the new node too while it is there.
  auto grown = partictl(d, "--json cluster resize --nodes 4");
  ASSERT_EQ(grown.code, 0) << grown.out;
  const auto four = nlohmann::json::parse(grown.out);
  ASSERT_EQ(four["nodes"].size(), 4u);
  const std::string newest = four["nodes"][3]["api"];
  for (int k = 0; k < 9; ++k) {
    auto get = partictl(d, "--url " + newest + " --json get user-" + std::to_string(k) + " r");
    ASSERT_EQ(get.code, 0) << get.out;
    EXPECT_EQ(nlohmann::json::parse(get.out)["message"], "hello-" + std::to_string(k));
  }
  // The grow returned once its staged join reached the placement and settled
  // (each step's assignment says whether more follow), so the shrink is
  // taken at once.
  auto shrunk = partictl(d, "--json cluster resize --nodes 3");
  ASSERT_EQ(shrunk.code, 0) << shrunk.out;
  EXPECT_EQ(nlohmann::json::parse(shrunk.out)["nodes"].size(), 3u);
  EXPECT_EQ(partid::cli::http_request(newest, "GET", "/health", {}, std::chrono::milliseconds(500))
                .status,
            0);
  for (int k = 0; k < 9; ++k) {
    auto get = partictl(d, "--url " + urls[k % 3] + " --json get user-" + std::to_string(k) + " r");
    ASSERT_EQ(get.code, 0) << get.out;
    EXPECT_EQ(nlohmann::json::parse(get.out)["message"], "hello-" + std::to_string(k));
  }
  EXPECT_EQ(partictl(d, "cluster up --nodes 1").code, 1);  // already running there
  auto down = partictl(d, "cluster down");
  ASSERT_EQ(down.code, 0) << down.out;
  for (const auto& n : cluster["nodes"]) {
    auto r =
        partid::cli::http_request(n["api"], "GET", "/health", {}, std::chrono::milliseconds(500));
    EXPECT_EQ(r.status, 0) << "still answering: " << n["api"];
  }
  EXPECT_EQ(partictl(d, "cluster down").code, 1);  // nothing left to stop
}

// A node that exits while starting is reported at once, with the end of its
// log, instead of after the whole start-up deadline with only a path.
TEST(PartictlTest, ANodeThatExitsWhileStartingIsReportedWithItsLog) {
  TempDir dir;
  const std::string d = dir.sub("cluster");
  ::setenv("PARTID_MAX_BODY_BYTES", "1", 1);  // below its range: every node refuses to start
  auto up = partictl(d, "cluster up --nodes 1");
  ::unsetenv("PARTID_MAX_BODY_BYTES");
  partictl(d, "cluster down");
  EXPECT_NE(up.code, 0);
  EXPECT_NE(up.out.find("exited before it was ready"), std::string::npos) << up.out;
  EXPECT_NE(up.out.find("max-body-bytes"), std::string::npos) << up.out;  // the node's own words
}

}  // namespace
}  // namespace parti::testing
