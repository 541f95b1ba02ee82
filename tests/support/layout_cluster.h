// Support for tests that change a live cluster's layout (partid/split):
// an RF=3 cluster of partid nodes, a writer that overwrites keys through
// every node and tracks what each may read back, and the checks that no
// acknowledged write was lost and every partition's replicas agree.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "partid/cli/http_client.h"
#include "partid/routing/layout.h"
#include "support/partid_cluster.h"
#include "support/wait.h"

namespace parti::testing {

using nlohmann::json;
using namespace std::chrono_literals;

inline constexpr const char* kSplitToken = "split-token";
inline constexpr uint32_t kStartPartitions = 4;

// Overwrites a fixed set of keys round-robin through the given nodes. For
// each key it keeps what a read may return: the last acknowledged value, and
// the values of later writes whose outcome was unknown (a failed write may
// still have committed).
class Overwriter {
 public:
  Overwriter(std::vector<std::string> apis, std::vector<std::string> keys)
      : apis_(std::move(apis)), keys_(std::move(keys)) {
    thread_ = std::thread([this] { loop(); });
  }
  // Keys "key0" .. "key<count - 1>".
  Overwriter(std::vector<std::string> apis, size_t count)
      : Overwriter(std::move(apis), numbered_keys(count)) {}
  ~Overwriter() { stop(); }
  void stop() {
    running_ = false;
    if (thread_.joinable()) thread_.join();
  }
  size_t acked() const { return acked_count_; }
  size_t key_count() const { return keys_.size(); }
  std::map<std::string, std::set<std::string>> possible() {
    std::lock_guard lock(mu_);
    return possible_;
  }
  std::map<int, size_t> failures() {
    std::lock_guard lock(mu_);
    return failures_;
  }

 private:
  static std::vector<std::string> numbered_keys(size_t count) {
    std::vector<std::string> keys;
    for (size_t k = 0; k < count; ++k) keys.push_back("key" + std::to_string(k));
    return keys;
  }
  void loop() {
    for (uint64_t n = 0; running_; ++n) {
      const std::string& key = keys_[n % keys_.size()];
      const std::string value = "v" + std::to_string(n);
      const json body = {{"partition_key", key}, {"message", value}};
      auto r = partid::cli::http_request(apis_[n % apis_.size()], "POST", "/items", body.dump());
      std::lock_guard lock(mu_);
      auto& values = possible_[key];
      if (r.status == 200) {
        values = {value};
        ++acked_count_;
      } else {
        values.insert(value);
        ++failures_[r.status];
      }
    }
  }
  std::vector<std::string> apis_;
  std::vector<std::string> keys_;
  std::mutex mu_;
  std::map<std::string, std::set<std::string>> possible_;
  std::map<int, size_t> failures_;
  std::atomic<size_t> acked_count_{0};
  std::atomic<bool> running_{true};
  std::thread thread_;
};

class LayoutClusterTest : public ::testing::Test {
 protected:
  // A failure that shows only rarely is diagnosed from what the nodes
  // logged; their directories go with the test.
  void TearDown() override {
    if (HasFailure()) std::printf("%s", cluster.describe_not_serving().c_str());
  }
  void start_nodes(size_t n) {
    PartidOptions options;
    options.partitions = kStartPartitions;
    options.replication_factor = 3;
    options.extra_args = {"--admin-token", kSplitToken};
    for (size_t i = 0; i < n; ++i) cluster.start(options);
    ASSERT_TRUE(cluster.wait_converged(n, 30s)) << cluster.describe_not_serving();
    ASSERT_TRUE(cluster.wait_serving(30s));
  }
  std::vector<std::string> apis() {
    std::vector<std::string> out;
    for (size_t i = 0; i < cluster.size(); ++i) out.push_back(cluster.node(i).api);
    return out;
  }
  partid::cli::HttpResult split(size_t via) {
    return cluster.http(via, "POST", "/cluster/split", "", std::string("Bearer ") + kSplitToken);
  }
  partid::cli::HttpResult merge(size_t via) {
    return cluster.http(via, "POST", "/cluster/merge", "", std::string("Bearer ") + kSplitToken);
  }
  // Node `via` routes by a layout of `count` partitions with no split or
  // merge under way, and serves every partition.
  bool split_done(size_t via, uint32_t count) {
    const json t = cluster.get_json(via, "/cluster/topology");
    return t.is_object() && t["layout"]["count"] == count && !t["layout"].contains("split") &&
           t["partitions"] == count;
  }
  std::string leader_of(size_t via, uint32_t p) {
    const json t = cluster.get_json(via, "/cluster/topology");
    return t["assignment"][p]["replicas"][0].get<std::string>();
  }
  size_t index_of(const std::string& id) {
    for (size_t i = 0; i < cluster.size(); ++i) {
      if (cluster.node(i).id == id) return i;
    }
    return SIZE_MAX;
  }
  std::string read(size_t via, const std::string& key) {
    auto r = cluster.http(via, "GET", "/items/" + key);
    const json j = json::parse(r.body, nullptr, false);
    if (r.status != 200 || !j.is_object() || j["items"].empty()) return "<" + r.body + ">";
    return j["items"][0]["message"];
  }
  // Waits for every node to reach a layout of `count` partitions.
  void expect_layout_done(uint32_t count) {
    for (size_t i = 0; i < cluster.size(); ++i) {
      ASSERT_TRUE(wait_until([&] { return split_done(i, count); }, 30s))
          << "node " << i << ": " << cluster.get_json(i, "/cluster/topology")["layout"].dump();
    }
  }
  // Stops the writers (of disjoint keys); every node must read each of
  // their keys' last acknowledged value (or a later one whose outcome was
  // unknown), and the cluster count each key once.
  void expect_writes_kept(const std::vector<Overwriter*>& writers, const char* during) {
    for (Overwriter* writer : writers) writer->stop();
    size_t keys = 0;
    for (Overwriter* writer : writers) {
      for (const auto& [status, n] : writer->failures()) {
        std::printf("writes answered %d during %s: %zu\n", status, during, n);
      }
      const auto possible = writer->possible();
      ASSERT_EQ(possible.size(), writer->key_count());
      for (size_t via = 0; via < cluster.size(); ++via) expect_reads(via, possible);
      keys += possible.size();
    }
    EXPECT_EQ(total_items(0), static_cast<int64_t>(keys));
  }
  void expect_reads(size_t via, const std::map<std::string, std::set<std::string>>& possible) {
    for (const auto& [key, values] : possible) {
      std::string got;
      // Leader reads: retried while a partition changes hands after a kill.
      EXPECT_TRUE(wait_until(
          [&] {
            got = read(via, key);
            return values.contains(got);
          },
          10s))
          << key << " reads " << got << " through node " << via << ", not its last write";
    }
  }
  void expect_every_partition_validates(size_t via, uint32_t partitions) {
    for (uint32_t p = 0; p < partitions; ++p) {
      json last;
      EXPECT_TRUE(wait_until(
          [&] {
            auto r =
                cluster.http(via, "GET", "/admin/partitions/" + std::to_string(p) + "/validate", "",
                             std::string("Bearer ") + kSplitToken);
            last = json::parse(r.body, nullptr, false);
            return last.is_object() && last["consistent"] == true;
          },
          20s))
          << "partition " << p << ": " << last.dump();
    }
  }
  int64_t total_items(size_t via) {
    const json counts = cluster.get_json(via, "/items");
    return counts.is_object() ? counts["total"].get<int64_t>() : -1;
  }

  NatsServer nats;
  PartidCluster cluster{nats};
};

}  // namespace parti::testing
