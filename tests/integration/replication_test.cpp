// Replication with real partid processes (RF=3) on a real nats-server: every
// write on every replica, a leader killed with SIGKILL under continuous writes,
// a paused follower, a wiped replica, a message of an older epoch, and the
// loss of a minority and then of a majority of the replicas.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <fstream>

#include <atomic>
#include <boost/asio.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "parti/coord/kv_bucket.h"
#include "parti/core/node_record.h"
#include "partid/routing/topology.h"
#include "partid/storage/codec.h"
#include "partid/storage/store_engine.h"
#include "proto/storage.pb.h"
#include "support/cluster.h"
#include "support/network_partitions.h"
#include "support/partid_cluster.h"
#include "support/peer_wire.h"
#include "support/run_partictl.h"
#include "support/tcp_proxy.h"
#include "support/wait.h"

namespace parti::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace asio = boost::asio;

constexpr uint32_t kPartitions = 16;

// The lines of `text` that contain `needle`: what a failure prints of a log.
std::string lines_about(const std::string& needle, const std::string& text) {
  std::string out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(needle) != std::string::npos) out += line + "\n";
  }
  return out;
}
constexpr const char* kAdminToken = "s3cret";

class Writer;

class ReplicationTest : public ::testing::Test {
 protected:
  // RF=3 nodes; with an admin token when `admin` (kAdminToken).
  void start_nodes(size_t n, bool admin = false) {
    for (size_t i = 0; i < n; ++i) cluster.start(node_options(admin));
    ASSERT_TRUE(cluster.wait_converged(n, 30s)) << cluster.describe_not_serving();
  }
  // A write through each of three nodes reaches all three: every pair of
  // nodes holds a working peer connection (RF 3 on three nodes).
  void every_pair_talks(const std::string& step) {
    ASSERT_TRUE(cluster.wait_converged(3, 60s)) << step << ": " << cluster.describe_not_serving();
    for (size_t via = 0; via < 3; ++via) {
      const std::string key = "talks-" + std::to_string(pair_writes_++);
      ASSERT_EQ(put(via, key, step), 200) << step;
      for (size_t node = 0; node < 3; ++node) {
        EXPECT_TRUE(wait_until([&] { return replica_read(node, key) == step; }, 15s))
            << step << ": " << key << " never reached node " << node;
      }
    }
  }
  int pair_writes_ = 0;
  // The admin token reaches the nodes in a file, as it should in production.
  PartidOptions node_options(bool admin) {
    PartidOptions options;
    options.partitions = kPartitions;
    options.replication_factor = 3;
    if (admin) options.extra_args = {"--admin-token-file", admin_token_file()};
    return options;
  }
  std::string admin_token_file() {
    const std::string path = cluster.root() + "/admin-token";
    std::ofstream(path) << kAdminToken << "\n";
    return path;
  }
  // POST /admin/partitions/{p}/{op} on node `node`; no token when empty.
  partid::cli::HttpResult admin(size_t node, uint32_t p, const std::string& op,
                                const std::string& token = kAdminToken) {
    return partid::cli::http_request(cluster.node(node).api, "POST",
                                     "/admin/partitions/" + std::to_string(p) + "/" + op, {}, 10s,
                                     token.empty() ? "" : "Bearer " + token);
  }
  // RF=3 node options whose peer port the others reach only through `link`
  // (which forwards to `peer_port`, where the node listens).
  PartidOptions behind(const TcpProxy& link, int peer_port, std::vector<std::string> extra = {}) {
    PartidOptions o = node_options(false);
    o.peer_listen = "127.0.0.1:" + std::to_string(peer_port);
    o.extra_args = {"--peer-advertise", "127.0.0.1:" + std::to_string(link.port())};
    o.extra_args.insert(o.extra_args.end(), extra.begin(), extra.end());
    return o;
  }
  // A key (prefix + a number) whose partition node `i` leads.
  std::string key_led_by(size_t i, const std::string& prefix) {
    for (int k = 0;; ++k) {
      const std::string candidate = prefix + std::to_string(k);
      if (replicas_of(0, partition_of(candidate)).front() == cluster.node(i).id) return candidate;
    }
  }
  // Node `i`'s record in the heartbeat bucket, as the coordinator reads it.
  std::optional<NodeRecord> record_of(size_t i) {
    if (!heartbeats) {
      auto opened = coord::KvBucket::open_or_create(connect(nats.url()), {"test-heartbeat"});
      if (!opened.ok()) return std::nullopt;
      heartbeats = opened.value;
    }
    auto entry = heartbeats->get(cluster.node(i).id);
    if (!entry.ok()) return std::nullopt;
    return decode_node_record(entry.value.value, nullptr);
  }
  std::shared_ptr<coord::KvBucket> heartbeats;
  // GET /admin/partitions/{p}/validate on node `via`; no token when empty.
  partid::cli::HttpResult validate(size_t via, uint32_t p, const std::string& token = kAdminToken) {
    return partid::cli::http_request(cluster.node(via).api, "GET",
                                     "/admin/partitions/" + std::to_string(p) + "/validate", {},
                                     10s, token.empty() ? "" : "Bearer " + token);
  }
  // Every partition's replicas, compared through node `via`, agree. Not at
  // once: a replica may still be catching up after a failure.
  void expect_every_partition_validates(size_t via) {
    for (uint32_t p = 0; p < kPartitions; ++p) {
      json last;
      EXPECT_TRUE(wait_until(
          [&] {
            last = json::parse(validate(via, p).body, nullptr, false);
            return last.is_object() && last["consistent"] == true;
          },
          20s))
          << last.dump();
    }
  }
  int put(size_t via, const std::string& key, const std::string& message) {
    json body = {{"partition_key", key}, {"message", message}};
    return cluster.http(via, "POST", "/items", body.dump()).status;
  }
  // Empty when the write was acknowledged, else "<status> <error code>".
  // Takes the node's URL, not its index: a writer thread must not read the
  // cluster's node list while the test thread starts nodes.
  static std::string put_outcome(const std::string& api, const std::string& key,
                                 const std::string& message) {
    json body = {{"partition_key", key}, {"message", message}};
    auto r = partid::cli::http_request(api, "POST", "/items", body.dump());
    if (r.status == 200) return {};
    json j = json::parse(r.body, nullptr, false);
    const bool coded = j.is_object() && j.contains("error") && j["error"].is_object();
    return std::to_string(r.status) + " " + (coded ? j["error"].value("code", "?") : r.error);
  }
  // The API URLs of nodes 0..n-1.
  std::vector<std::string> apis_of(size_t n) {
    std::vector<std::string> apis;
    for (size_t i = 0; i < n; ++i) apis.push_back(cluster.node(i).api);
    return apis;
  }
  // The message node `via` serves for `key` from its own replica, if any.
  std::string replica_read(size_t via, const std::string& key) {
    auto r = cluster.http(via, "GET", "/items/" + key + "?consistency=replica");
    json j = json::parse(r.body, nullptr, false);
    if (r.status != 200 || !j.is_object() || j["items"].empty()) return {};
    return j["items"][0]["message"];
  }
  // The message of `key` read through its leader via node `via`, "" when the
  // leader has no such item. Only a 200 or a 404 is an answer: a read refused
  // while a leadership changes hands (a coded 503 or 504) is asked again for
  // up to 15 s, so that "lost" means lost and not "refused once"; with no
  // answer by then, what the last refusal said.
  std::string leader_read(size_t via, const std::string& key) {
    std::string read;
    wait_until(
        [&] {
          auto r = cluster.http(via, "GET", "/items/" + key);
          json j = json::parse(r.body, nullptr, false);
          if (r.status != 200 && r.status != 404) {
            read = fmt::format("<no answer: {} {}{}>", r.status, r.error, r.body);
            return false;
          }
          const bool found = r.status == 200 && j.is_object() && !j["items"].empty();
          read = found ? j["items"][0].value("message", "") : "";
          return true;
        },
        15s);
    return read;
  }
  uint32_t partition_of(const std::string& key) {
    return partid::routing::partition_of(key, kPartitions);
  }
  // Node `i`'s view of one partition from /cluster/status (null if absent).
  json partition_status(size_t i, uint32_t p) {
    auto s = cluster.get_json(i, "/cluster/status");
    if (!s.is_object()) return nullptr;
    for (const auto& x : s["partitions"]) {
      if (x["partition"] == p) return x;
    }
    return nullptr;
  }
  // The first `n` keys "<prefix><k>" that fall in partition_of(prefix).
  std::vector<std::string> keys_beside(const std::string& prefix, size_t n) {
    std::vector<std::string> keys;
    for (int k = 0; keys.size() < n; ++k) {
      const std::string key = prefix + std::to_string(k);
      if (partition_of(key) == partition_of(prefix)) keys.push_back(key);
    }
    return keys;
  }
  // A counter of /cluster/status's "replication" summed over nodes 0..n-1.
  void rebuild_eight_partitions(const std::vector<std::string>& budgets,
                                TcpProxy* slow_link = nullptr, int peer_port = 0);
  uint64_t replication_counter(const std::string& name, size_t n) {
    std::vector<size_t> nodes(n);
    std::iota(nodes.begin(), nodes.end(), size_t{0});
    return replication_counter(name, nodes);
  }
  // The same counter summed over the given nodes.
  uint64_t replication_counter(const std::string& name, const std::vector<size_t>& nodes) {
    uint64_t sum = 0;
    for (size_t i : nodes) {
      sum += cluster.get_json(i, "/cluster/status")["replication"][name].get<uint64_t>();
    }
    return sum;
  }
  // Waits until node `i` holds partition `p` rebuilt (no longer rebuilding)
  // through at least `watermark`; the partition's status if it does not.
  ::testing::AssertionResult rebuilt(size_t i, uint32_t p, uint64_t watermark,
                                     std::chrono::milliseconds within) {
    const bool done = wait_until(
        [&] {
          auto s = partition_status(i, p);
          return s.is_object() && !s["rebuilding"].get<bool>() && s["watermark"] >= watermark;
        },
        within);
    if (done) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "partition " << p << " on node " << i << ": " << partition_status(i, p).dump();
  }
  size_t index_of(const std::string& id) {
    for (size_t i = 0; i < cluster.size(); ++i) {
      if (cluster.node(i).id == id) return i;
    }
    return SIZE_MAX;
  }
  // Writes through every node, kills node 0 (a leader of some partitions)
  // without warning, keeps writing through the others, then reads every
  // acknowledged write back.
  void kill_leader_under_writes(size_t nodes);
  void partition_leader_under_writes(NetworkPartitions::Cut cut);
  // Node 0 started as `failing` (its disk breaks while `flag` exists), two
  // others beside it, and writes through all three, then through the others
  // only once `flag` is made: node 0 must stop with exit code 70 and `reason`
  // in its log, and its partitions fail over while the writes go on.
  std::unique_ptr<Writer> break_disk_under_writes(const PartidOptions& failing,
                                                  const std::string& flag,
                                                  const std::string& reason);
  // `flag` gone, node 0 started again on its data: it catches up, the writes
  // go on, and no acknowledged write is lost.
  void mend_disk(Writer& writer, const std::string& flag);
  // `more` writes of `writer` are acknowledged, then it stops; every write it
  // had acknowledged reads back through node `via`'s leaders, and every
  // partition's replicas agree.
  void expect_writes_go_on_and_none_lost(Writer& writer, size_t via, size_t more);
  void split_under_writes(NetworkPartitions::NatsSide nats_side);
  // Node 0 (`leader`'s options, behind a proxy that can stall its peer port)
  // is sent a write by node 1, whose forwards time out after 1 s; the link
  // stalls until node 1 has answered 504 and `held_past` more has gone by:
  // the write must be refused unserved and the link serve forwards again.
  void forward_held_past_its_deadline(PartidOptions leader, std::chrono::milliseconds held_past);
  // For the partition scenarios' writers (Writer, below): writes through
  // `apis[v]` with keys prefixed by `prefix`; every failure of `writer` coded
  // 503 or 504; every acknowledged write of each (prefix, writer) read back
  // through node `via`'s leaders.
  static std::function<std::string(size_t, const std::string&, const std::string&)> writes_prefixed(
      std::vector<std::string> apis, std::string prefix);
  void expect_only_coded_failures(Writer& writer, const std::string& through);
  void expect_acknowledged_readable(size_t via,
                                    std::initializer_list<std::pair<std::string, Writer*>> writers);
  // Writes `key` through node 0 and waits until the partition's first
  // follower holds it: the partition, its replicas and that follower.
  struct Placed {
    uint32_t partition = 0;
    std::vector<std::string> replicas;
    size_t follower = 0;
  };
  Placed put_on_a_follower(const std::string& key, const std::string& message) {
    EXPECT_EQ(put(0, key, message), 200);
    Placed placed{partition_of(key), replicas_of(0, partition_of(key)), 0};
    placed.follower = index_of(placed.replicas[1]);
    EXPECT_TRUE(wait_until([&] { return replica_read(placed.follower, key) == message; }, 10s));
    return placed;
  }
  // The most partitions any one node leads, per node `via`'s topology.
  size_t most_partitions_led(size_t via) {
    auto t = cluster.get_json(via, "/cluster/topology");
    std::map<std::string, size_t> led;
    for (const auto& a : t["assignment"]) ++led[a["replicas"][0].get<std::string>()];
    size_t most = 0;
    for (const auto& [node, n] : led) most = std::max(most, n);
    return most;
  }
  // The replicas of `p` (leader first) as node `via` routes them.
  std::vector<std::string> replicas_of(size_t via, uint32_t p) {
    auto t = cluster.get_json(via, "/cluster/topology");
    return t["assignment"][p]["replicas"].get<std::vector<std::string>>();
  }

  NatsServer nats;
  // Set by tests that partition the network; it outlives the nodes, which
  // stop faster with their links up.
  std::optional<NetworkPartitions> network;
  PartidCluster cluster{nats};
};

TEST_F(ReplicationTest, OnThreeNodesEveryWriteReachesEveryReplica) {
  start_nodes(3);
  for (int k = 0; k < 60; ++k) {
    ASSERT_EQ(put(k % 3, "k" + std::to_string(k), "v" + std::to_string(k)), 200) << k;
  }
  // Followers serve what their watermark covers; they learn it from the
  // leader's next message.
  for (size_t node = 0; node < 3; ++node) {
    for (int k = 0; k < 60; ++k) {
      const std::string key = "k" + std::to_string(k);
      EXPECT_TRUE(
          wait_until([&] { return replica_read(node, key) == "v" + std::to_string(k); }, 10s))
          << "node " << node << " key " << key;
    }
  }
  // And their watermarks meet: a barrier of an epoch begun meanwhile (the
  // leaders balanced after the start) may still be on its way to one of them.
  for (uint32_t p = 0; p < kPartitions; ++p) {
    std::set<uint64_t> watermarks;
    EXPECT_TRUE(wait_until(
        [&] {
          watermarks.clear();
          for (size_t node = 0; node < 3; ++node) {
            watermarks.insert(partition_status(node, p)["watermark"].get<uint64_t>());
          }
          return watermarks.size() == 1;
        },
        10s))
        << "partition " << p << ": " << watermarks.size() << " watermarks";
  }
}

// Each node measures how far its peers' wall clocks are from its own (the
// forwards' deadlines rest on it, node/clock_probe.h): here, one machine's
// clock, so within a few milliseconds.
TEST_F(ReplicationTest, EachNodeMeasuresItsPeersClocks) {
  start_nodes(3);
  ASSERT_TRUE(cluster.wait_serving(30s));
  for (size_t node = 0; node < 3; ++node) {
    EXPECT_TRUE(wait_until(
        [&] { return cluster.metric(node, "partid_peer_clock_probes_total") >= 4; }, 20s))
        << "node " << node;
    EXPECT_LE(cluster.metric(node, "partid_peer_clock_offset_max_ms"), 50) << "node " << node;
  }
}

// Each node's record in the heartbeat bucket carries how far its replica of
// every partition has got (its last log sequence), which the coordinator's
// successor rule reads when a leader dies.
TEST_F(ReplicationTest, EachNodesRecordReportsItsReplicasProgress) {
  start_nodes(3);
  ASSERT_TRUE(cluster.wait_serving(30s));
  const uint32_t p = partition_of("progress-key");
  for (int k = 0; k < 10; ++k) {
    ASSERT_EQ(put(k % 3, "progress-key", "v" + std::to_string(k)), 200) << k;
  }
  uint64_t last = 0;
  for (size_t node = 0; node < 3; ++node) {
    last = std::max(last, partition_status(node, p)["last_sequence"].get<uint64_t>());
  }
  ASSERT_GE(last, 10u);
  auto heartbeats = coord::KvBucket::open_or_create(connect(nats.url()), {"test-heartbeat"});
  ASSERT_TRUE(heartbeats.ok()) << heartbeats.status.message;
  for (size_t node = 0; node < 3; ++node) {
    const std::string id = cluster.node(node).id;
    EXPECT_TRUE(wait_until(
        [&] {
          auto entry = heartbeats.value->get(id);
          if (!entry.ok()) return false;
          auto record = decode_node_record(entry.value.value, nullptr);
          return record && record->progress.size() == kPartitions && record->progress.at(p) >= last;
        },
        10s))
        << id << " never reported sequence " << last << " of partition " << p;
  }
}

// Each serving leader has claimed its replica set in the seal register (one
// KV key per partition), and after a leader's death the successor's set
// replaces it: the register always names the set a new leader must hear from.
TEST_F(ReplicationTest, TheSealRegisterNamesEachPartitionsServingSet) {
  start_nodes(3);
  ASSERT_TRUE(cluster.wait_serving(30s));
  auto seals = coord::KvBucket::open_or_create(connect(nats.url()), {"test-seals"});
  ASSERT_TRUE(seals.ok()) << seals.status.message;
  auto register_matches_topology = [&] {
    auto t = cluster.get_json(0, "/cluster/topology");
    for (uint32_t p = 0; p < kPartitions; ++p) {
      auto entry = seals.value->get("partition." + std::to_string(p));
      partid::pb::SealedSet sealed;
      if (!entry.ok() || !sealed.ParseFromString(entry.value.value)) return false;
      const auto& a = t["assignment"][p];
      std::vector<std::string> members(sealed.members().begin(), sealed.members().end());
      if (sealed.epoch() != a["epoch"].get<uint64_t>() ||
          members != a["replicas"].get<std::vector<std::string>>()) {
        return false;
      }
    }
    return true;
  };
  EXPECT_TRUE(wait_until(register_matches_topology, 10s));
  const std::string leader0 = replicas_of(0, 0).front();
  cluster.kill(index_of(leader0));
  const size_t survivor = index_of(leader0) == 0 ? 1 : 0;
  ASSERT_TRUE(wait_until([&] { return replicas_of(survivor, 0).size() == 2; }, 30s));
  // A write to partition 0 itself: one elsewhere can succeed before it seals.
  std::string key = "after";
  while (partition_of(key) != 0) key += "x";
  ASSERT_TRUE(wait_until([&] { return put(survivor, key, "x") == 200; }, 30s));
  auto entry = seals.value->get("partition.0");
  ASSERT_TRUE(entry.ok());
  partid::pb::SealedSet sealed;
  ASSERT_TRUE(sealed.ParseFromString(entry.value.value));
  EXPECT_EQ(std::count(sealed.members().begin(), sealed.members().end(), leader0), 0);
}

TEST_F(ReplicationTest, OnFiveNodesEachPartitionHasThreeReplicasThatAgree) {
  start_nodes(5);
  for (int k = 0; k < 100; ++k) {
    // The answer's code, if it fails: a CI run once saw one 503 here, at k 97.
    ASSERT_EQ(
        put_outcome(cluster.node(k % 5).api, "k" + std::to_string(k), "v" + std::to_string(k)), "")
        << k << "\n"
        << cluster.describe_not_serving();
  }
  for (uint32_t p = 0; p < kPartitions; ++p) {
    EXPECT_TRUE(wait_until(
        [&] {
          size_t holders = 0;
          std::set<uint64_t> watermarks;
          for (size_t node = 0; node < 5; ++node) {
            auto s = partition_status(node, p);
            if (s.is_null()) continue;
            ++holders;
            watermarks.insert(s["watermark"].get<uint64_t>());
          }
          return holders == 3 && watermarks.size() == 1;
        },
        10s))
        << "partition " << p;
  }
  for (int k = 0; k < 100; k += 7) {
    for (size_t node = 0; node < 5; ++node) {
      EXPECT_EQ(leader_read(node, "k" + std::to_string(k)), "v" + std::to_string(k));
    }
  }
}

// Writes keys through the given nodes until stopped, recording what was
// acknowledged and when each partition first accepted a write after `mark`.
class Writer {
 public:
  using Put = std::function<std::string(size_t, const std::string&, const std::string&)>;
  Writer(Put put, std::vector<size_t> via) : put_(std::move(put)), via_(std::move(via)) {
    thread_ = std::thread([this] { loop(); });
  }
  ~Writer() { stop(); }
  void stop() {
    running_ = false;
    if (thread_.joinable()) thread_.join();
  }
  void only_through(std::vector<size_t> via) {
    std::lock_guard lock(mu_);
    via_ = std::move(via);
  }
  std::map<std::string, std::string> acked() {
    std::lock_guard lock(mu_);
    return acked_;
  }
  size_t acked_count() {
    std::lock_guard lock(mu_);
    return acked_.size();
  }
  // How many writes failed with each outcome ("<status> <code>").
  std::map<std::string, size_t> failures() {
    std::lock_guard lock(mu_);
    return failures_;
  }

 private:
  void loop() {
    for (uint64_t n = 0; running_; ++n) {
      size_t via;
      {
        std::lock_guard lock(mu_);
        via = via_[n % via_.size()];
      }
      const std::string key = "w" + std::to_string(n), message = "m" + std::to_string(n);
      const std::string outcome = put_(via, key, message);
      std::lock_guard lock(mu_);
      if (outcome.empty()) {
        acked_[key] = message;
      } else {
        ++failures_[outcome];
      }
    }
  }
  Put put_;
  std::mutex mu_;
  std::vector<size_t> via_;
  std::map<std::string, std::string> acked_;
  std::map<std::string, size_t> failures_;
  std::atomic<bool> running_{true};
  std::thread thread_;
};

// Per partition of `next`: the replicas `previous` did not have, at most, and
// whether every leader of `next` was a replica in `previous`.
std::pair<size_t, bool> step_of(const json& previous, const json& next) {
  size_t most = 0;
  bool leaders_held = true;
  for (size_t p = 0; p < next.size(); ++p) {
    const auto old = previous[p]["replicas"].get<std::vector<std::string>>();
    const auto now = next[p]["replicas"].get<std::vector<std::string>>();
    size_t arriving = 0;
    for (const auto& id : now) arriving += std::count(old.begin(), old.end(), id) ? 0 : 1;
    most = std::max(most, arriving);
    leaders_held = leaders_held && std::count(old.begin(), old.end(), now.front()) > 0;
  }
  return {most, leaders_held};
}

// The coordinator's log shows a step of a staged move, and a publish after
// it that is not one: the placement was reached.
bool staged_move_finished(const std::string& log) {
  const size_t step = log.find("a step of a staged move");
  if (step == std::string::npos) return false;
  const size_t last = log.rfind("published assignment");
  const size_t end = log.find('\n', last);
  return last > step && log.substr(last, end - last).find("a step of") == std::string::npos;
}

// Every assignment one node routes by, by version, while it runs.
class TopologyWatcher {
 public:
  explicit TopologyWatcher(std::string api)
      : thread_([this, api = std::move(api)] {
          while (watching_) {
            auto t = json::parse(partid::cli::http_request(api, "GET", "/cluster/topology").body,
                                 nullptr, false);
            if (t.is_object() && t.contains("version"))
              seen_.emplace(t["version"], t["assignment"]);
          }
        }) {}
  ~TopologyWatcher() { stop(); }
  // Stops watching; then what was seen, topology version -> its assignment.
  const std::map<uint64_t, json>& stop() {
    watching_ = false;
    if (thread_.joinable()) thread_.join();
    return seen_;
  }

 private:
  std::map<uint64_t, json> seen_;
  std::atomic<bool> watching_{true};
  std::thread thread_;
};

// Each pair of consecutive versions seen: at most `most_arriving` replicas
// arrive in a partition and its leader was one of its replicas before.
// Returns how many of those versions changed something.
size_t expect_steps_keep_leaders_with_data(const std::map<uint64_t, json>& seen,
                                           size_t most_arriving) {
  size_t steps = 0;
  for (auto it = seen.begin(); it != seen.end() && std::next(it) != seen.end(); ++it) {
    auto next = std::next(it);
    if (next->first != it->first + 1) continue;  // a version the node did not route by
    const auto [arriving, leaders_held] = step_of(it->second, next->second);
    EXPECT_LE(arriving, most_arriving) << "v" << next->first;
    EXPECT_TRUE(leaders_held) << "v" << next->first << " leader held nothing before";
    steps += arriving > 0 || it->second != next->second ? 1 : 0;
  }
  return steps;
}

// A node joining an RF=3 cluster of three is placed as the leader of some
// partitions (leader balance) that it holds nothing of: libparti stages those
// moves, so no published step replaces more than one of a partition's three
// replicas or gives it a leader that held nothing. A quorum of every new set
// already holds the partition, so sealing it never waits for a copy; the
// steps end at the placement, and writes go on without a failure throughout.
TEST_F(ReplicationTest, AJoiningNodeTakesItsPartitionsInStepsThatKeepAQuorumHoldingTheData) {
  start_nodes(3, true);
  Writer writer([apis = apis_of(3)](size_t v, const std::string& k,
                                    const std::string& m) { return put_outcome(apis[v], k, m); },
                {0, 1, 2});
  ASSERT_TRUE(wait_until([&] { return writer.acked_count() >= 200; }, 30s));
  TopologyWatcher watcher(cluster.node(0).api);
  cluster.start(node_options(true));
  const bool finished = wait_until(
      [&] {
        for (size_t i = 0; i < 4; ++i) {
          if (staged_move_finished(read_file(cluster.node(i).log))) return true;
        }
        return false;
      },
      60s);
  ASSERT_TRUE(cluster.wait_converged(4, 60s)) << cluster.describe_not_serving();
  const size_t before = writer.acked_count();
  ASSERT_TRUE(wait_until([&] { return writer.acked_count() >= before + 100; }, 30s));
  const auto& seen = watcher.stop();
  writer.stop();
  ASSERT_TRUE(finished) << "no staged move, or it did not end";

  EXPECT_GE(expect_steps_keep_leaders_with_data(seen, 1), 2u)
      << "the join and at least one further step were seen";
  // A handoff that passes its deadline fails the writes its leader had not
  // committed (503 leadership_lost: their outcome unknown), as
  // AHandoffWhoseWritesCannotCommitIsDelayedOnlyUntilItsDeadline shows; one
  // did under ASan on a slow day (CI at d05ca28). Any other failure, or that
  // one without a handoff timed out, is a move that stopped writes.
  const uint64_t handoffs_timed_out = replication_counter("handoffs_timed_out", 4);
  for (const auto& [failure, count] : writer.failures()) {
    EXPECT_TRUE(failure == "503 leadership_lost" && handoffs_timed_out > 0)
        << count << " x " << failure << "; handoffs timed out: " << handoffs_timed_out;
  }
  for (const auto& [key, message] : writer.acked()) {
    ASSERT_EQ(leader_read(3, key), message) << key << " was acknowledged and is lost";
  }
}

// A node that loses its disk comes back empty under a new id. No assignment
// that drops its old id or places the new one makes the new one the leader
// of a partition it did not hold in the version before (it would seal by
// copying the partition while its writes waited); once it holds the data, a
// later step gives it its share of leaderships. Nothing acknowledged is lost.
TEST_F(ReplicationTest, ANodeBackWithAnEmptyDiskLeadsNothingBeforeItHoldsTheData) {
  start_nodes(3, true);
  Writer writer([apis = apis_of(2)](size_t v, const std::string& k,
                                    const std::string& m) { return put_outcome(apis[v], k, m); },
                {0, 1});
  ASSERT_TRUE(wait_until([&] { return writer.acked_count() >= 200; }, 30s));
  TopologyWatcher watcher(cluster.node(0).api);
  const std::string old_id = cluster.node(2).id;
  cluster.wipe(2);
  cluster.start_again(2);
  ASSERT_NE(cluster.node(2).id, old_id) << "an empty disk is a new node";
  const auto leads = [&](size_t i) {
    const json t = cluster.get_json(0, "/cluster/topology");
    for (const auto& n : t.value("nodes", json::array())) {
      if (n.value("id", "") == cluster.node(i).id) return n.value("leads", 0);
    }
    return 0;
  };
  ASSERT_TRUE(cluster.wait_converged(3, 60s)) << cluster.describe_not_serving();
  EXPECT_TRUE(wait_until([&] { return leads(2) > 0; }, 30s)) << "it never led anything";
  const size_t before = writer.acked_count();
  ASSERT_TRUE(wait_until([&] { return writer.acked_count() >= before + 100; }, 30s));
  const auto& seen = watcher.stop();
  writer.stop();

  EXPECT_GE(expect_steps_keep_leaders_with_data(seen, 1), 2u)
      << "the new id placed, then given leaderships";
  for (const auto& [key, message] : writer.acked()) {
    ASSERT_EQ(leader_read(2, key), message) << key << " was acknowledged and is lost";
  }
}

// A node that joins takes its partitions in as snapshots over a slow link.
// The coordinator's resize guard waits for such copies only so long
// (resize_hold_max, 5 s with fast timings) and then goes on with the staged
// move; its next step must still give the new node no leadership of a
// partition it is taking in (it would seal by copying the partition while
// its writes waited). The node reports those partitions as importing (its
// replicas wait for data they asked for), and the coordinator keeps their
// leaderships where the data is until the copies are in.
TEST_F(ReplicationTest, AJoiningNodeLeadsNothingItIsStillCopyingAfterTheResizeGuardGivesUp) {
  // A short log (the new node needs snapshots) and small fragments (a
  // fragment crosses the slow link well within its 10-s timeout).
  const std::vector<std::string> small = {
      "--log-retention", "4", "--max-body-bytes", "131072", "--max-peer-frame-bytes", "262144"};
  PartidOptions options = node_options(true);
  options.extra_args.insert(options.extra_args.end(), small.begin(), small.end());
  for (int i = 0; i < 3; ++i) cluster.start(options);
  ASSERT_TRUE(cluster.wait_converged(3, 30s)) << cluster.describe_not_serving();
  // About 256 KiB per partition.
  std::map<std::string, std::string> written;
  for (int k = 0; k < 512; ++k) {
    const std::string key = "bulk-" + std::to_string(k);
    const std::string message = std::string(8000, static_cast<char>('a' + k % 26));
    ASSERT_EQ(put(k % 3, key, message), 200) << key;
    written[key] = message;
  }
  const int peer_port = free_port();
  TcpProxy peer_link(peer_port);
  peer_link.throttle(32 << 10);  // each partition's copy takes well over 10 s
  cluster.start(behind(peer_link, peer_port, small));
  const std::string joined = cluster.node(3).id;
  const auto leads = [&](const json& topology) {
    std::set<uint32_t> led;
    for (uint32_t p = 0; p < kPartitions; ++p) {
      if (topology["assignment"][p]["replicas"][0] == joined) led.insert(p);
    }
    return led;
  };
  const std::string wait_line = "the staged move's next step waits until " + joined;
  const auto coordinator_waits = [&] {
    for (size_t i = 0; i < 4; ++i) {
      if (read_file(cluster.node(i).log).find(wait_line) != std::string::npos) return true;
    }
    return false;
  };
  // Either the coordinator's next step waits for the copies (the wait comes
  // only after the guard gave up), or it gave the new node leaderships.
  json topology;
  ASSERT_TRUE(wait_until(
      [&] {
        topology = cluster.get_json(0, "/cluster/topology");
        return !leads(topology).empty() || coordinator_waits();
      },
      60s))
      << "the staged move neither went on nor waited";
  // Whatever the new node leads, it holds; and it is still copying
  // something, or this checked nothing.
  const json status = cluster.get_json(3, "/cluster/status");
  std::map<uint32_t, bool> waits;
  for (const auto& part : status["partitions"]) {
    waits[part["partition"].get<uint32_t>()] = part["waits_for_data"].get<bool>();
  }
  size_t waiting = 0;
  for (const auto& [p, w] : waits) waiting += w ? 1 : 0;
  EXPECT_GE(waiting, 1u) << status.dump();
  for (uint32_t p : leads(topology)) {
    EXPECT_FALSE(waits[p]) << "partition " << p << " is led by " << joined
                           << " while it still waits for its data";
  }
  // The record is read from the heartbeat bucket, whose entries expire a
  // TTL after their last put: a node slowed past it (a sanitizer build on a
  // loaded machine) has none until its next heartbeat, so wait for one.
  std::optional<NodeRecord> record;
  EXPECT_TRUE(wait_until(
      [&] {
        record = record_of(3);
        return record && !record->importing_partitions.empty();
      },
      10s))
      << (record ? "its record names no partition it imports" : "it has no record");

  peer_link.throttle(0);
  const auto leads_and_holds = [&] {
    const auto r = record_of(3);
    return !leads(cluster.get_json(0, "/cluster/topology")).empty() && r &&
           r->importing_partitions.empty();
  };
  EXPECT_TRUE(wait_until(leads_and_holds, 60s)) << "the new node never took its leaderships";
  for (const auto& [key, message] : written) {
    const uint32_t p = partition_of(key);
    const auto replicas = replicas_of(0, p);
    if (std::find(replicas.begin(), replicas.end(), joined) == replicas.end()) continue;
    EXPECT_TRUE(wait_until([&] { return replica_read(3, key) == message; }, 20s)) << key;
  }
}

void ReplicationTest::kill_leader_under_writes(size_t nodes) {
  start_nodes(nodes, true);
  std::vector<size_t> all;
  for (size_t i = 0; i < nodes; ++i) all.push_back(i);
  Writer writer(
      [apis = apis_of(nodes)](size_t v, const std::string& k, const std::string& m) {
        return put_outcome(apis[v], k, m);
      },
      all);
  ASSERT_TRUE(wait_until([&] { return writer.acked_count() >= 150; }, 30s));
  // Node 0 leads some partitions; kill it without warning and keep writing
  // through the others.
  std::vector<size_t> survivors(all.begin() + 1, all.end());
  writer.only_through(survivors);
  // Every partition has had its leadership taken, and none was a failover
  // but a planned move whose Handoff never came.
  EXPECT_GE(replication_counter("leaderships_taken", nodes), kPartitions);
  EXPECT_LE(replication_counter("failovers", nodes),
            replication_counter("handoffs_timed_out", nodes));
  const uint64_t failovers_before = replication_counter("failovers", survivors);
  size_t victim_served = 0;
  const json victim = cluster.get_json(0, "/cluster/status");
  for (const auto& part : victim["partitions"]) {
    if (part["serving"].get<bool>()) ++victim_served;
  }
  ASSERT_GT(victim_served, 0u) << victim.dump();
  const size_t before = writer.acked_count();
  cluster.kill(0);
  const auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_until([&] { return cluster.serving_partitions() == kPartitions; }, 30s));
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - killed;
  std::printf("every partition served again %.2f s after SIGKILL of a leader (%zu nodes)\n",
              took.count(), nodes);
  // The survivors took the dead leader's partitions over: failovers, timed.
  // Each is counted once, by the node that served it, even when the
  // rebalance that follows moved it on before its first successor served
  // (the Handoff passes the failover on).
  uint64_t failovers_after = 0;
  double slowest = 0;
  for (size_t i : survivors) {
    const json r = cluster.get_json(i, "/cluster/status")["replication"];
    failovers_after += r["failovers"].get<uint64_t>();
    slowest = std::max(slowest, r["last_failover_seconds"].get<double>());
    EXPECT_LE(r["failovers"].get<uint64_t>(), r["leaderships_taken"].get<uint64_t>());
  }
  EXPECT_GE(failovers_after - failovers_before, victim_served);
  EXPECT_GT(slowest, 0.0);
  ASSERT_TRUE(wait_until([&] { return writer.acked_count() >= before + 150; }, 30s));
  // The successor rule chose the dead leader's successors for survival; a
  // planned rebalance then evens leadership out among the survivors (DESIGN
  // 4.2), moving leaders again under the same writes.
  const size_t fair = (kPartitions + survivors.size() - 1) / survivors.size();
  size_t most = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        most = most_partitions_led(1);
        return most <= fair && cluster.serving_partitions() == kPartitions;
      },
      30s))
      << "a survivor still leads " << most << " partitions, fair is " << fair;
  // The survivors' replicas agree entry for entry on every committed range.
  expect_writes_go_on_and_none_lost(writer, 1, 150);
}

TEST_F(ReplicationTest, KillNineOfALeaderUnderWritesLosesNoAcknowledgedWriteOnThreeNodes) {
  kill_leader_under_writes(3);
}

TEST_F(ReplicationTest, KillNineOfALeaderUnderWritesLosesNoAcknowledgedWriteOnFiveNodes) {
  kill_leader_under_writes(5);
}

// A node whose disk fills up stops at its first write that fails, before it
// acknowledges anything of that write (what RocksDB kept of it is not known,
// and a node that went on could acknowledge a write it had not made
// durable): exit code 70, the reason in its log. Its partitions fail over to
// the others under the same writes, with no acknowledged write lost; with room
// on its disk again it restarts on its data and catches up.
TEST_F(ReplicationTest, ANodeWhoseDiskFillsUpStopsAndTheOthersLoseNoAcknowledgedWrite) {
  const std::string full = cluster.root() + "/disk-full";
  PartidOptions failing = node_options(true);
  failing.launcher = disk_full_while(full, cluster.data_dir_of(0) + "/");
  auto writer = break_disk_under_writes(failing, full,
                                        "storage write failed: IO error: No space left on device");
  ASSERT_TRUE(writer);

  // Started again while the disk is still full, it refuses with the reason.
  PartidOptions still_full = failing;
  still_full.data_dir = cluster.node(0).data_dir;
  std::string refused;
  EXPECT_EQ(cluster.start_expecting_failure(still_full, &refused), 1);
  const size_t why = refused.find("partid cannot start: cannot open storage");
  ASSERT_NE(why, std::string::npos) << refused;
  EXPECT_NE(refused.find("No space left on device", why), std::string::npos) << refused;
  mend_disk(*writer, full);
}

// A disk that stops answering (a hung volume) fails no call: the node's
// storage writes just never return, while it keeps its heartbeats, and so its
// leaderships. It stops itself once a write has been in flight for
// --max-disk-stall-ms, so its partitions fail over; nothing acknowledged is
// lost, and it comes back once its disk does.
TEST_F(ReplicationTest, ANodeWhoseDiskStallsStopsAndItsPartitionsFailOver) {
  const std::string stuck = cluster.root() + "/disk-stuck";
  PartidOptions stalling = node_options(true);
  stalling.launcher = disk_stuck_while(stuck, cluster.data_dir_of(0) + "/");
  stalling.extra_args.insert(stalling.extra_args.end(), {"--max-disk-stall-ms", "2000"});
  auto writer = break_disk_under_writes(stalling, stuck, "the disk is stalled");
  ASSERT_TRUE(writer);
  mend_disk(*writer, stuck);
}

// A disk that still answers, slowly (a gray failure), fails no call and
// stalls nothing, yet every write to a partition its node leads waits for it.
// The node judges its writes slow (the median of its last writes past
// --slow-disk-ms), asks not to lead, and the coordinator gives its
// leaderships to the other replicas; once its disk has been fast for
// --slow-disk-calm-ms it leads again. Writes go on throughout, and nothing acknowledged is lost.
TEST_F(ReplicationTest, ANodeWhoseDiskIsSlowHandsItsLeadershipsOverAndTakesThemBackOnceFast) {
  const std::string slow = cluster.root() + "/disk-slow";
  PartidOptions slowing = node_options(true);
  slowing.launcher = disk_slow_while(slow, cluster.data_dir_of(0) + "/", 400ms);
  slowing.extra_args.insert(slowing.extra_args.end(),
                            {"--slow-disk-ms", "150", "--slow-disk-calm-ms", "2000"});
  cluster.start(slowing);
  cluster.start(node_options(true));
  cluster.start(node_options(true));
  ASSERT_TRUE(cluster.wait_converged(3, 30s)) << cluster.describe_not_serving();
  const std::string slow_node = cluster.node(0).id;
  auto node_0_as_seen_by_1 = [&] {
    const json topology = cluster.get_json(1, "/cluster/topology");
    for (const auto& n : topology["nodes"]) {
      if (n["id"] == slow_node) return n;
    }
    return json::object();
  };
  auto leads = [&] { return node_0_as_seen_by_1().value("leads", -1); };
  auto asks_not_to_lead = [&] { return node_0_as_seen_by_1().value("avoids_leading", false); };
  ASSERT_GT(leads(), 0);
  EXPECT_FALSE(asks_not_to_lead());
  Writer writer([apis = apis_of(3)](size_t v, const std::string& k,
                                    const std::string& m) { return put_outcome(apis[v], k, m); },
                {0, 1, 2});
  ASSERT_TRUE(wait_until([&] { return writer.acked_count() >= 100; }, 30s));

  std::ofstream(slow) << "slow\n";
  ASSERT_TRUE(
      wait_until([&] { return leads() == 0 && cluster.serving_partitions() == kPartitions; }, 60s))
      << "node 0 leads " << leads() << "; " << cluster.describe_not_serving();
  EXPECT_TRUE(asks_not_to_lead());
  const json status = cluster.get_json(0, "/cluster/status");
  EXPECT_EQ(status["replication"]["disk_slow"], true) << status["replication"].dump();
  EXPECT_GE(status["replication"]["disk_write_median_seconds"].get<double>(), 0.15);
  const size_t handed_over = writer.acked_count();
  ASSERT_TRUE(wait_until([&] { return writer.acked_count() >= handed_over + 100; }, 30s))
      << "the writes stopped once node 0 no longer led";

  std::filesystem::remove(slow);
  ASSERT_TRUE(wait_until([&] { return leads() > 0 && !asks_not_to_lead(); }, 60s))
      << "node 0 leads " << leads() << " with its disk fast again";
  ASSERT_TRUE(cluster.wait_converged(3, 30s)) << cluster.describe_not_serving();
  expect_writes_go_on_and_none_lost(writer, 1, 100);
}

// On a three-server NATS cluster with every bucket (libparti's and partid's:
// seal registers, layout, format) kept in three JetStream replicas
// (--kv-replicas 3), the control plane outlives one nats-server: with one
// killed, a partid node killed too is noticed, its partitions are appointed
// new leaders that seal through the registers, and writes go on.
TEST(NatsClusterTest, WithOneOfThreeNatsServersDeadAFailedNodesPartitionsFailOver) {
  NatsCluster nats(3);
  // JetStream takes a moment to elect its meta leader after the servers start.
  ASSERT_TRUE(wait_until(
      [&] {
        try {
          auto conn = coord::Connection::connect({.url = nats.urls(), .name = "probe"});
          coord::BucketOptions o;
          o.name = "probe";
          o.replicas = 3;
          return coord::KvBucket::open_or_create(conn, o).ok();
        } catch (const coord::CoordError&) {
          return false;
        }
      },
      60s));
  PartidCluster cluster(nats.server(0));
  PartidOptions options;
  options.partitions = 8;
  options.replication_factor = 3;
  options.nats_url = nats.urls();
  options.extra_args = {"--kv-replicas", "3"};
  for (int i = 0; i < 3; ++i) cluster.start(options);
  ASSERT_TRUE(cluster.wait_converged(3, 60s)) << cluster.describe_not_serving();
  auto put = [&](size_t via, const std::string& key) {
    return cluster
        .http(via, "POST", "/items", json{{"partition_key", key}, {"message", key}}.dump())
        .status;
  };
  for (int k = 0; k < 20; ++k) ASSERT_EQ(put(k % 3, "before-" + std::to_string(k)), 200);

  nats.server(0).stop();
  cluster.kill(0);
  ASSERT_TRUE(wait_until([&] { return cluster.serving_partitions() == 8; }, 60s))
      << cluster.describe_not_serving();
  const auto topology = cluster.get_json(1, "/cluster/topology");
  for (const auto& p : topology["assignment"]) {
    EXPECT_NE(p["replicas"][0], cluster.node(0).id) << topology.dump();
  }
  for (int k = 0; k < 20; ++k) {
    const std::string key = "after-" + std::to_string(k);
    EXPECT_TRUE(wait_until([&] { return put(1 + k % 2, key) == 200; }, 20s)) << key;
  }
  for (int k = 0; k < 20; ++k) {
    const std::string key = "before-" + std::to_string(k);
    EXPECT_EQ(cluster.get_json(2, "/items/" + key)["items"][0]["message"], key);
  }
}

// The planned resize: two nodes join under continuous writes, then leave
// again one at a time (clean stops), each step once every partition is served
// by its new replica set. Leaderships and replicas move at every step; no
// acknowledged write may be lost and the replicas must agree at the end.
TEST_F(ReplicationTest, GrowingFromThreeToFiveNodesAndBackUnderWritesLosesNothing) {
  start_nodes(3, true);
  Writer writer([apis = apis_of(3)](size_t v, const std::string& k,
                                    const std::string& m) { return put_outcome(apis[v], k, m); },
                {0, 1, 2});
  auto step = [&](const char* what, size_t nodes) {
    ASSERT_TRUE(cluster.wait_converged(nodes, 60s)) << what << cluster.describe_not_serving();
    const size_t before = writer.acked_count();
    ASSERT_TRUE(wait_until([&] { return writer.acked_count() >= before + 100; }, 30s)) << what;
  };
  step("3 nodes", 3);
  cluster.start(node_options(true));
  step("4 nodes", 4);
  cluster.start(node_options(true));
  step("5 nodes", 5);
  cluster.stop(4);
  step("back to 4", 4);
  cluster.stop(3);
  step("back to 3", 3);
  writer.stop();
  // Refusals that prove nothing was written are held and retried by the node
  // the client reached; leaving nodes drain first; a leader handing a
  // partition over lets its writes in flight commit before the next one
  // seals. The resizes cost the writers latency, never an error.
  EXPECT_TRUE(writer.failures().empty()) << json(writer.failures()).dump();
  double sent = 0, received = 0, timed_out = 0;
  for (size_t i = 0; i < 3; ++i) {
    sent += cluster.metric(i, "partid_handoffs_sent_total");
    received += cluster.metric(i, "partid_handoffs_received_total");
    timed_out += cluster.metric(i, "partid_handoffs_timed_out_total");
  }
  EXPECT_GT(sent, 0);
  std::printf("handoffs on the remaining nodes: %.0f sent, %.0f received, %.0f waits ran out\n",
              sent, received, timed_out);
  const auto acked = writer.acked();
  std::printf("acknowledged writes: %zu\n", acked.size());
  for (const auto& [key, message] : acked) {
    ASSERT_EQ(leader_read(0, key), message) << key << " was acknowledged and is lost";
  }
  expect_every_partition_validates(0);
}

// A node drained (partictl drain, through another node: POST
// /cluster/drain/{node} is carried to it) hands its partitions over before it
// exits: marked Leaving, it keeps serving their sealing until no seal register
// names it. With one replica per partition the data has nowhere else to come
// from, so nothing would be readable without the drain. (A SIGTERM takes the
// same path: the resize test above stops nodes that way.)
TEST_F(ReplicationTest, ADrainedNodeHandsItsPartitionsOverEvenWithASingleReplica) {
  PartidOptions single = node_options(true);
  single.replication_factor = 1;
  for (int i = 0; i < 3; ++i) cluster.start(single);
  ASSERT_TRUE(cluster.wait_converged(3, 30s));
  std::vector<std::string> keys;
  for (int k = 0; k < 60; ++k) {
    keys.push_back("d" + std::to_string(k));
    ASSERT_EQ(put(0, keys.back(), "v" + std::to_string(k)), 200) << k;
  }
  size_t on_two = 0;
  for (const auto& key : keys) on_two += replicas_of(0, partition_of(key))[0] == cluster.node(2).id;
  ASSERT_GT(on_two, 0u);

  const std::string via = "--url " + cluster.node(0).api + " ";
  EXPECT_EQ(run_partictl(via + "drain " + cluster.node(2).id + " --token wrong").code, 1);  // 401
  const auto unreadable = run_partictl(via + "drain " + cluster.node(2).id + " --token-file " +
                                       cluster.root() + "/absent");
  EXPECT_EQ(unreadable.code, 2);
  EXPECT_NE(unreadable.out.find("cannot read the admin token"), std::string::npos)
      << unreadable.out;
  const auto drained =
      run_partictl(via + "drain " + cluster.node(2).id + " --token-file " + admin_token_file());
  ASSERT_EQ(drained.code, 0) << drained.out;
  EXPECT_NE(drained.out.find("is draining"), std::string::npos) << drained.out;
  const pid_t pid = cluster.node(2).pid;
  int status = 0;
  ASSERT_TRUE(wait_until([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, 30s));
  cluster.node(2).pid = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_NE(read_file(cluster.node(2).log).find("every partition has been taken over"),
            std::string::npos);

  ASSERT_TRUE(cluster.wait_converged(2, 30s)) << cluster.describe_not_serving();
  for (size_t k = 0; k < keys.size(); ++k) {
    EXPECT_EQ(leader_read(0, keys[k]), "v" + std::to_string(k)) << keys[k];
    EXPECT_EQ(leader_read(1, keys[k]), "v" + std::to_string(k)) << keys[k];
  }
}

// The handoff's safety net. A leader drained while a write it proposed cannot
// commit (its peer port is stalled behind a proxy, so no acknowledgement
// reaches it; NATS and its own sends still work) holds the appointment, and the
// other replicas hold theirs awaiting its Handoff. Its drain ends at
// --handoff-timeout-ms: it hands over anyway, the stuck write's outcome is
// reported unknown, and the partition moves. Delayed, never blocked.
TEST_F(ReplicationTest, AHandoffWhoseWritesCannotCommitIsDelayedOnlyUntilItsDeadline) {
  // No hold: a write refused while the partition is locked says so at once.
  const std::vector<std::string> slow = {"--handoff-timeout-ms", "1500", "--hold-ms", "0"};
  const int peer_port = free_port();
  TcpProxy peer_link(peer_port);
  cluster.start(behind(peer_link, peer_port, slow));
  for (int i = 0; i < 2; ++i) {
    PartidOptions o = node_options(false);
    o.extra_args = slow;
    cluster.start(o);
  }
  ASSERT_TRUE(cluster.wait_converged(3, 30s));
  const std::string key = key_led_by(0, "h");
  const uint32_t p = partition_of(key);
  ASSERT_EQ(put(0, key, "before"), 200);

  peer_link.stall();
  std::atomic<int> stuck_status{0};
  std::thread stuck([&] { stuck_status = put(0, key, "stuck"); });
  ASSERT_TRUE(wait_until(
      [&] {
        json s = partition_status(0, p);
        return s.is_object() && s["last_sequence"] > s["watermark"];
      },
      10s));
  ASSERT_EQ(::kill(cluster.node(0).pid, SIGTERM), 0);  // drains: Leaving, still alive
  // The node appointed to lead p next, once it waits for node 0's Handoff.
  json seen;
  size_t next = 0;
  const bool awaited = wait_until(
      [&] {
        for (next = 1; next < 3; ++next) {
          seen = partition_status(next, p);
          if (seen.is_object() && seen.contains("handoff") &&
              replicas_of(next, p).front() == cluster.node(next).id) {
            return true;
          }
        }
        return false;
      },
      20s);
  ASSERT_TRUE(awaited);
  EXPECT_EQ(seen["handoff"]["state"], "awaiting") << seen.dump();
  EXPECT_EQ(seen["handoff"]["from"], cluster.node(0).id) << seen.dump();
  // DESIGN 4.3: it holds the partition locked (for 3 s: twice the handoff
  // timeout, as node 0's Handoff cannot reach it) and refuses writes to it,
  // while saying so in its status.
  const json locked = cluster.get_json(next, "/cluster/status")["locked_partitions"];
  EXPECT_NE(std::find(locked.begin(), locked.end(), json(p)), locked.end()) << locked.dump();
  const auto refused = cluster.http(next, "POST", "/items",
                                    json{{"partition_key", key}, {"message", "locked"}}.dump());
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_NE(refused.body.find("partition_locked"), std::string::npos) << refused.body;
  EXPECT_TRUE(wait_until([&] { return put(1, key, "after") == 200; }, 30s));
  stuck.join();
  EXPECT_NE(stuck_status.load(), 200);  // never acknowledged: its outcome is unknown
  peer_link.unstall();
  cluster.stop(0);
  EXPECT_NE(read_file(cluster.node(0).log).find("taken without a handoff (writes in flight"),
            std::string::npos);
  EXPECT_EQ(leader_read(2, key), "after");
}

TEST_F(ReplicationTest, APausedFollowerCatchesUpWhenResumed) {
  start_nodes(3);
  // Keys whose partition node 2 follows (it is a replica of all of them).
  std::vector<std::string> keys;
  for (int k = 0; keys.size() < 40; ++k) {
    const std::string key = "f" + std::to_string(k);
    if (replicas_of(0, partition_of(key)).front() != cluster.node(2).id) keys.push_back(key);
  }
  cluster.pause(2);
  for (const auto& key : keys) {
    // A quorum (the leader and the other follower) acknowledges without node 2.
    ASSERT_TRUE(wait_until([&] { return put(0, key, "x" + key) == 200; }, 20s)) << key;
  }
  cluster.resume(2);
  for (const auto& key : keys) {
    EXPECT_TRUE(wait_until([&] { return replica_read(2, key) == "x" + key; }, 20s)) << key;
  }
}

// DESIGN 4.5: the progress of replicas catching up, here behind a follower
// whose peer port stalls (it keeps its heartbeats, so it stays in the replica
// sets) and comes back. GET /cluster/resize judges each partition by its
// leader's report; partictl resize shows it and waits for it.
TEST_F(ReplicationTest, TheResizeProgressShowsReplicasCatchingUpUntilEveryPartitionSettles) {
  // A short log: a partition written more than a few times while node 2
  // hears nothing trims what node 2 lacks, so node 2 needs a snapshot.
  const std::vector<std::string> fast_forward = {"--forward-timeout-ms", "1000", "--log-retention",
                                                 "4"};
  PartidOptions options = node_options(true);
  // node 2's report, while it cannot answer
  options.extra_args.insert(options.extra_args.end(), fast_forward.begin(), fast_forward.end());
  for (int i = 0; i < 2; ++i) cluster.start(options);
  const int peer_port = free_port();
  TcpProxy peer_link(peer_port);
  cluster.start(behind(peer_link, peer_port, fast_forward));
  ASSERT_TRUE(cluster.wait_converged(3, 30s)) << cluster.describe_not_serving();
  const auto resize = [&] { return cluster.get_json(0, "/cluster/resize"); };
  json r;
  ASSERT_TRUE(wait_until(
      [&] {
        r = resize();
        return r.value("done", false);
      },
      20s))
      << r.dump();
  EXPECT_EQ(r["settled"], kPartitions);
  EXPECT_TRUE(r["moving"].empty());
  EXPECT_EQ(r["bytes_behind"], 0);
  // Four partitions that node 2 follows get writes it does not see.
  std::set<uint32_t> written;
  std::vector<std::string> keys;
  for (int k = 0; keys.size() < 40; ++k) {
    const std::string key = "g" + std::to_string(k);
    const uint32_t p = partition_of(key);
    if (replicas_of(0, p).front() == cluster.node(2).id) continue;
    if (written.size() < 4) written.insert(p);
    if (written.contains(p)) keys.push_back(key);
  }
  peer_link.stall();
  for (const auto& key : keys) ASSERT_EQ(put(0, key, "x"), 200) << key;
  r = resize();
  EXPECT_FALSE(r["done"]);
  EXPECT_EQ(r["unreachable"], json::array({cluster.node(2).id}));
  std::map<uint32_t, json> moving;
  for (const auto& m : r["moving"]) moving[m["partition"].get<uint32_t>()] = m;
  EXPECT_EQ(r["settled"].get<size_t>() + moving.size(), kPartitions);
  uint64_t bytes_listed = 0;
  size_t snapshots = 0;
  for (const auto& [p, m] : moving) {
    bytes_listed += m["bytes_behind"].get<uint64_t>();
    snapshots += m["snapshot"].get<bool>() ? 1 : 0;
  }
  EXPECT_EQ(r["bytes_behind"].get<uint64_t>(), bytes_listed);
  EXPECT_GE(snapshots, 1u) << r.dump();  // 40 writes over 4 partitions
  for (uint32_t p = 0; p < kPartitions; ++p) {
    const bool led_by_2 = replicas_of(0, p).front() == cluster.node(2).id;
    if (!led_by_2 && !written.contains(p)) continue;
    ASSERT_TRUE(moving.contains(p)) << p << " " << r.dump();
    if (led_by_2) {
      EXPECT_EQ(moving[p]["state"], "leader_unreachable") << p;
    } else {
      EXPECT_EQ(moving[p]["state"], "catching_up") << p;
      EXPECT_GE(moving[p]["behind"].get<uint64_t>(), 1u) << p;
      EXPECT_GT(moving[p]["bytes_behind"].get<uint64_t>(), 0u) << p;
      // A log of 4 retained entries past the watermark no longer reaches back.
      if (moving[p]["behind"].get<uint64_t>() > 6) {
        EXPECT_TRUE(moving[p]["snapshot"]) << p;
      }
    }
  }
  const std::string via = "--url " + cluster.node(0).api + " ";
  auto report = run_partictl(via + "resize");
  EXPECT_EQ(report.code, 6) << report.out;
  EXPECT_NE(report.out.find("catching_up"), std::string::npos) << report.out;
  EXPECT_NE(report.out.find("B) behind"), std::string::npos) << report.out;
  EXPECT_NE(report.out.find("needs a snapshot"), std::string::npos) << report.out;
  // Nothing shrinks while node 2 hears nothing: no time left is made up.
  const json again = resize();
  EXPECT_FALSE(again.contains("eta")) << again.dump();

  // Leaders list the partitions they copy a snapshot from in their records'
  // migrating sets, which hold the coordinator's planned rebalances back.
  for (const auto& [p, m] : moving) {
    if (!m["snapshot"].get<bool>()) continue;
    const size_t leader = replicas_of(0, p).front() == cluster.node(0).id ? 0 : 1;
    EXPECT_TRUE(wait_until(
        [&] {
          auto r = record_of(leader);
          return r && r->migrating_partitions.contains(p);
        },
        10s))
        << "partition " << p;
  }

  // The resize guard: no drain while a copy runs or a node is away.
  const auto drain = [&](const std::string& target) {
    return partid::cli::http_request(cluster.node(0).api, "POST", target, {}, 10s,
                                     std::string("Bearer ") + kAdminToken);
  };
  const auto refused = drain("/cluster/drain/" + cluster.node(1).id);
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_NE(refused.body.find("\"resize_in_progress\""), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find("copying a snapshot"), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find(cluster.node(2).id + " unreachable"), std::string::npos)
      << refused.body;
  const auto refused_cli =
      run_partictl(via + "drain " + cluster.node(1).id + " --token " + kAdminToken);
  EXPECT_EQ(refused_cli.code, 6) << refused_cli.out;
  EXPECT_NE(refused_cli.out.find("a resize is in progress"), std::string::npos) << refused_cli.out;
  // Forced, the guard is not asked: here the node named does not exist.
  EXPECT_EQ(drain("/cluster/drain/node-99?force=true").status, 404);
  EXPECT_EQ(drain("/cluster/drain/node-99?force=maybe").status, 400);
  EXPECT_EQ(::waitpid(cluster.node(1).pid, nullptr, WNOHANG), 0);  // node 1 did not leave
  peer_link.unstall();
  report = run_partictl(via + "resize --wait 30");
  EXPECT_EQ(report.code, 0) << report.out;
  EXPECT_NE(report.out.find(std::to_string(kPartitions) + "/" + std::to_string(kPartitions) +
                            " partitions settled"),
            std::string::npos)
      << report.out;
  EXPECT_EQ(resize()["bytes_behind"], 0);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(wait_until(
        [&] {
          auto r = record_of(i);
          return r && r->migrating_partitions.empty() && r->importing_partitions.empty() &&
                 r->locked_partitions.empty();
        },
        10s))
        << "node " << i << " still reports data moving";
  }
}

// A leader cut off from NATS and from its peers' messages, but not from
// clients, is replaced, and hears nothing of it: it still believes it leads.
// It must not answer a read from its own state, which lacks what its
// successor acknowledged. Its read barrier asks the other replicas; they now
// follow a newer epoch (their refusals cannot reach it), so no quorum answers
// its round and the read fails with 503 instead of returning "old".
TEST_F(ReplicationTest, ALeaderCutOffAndReplacedNeverServesAStaleRead) {
  TcpProxy nats_link(nats.port());
  const int peer_port = free_port();
  TcpProxy peer_link(peer_port);  // the others reach node 0's peer port only through it
  PartidOptions cut_off = behind(peer_link, peer_port, {"--write-timeout-ms", "1500"});
  cut_off.nats_url = nats_link.url();
  cluster.start(cut_off);
  for (int i = 0; i < 2; ++i) cluster.start(node_options(false));
  ASSERT_TRUE(cluster.wait_converged(3, 30s));
  const std::string key = key_led_by(0, "s");
  ASSERT_EQ(put(0, key, "old"), 200);
  ASSERT_EQ(leader_read(0, key), "old");  // its read rounds work while it leads

  nats_link.cut();
  peer_link.cut();
  ASSERT_TRUE(wait_until([&] { return put(1, key, "new") == 200; }, 30s));
  ASSERT_EQ(leader_read(1, key), "new");
  auto stale = cluster.http(0, "GET", "/items/" + key);
  EXPECT_EQ(stale.status, 503) << stale.body;
  EXPECT_NE(stale.body.find("leadership_unconfirmed"), std::string::npos) << stale.body;
  EXPECT_GT(cluster.metric(0, "partid_reads_unconfirmed_total"), 0);

  nats_link.heal();
  peer_link.heal();
  EXPECT_TRUE(wait_until([&] { return leader_read(0, key) == "new"; }, 30s));
}

// With the nats-server gone, every node keeps its last assignment and its
// view of the others' heartbeats lapses; a request through a node that does
// not lead the key's partition is still forwarded to the leader, which still
// commits with its followers over the peer connections.
TEST_F(ReplicationTest, WithNatsDownRequestsAreStillForwardedToTheirLeaders) {
  start_nodes(3);
  ASSERT_TRUE(cluster.wait_serving(30s));
  const std::string key = key_led_by(0, "nd");
  ASSERT_EQ(put(0, key, "before"), 200);
  nats.stop();
  const std::string leader = cluster.node(0).id;
  ASSERT_TRUE(wait_until(
      [&] {
        const json t = cluster.get_json(1, "/cluster/topology");
        if (!t.is_object()) return false;
        for (const auto& n : t["nodes"]) {
          if (n["id"] == leader) return n["state"] == "unheard";  // its record lost
        }
        return false;
      },
      20s))
      << "node 1 still holds " << leader << "'s record";
  EXPECT_EQ(put(1, key, "during"), 200);
  EXPECT_EQ(leader_read(2, key), "during");
  nats.start();
  EXPECT_TRUE(cluster.wait_converged(3, 30s)) << cluster.describe_not_serving();
  EXPECT_EQ(leader_read(1, key), "during");
}

// A NATS outage longer than the heartbeat TTL loses every node's record, in
// the nodes' views and in the server's bucket; no node died, so when NATS is
// back every node is heard again and no partition changes leader.
TEST_F(ReplicationTest, ANatsOutageThatKilledNoNodeMovesNoPartition) {
  start_nodes(4);
  // Until the last node to join leads its share, a leader-balance step is due.
  ASSERT_TRUE(wait_until(
      [&] {
        const json t = cluster.get_json(0, "/cluster/topology");
        if (!t.is_object() || t["nodes"].size() != 4) return false;
        for (const auto& n : t["nodes"]) {
          if (n["leads"] != kPartitions / 4) return false;
        }
        return true;
      },
      60s));
  ASSERT_TRUE(cluster.wait_serving(30s));
  const json before = cluster.get_json(0, "/cluster/topology");
  nats.stop();
  for (size_t i = 0; i < 4; ++i) ASSERT_TRUE(cluster.wait_record_lost(i, 30s));
  nats.start();
  ASSERT_TRUE(cluster.wait_converged(4, 60s)) << cluster.describe_not_serving();
  const json after = cluster.get_json(0, "/cluster/topology");
  std::string published;  // the coordinators' account of what they published, and why
  for (size_t i = 0; i < 4; ++i) {
    std::istringstream in(read_file(cluster.node(i).log));
    for (std::string line; std::getline(in, line);) {
      if (line.find("published assignment") != std::string::npos) published += line + "\n";
    }
  }
  EXPECT_EQ(after["assignment"], before["assignment"])
      << "v" << before["version"] << " -> v" << after["version"] << "\n"
      << published;
}

// A forwarded write that reaches its leader only after the node that
// forwarded it stopped waiting (held in a partitioned link, here a stalled
// proxy) is refused unserved: its client was told 504, and a write applied
// whenever the link heals could land over writes made since.
void ReplicationTest::forward_held_past_its_deadline(PartidOptions leader,
                                                     std::chrono::milliseconds held_past) {
  const int peer_port = free_port();
  TcpProxy peer_link(peer_port);  // the others reach node 0's peer port only through it
  PartidOptions behind_link = behind(peer_link, peer_port, leader.extra_args);
  behind_link.launcher = leader.launcher;
  cluster.start(behind_link);
  PartidOptions impatient = node_options(false);
  impatient.extra_args = {"--forward-timeout-ms", "1000", "--hold-ms", "0"};
  cluster.start(impatient);
  cluster.start(node_options(false));
  ASSERT_TRUE(cluster.wait_converged(3, 30s));
  // Node 0 has measured both peers' clocks (twice each).
  ASSERT_TRUE(
      wait_until([&] { return cluster.metric(0, "partid_peer_clock_probes_total") >= 4; }, 20s));
  const std::string key = key_led_by(0, "late");
  // Through node 1: its connection to node 0 is then open and past its
  // handshake. A connection still to be opened when the link stalls would
  // hold the late write back behind its Hello, and it would time out
  // without ever reaching node 0 (a CI run saw that once).
  ASSERT_EQ(put(1, key, "before"), 200);

  peer_link.stall();
  json body = {{"partition_key", key}, {"message", "late"}};
  auto late = cluster.http(1, "POST", "/items", body.dump());
  ASSERT_EQ(late.status, 504) << late.body;
  EXPECT_NE(late.body.find("forward_timeout"), std::string::npos) << late.body;
  // The 504 came at the forward's deadline; the held request must reach node
  // 0 after it (milliseconds of the wall clock, which the deadline is in).
  const auto answered = std::chrono::system_clock::now();
  ASSERT_TRUE(
      wait_until([&] { return std::chrono::system_clock::now() > answered + held_past; }, 2s));
  peer_link.unstall();

  ASSERT_TRUE(
      wait_until([&] { return cluster.metric(0, "partid_forwards_expired_total") >= 1; }, 10s));
  EXPECT_EQ(leader_read(0, key), "before");
  EXPECT_EQ(put(1, key, "after"), 200) << "the link serves forwards again";
  EXPECT_EQ(leader_read(2, key), "after");
}

// Node 0 allows no clock offset, so any arrival past the deadline counts.
TEST_F(ReplicationTest, AForwardedWriteThatArrivesAfterItsDeadlineIsNeverApplied) {
  PartidOptions leader;
  leader.extra_args = {"--max-clock-offset-ms", "0"};
  forward_held_past_its_deadline(leader, 5ms);
}

// The same with node 0's wall clock 3 s behind its peers': read on its own
// clock, the write's deadline was still 2 s away when it arrived, and it was
// served. Node 0 reads it through the offset it measured to node 1.
TEST_F(ReplicationTest, ANodeWhoseClockRunsBehindStillRefusesAForwardPastItsDeadline) {
  PartidOptions leader;
  leader.launcher = clock_set_off(-3s);
  leader.extra_args = {"--max-clock-offset-ms", "100"};
  forward_held_past_its_deadline(leader, 500ms);
}

// A node whose wall clock runs 3 s ahead of its peers' read every forward
// they sent it (waiting 1 s) as 2 s past its deadline and refused it (504
// forward_expired): it now reads their deadlines through the offsets it
// measured, and serves them. Every node reports the offset.
TEST_F(ReplicationTest, ANodeWhoseClockRunsAheadServesItsPeersForwards) {
  PartidOptions ahead = node_options(false);
  ahead.launcher = clock_set_off(3s);
  cluster.start(ahead);
  PartidOptions peer = node_options(false);
  peer.extra_args = {"--forward-timeout-ms", "1000"};  // deadlines 1 s out, on their clock
  cluster.start(peer);
  cluster.start(peer);
  ASSERT_TRUE(cluster.wait_converged(3, 30s)) << cluster.describe_not_serving();
  ASSERT_TRUE(
      wait_until([&] { return cluster.metric(0, "partid_peer_clock_probes_total") >= 4; }, 20s));
  for (size_t node = 0; node < 3; ++node) {
    EXPECT_TRUE(wait_until(
        [&] { return cluster.metric(node, "partid_peer_clock_offset_max_ms") >= 2'900; }, 20s))
        << "node " << node;
    EXPECT_LE(cluster.metric(node, "partid_peer_clock_offset_max_ms"), 3'100) << "node " << node;
  }
  for (size_t via : {1, 2}) {
    for (int k = 0; k < 5; ++k) {
      const std::string key =
          key_led_by(0, "ahead-" + std::to_string(via) + "-" + std::to_string(k) + "-");
      ASSERT_EQ(put(via, key, "v"), 200) << key << " through node " << via;
      EXPECT_EQ(leader_read(via, key), "v");
    }
  }
  EXPECT_EQ(cluster.metric(0, "partid_forwards_expired_total"), 0);
}

// An item version's HLC orders the writes of its partition across leaders:
// a leader whose clock runs behind its predecessor's stamped versions older
// than the ones already written (3 s older here), so the newest item of a key
// carried a smaller HLC than the one before it. A new leader's clock now
// passes the newest entry of the log it takes over first.
TEST_F(ReplicationTest, VersionsStampedAfterAFailoverToASlowerClockStillOrderAfterTheOldOnes) {
  PartidOptions ahead = node_options(false);
  ahead.launcher = clock_set_off(3s);
  cluster.start(ahead);
  cluster.start(node_options(false));
  cluster.start(node_options(false));
  ASSERT_TRUE(cluster.wait_converged(3, 30s)) << cluster.describe_not_serving();
  const std::string key = key_led_by(0, "hlc-");
  auto hlc_of_write = [&](const std::string& range_key) -> uint64_t {
    const auto r = cluster.http(
        1, "POST", "/items",
        json{{"partition_key", key}, {"range_key", range_key}, {"message", "m"}}.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body, nullptr, false).value("hlc", uint64_t{0});
  };
  const uint64_t before = hlc_of_write("before");
  cluster.kill(0);
  ASSERT_TRUE(wait_until([&] { return cluster.serving_partitions() == kPartitions; }, 30s))
      << cluster.describe_not_serving();
  const uint64_t after = hlc_of_write("after");
  EXPECT_GT(after, before) << "physical ms " << (after >> 16) << " after " << (before >> 16);
}

// The same when the replicas that may lead next hold the partition from a
// snapshot and their logs no op since (a short log; each rebuilt on a wiped
// disk, then restarted): the clock of the new leader, 3 s behind the old
// one's, has no op of its log to pass. It passes the newest item any snapshot
// installed on its disk (PartitionMeta::hlc_floor).
TEST_F(ReplicationTest, VersionsStampedByALeaderRebuiltFromASnapshotStillOrderAfterTheOldOnes) {
  PartidOptions options = node_options(true);
  options.extra_args.insert(options.extra_args.end(), {"--log-retention", "4"});
  PartidOptions ahead = options;
  ahead.launcher = clock_set_off(30s);
  cluster.start(ahead);
  cluster.start(options);
  cluster.start(options);
  ASSERT_TRUE(cluster.wait_converged(3, 30s)) << cluster.describe_not_serving();
  const std::string key = key_led_by(0, "floor-");
  const uint32_t p = partition_of(key);
  auto hlc_of_write = [&](const std::string& range_key) -> uint64_t {
    const auto r = cluster.http(
        0, "POST", "/items",
        json{{"partition_key", key}, {"range_key", range_key}, {"message", "m"}}.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body, nullptr, false).value("hlc", uint64_t{0});
  };
  uint64_t before = 0;
  for (int k = 0; k < 12; ++k) before = hlc_of_write("before-" + std::to_string(k));
  for (size_t node : {1, 2}) {
    cluster.wipe(node);
    cluster.start_again(node);
    ASSERT_TRUE(cluster.wait_converged(3, 30s)) << cluster.describe_not_serving();
    ASSERT_TRUE(rebuilt(node, p, 12, 30s));
  }
  // Restarted, the two have only their disks: what their clocks saw of the
  // snapshots as they arrived is gone.
  for (size_t node : {1, 2}) {
    cluster.kill(node);
    cluster.start_again(node);
  }
  ASSERT_TRUE(cluster.wait_converged(3, 30s)) << cluster.describe_not_serving();
  cluster.kill(0);
  ASSERT_TRUE(wait_until([&] { return cluster.serving_partitions() == kPartitions; }, 30s))
      << cluster.describe_not_serving();
  const auto r =
      cluster.http(1, "POST", "/items",
                   json{{"partition_key", key}, {"range_key", "after"}, {"message", "m"}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const uint64_t after = json::parse(r.body, nullptr, false).value("hlc", uint64_t{0});
  EXPECT_GT(after, before) << "physical ms " << (after >> 16) << " after " << (before >> 16);
}

std::function<std::string(size_t, const std::string&, const std::string&)>
ReplicationTest::writes_prefixed(std::vector<std::string> apis, std::string prefix) {
  return [apis = std::move(apis), prefix = std::move(prefix)](size_t v, const std::string& k,
                                                              const std::string& m) {
    return put_outcome(apis[v], prefix + k, m);
  };
}

void ReplicationTest::expect_only_coded_failures(Writer& writer, const std::string& through) {
  for (const auto& [outcome, count] : writer.failures()) {
    EXPECT_TRUE(outcome.rfind("503 ", 0) == 0 || outcome.rfind("504 ", 0) == 0)
        << count << " writes through " << through << " ended " << outcome;
  }
}

void ReplicationTest::expect_acknowledged_readable(
    size_t via, std::initializer_list<std::pair<std::string, Writer*>> writers) {
  for (const auto& [prefix, writer] : writers) {
    for (const auto& [key, message] : writer->acked()) {
      ASSERT_EQ(leader_read(via, prefix + key), message)
          << prefix + key << " was acknowledged and is lost";
    }
  }
}

std::unique_ptr<Writer> ReplicationTest::break_disk_under_writes(const PartidOptions& failing,
                                                                 const std::string& flag,
                                                                 const std::string& reason) {
  cluster.start(failing);
  cluster.start(node_options(true));
  cluster.start(node_options(true));
  auto failed = [&](const std::string& what) {
    ADD_FAILURE() << what;
    return nullptr;
  };
  if (!cluster.wait_converged(3, 30s)) return failed(cluster.describe_not_serving());
  auto writer = std::make_unique<Writer>(
      [apis = apis_of(3)](size_t v, const std::string& k, const std::string& m) {
        return put_outcome(apis[v], k, m);
      },
      std::vector<size_t>{0, 1, 2});
  if (!wait_until([&] { return writer->acked_count() >= 150; }, 30s)) return failed("no writes");
  writer->only_through({1, 2});
  std::ofstream(flag) << "broken\n";
  const auto code = cluster.wait_exit(0, 30s);
  if (!code) return failed("node 0 went on for 30 s after " + flag + " was made");
  EXPECT_EQ(*code, 70);
  const std::string log = read_file(cluster.node(0).log);
  EXPECT_NE(log.find(reason), std::string::npos) << log;
  if (!wait_until([&] { return cluster.serving_partitions() == kPartitions; }, 30s)) {
    return failed(cluster.describe_not_serving());
  }
  const size_t failed_over = writer->acked_count();
  if (!wait_until([&] { return writer->acked_count() >= failed_over + 150; }, 30s)) {
    return failed("the writes stopped after the failover");
  }
  return writer;
}

void ReplicationTest::mend_disk(Writer& writer, const std::string& flag) {
  std::filesystem::remove(flag);
  cluster.start_again(0);
  ASSERT_TRUE(cluster.wait_converged(3, 60s)) << cluster.describe_not_serving();
  // (A write in flight to node 0 when it stopped ended with its connection.)
  expect_writes_go_on_and_none_lost(writer, 1, 150);
}

void ReplicationTest::expect_writes_go_on_and_none_lost(Writer& writer, size_t via, size_t more) {
  const size_t from = writer.acked_count();
  ASSERT_TRUE(wait_until([&] { return writer.acked_count() >= from + more; }, 30s))
      << "the writes stopped";
  writer.stop();
  for (const auto& [key, message] : writer.acked()) {
    ASSERT_EQ(leader_read(via, key), message) << key << " was acknowledged and is lost";
  }
  expect_every_partition_validates(via);
}

void ReplicationTest::partition_leader_under_writes(NetworkPartitions::Cut cut) {
  network.emplace(nats, 3);
  for (size_t i = 0; i < 3; ++i) {
    PartidOptions o = network->route(i, node_options(true));
    // A request that meets the cut fails fast, so the writers move on.
    o.extra_args.insert(o.extra_args.end(),
                        {"--write-timeout-ms", "1500", "--forward-timeout-ms", "1500"});
    cluster.start(o);
  }
  ASSERT_TRUE(cluster.wait_converged(3, 30s)) << cluster.describe_not_serving();
  const std::string led_by_0 = key_led_by(0, "i");
  Writer majority_side(writes_prefixed(apis_of(3), "a"), {1, 2});
  Writer minority_side(writes_prefixed(apis_of(3), "b"), {0});
  ASSERT_TRUE(wait_until(
      [&] { return majority_side.acked_count() >= 100 && minority_side.acked_count() >= 50; },
      30s));

  network->isolate(0, cut);
  const size_t before = majority_side.acked_count();
  ASSERT_TRUE(wait_until([&] { return put(1, led_by_0, "while isolated") == 200; }, 30s))
      << cluster.describe_not_serving();
  ASSERT_TRUE(wait_until([&] { return majority_side.acked_count() >= before + 150; }, 30s));

  network->heal(0);
  ASSERT_TRUE(cluster.wait_converged(3, 30s)) << cluster.describe_not_serving();
  const size_t healed = minority_side.acked_count();
  ASSERT_TRUE(wait_until([&] { return minority_side.acked_count() >= healed + 50; }, 30s))
      << json(minority_side.failures()).dump();
  majority_side.stop();
  minority_side.stop();

  expect_only_coded_failures(minority_side, "the isolated node");
  EXPECT_EQ(leader_read(0, led_by_0), "while isolated");
  expect_acknowledged_readable(2, {{"a", &majority_side}, {"b", &minority_side}});
  expect_every_partition_validates(1);
}

// Two nodes of five that lead and follow one partition together (the side),
// chosen so that another partition is led and followed by two of the other
// three: each side then holds a write quorum of a partition.
struct SplitPlan {
  std::set<size_t> side;
  std::string held_by_side, held_by_rest;  // a key of each such partition
};

void ReplicationTest::split_under_writes(NetworkPartitions::NatsSide nats_side) {
  constexpr size_t kNodes = 5;
  network.emplace(nats, kNodes);
  for (size_t i = 0; i < kNodes; ++i) {
    PartidOptions o = network->route(i, node_options(true));
    // Writes that meet the cut fail fast (the hold would retry one whose
    // leader is out of reach for 5 s), so the writers move on.
    o.extra_args.insert(o.extra_args.end(),
                        {"--write-timeout-ms", "1000", "--forward-timeout-ms", "1000", "--hold-ms",
                         "300", "--max-clock-offset-ms", "0"});
    cluster.start(o);
  }
  ASSERT_TRUE(cluster.wait_converged(kNodes, 30s)) << cluster.describe_not_serving();
  // The plan holds only while the assignment does: wait out the staged moves
  // of the start (every node at one version, none an interim step), and an
  // assignment that leaves a node out (one counted gone for a late
  // heartbeat on a loaded machine and back: it is given partitions again
  // once its rejoin window ends, moves that would land under the cut).
  const auto every_node_holds = [&](const json& t) {
    if (!t.contains("nodes") || t["nodes"].size() != kNodes) return false;
    for (const auto& n : t["nodes"]) {
      if (n.value("holds", 0) == 0) return false;
    }
    return true;
  };
  const auto settled_version = [&] {
    std::set<uint64_t> versions;
    for (size_t i = 0; i < kNodes; ++i) {
      const json t = cluster.get_json(i, "/cluster/topology");
      if (!t.is_object() || t.value("interim", true) || !every_node_holds(t)) return uint64_t{0};
      versions.insert(t.value("version", uint64_t{0}));
    }
    return versions.size() == 1 ? *versions.begin() : uint64_t{0};
  };
  const auto pair_of = [&](const std::string& key) {
    const auto r = replicas_of(0, partition_of(key));
    return std::set<size_t>{index_of(r[0]), index_of(r[1])};
  };
  const auto make_plan = [&] {
    SplitPlan plan;
    for (int k = 0; plan.held_by_rest.empty() && k < 200; ++k) {
      plan.held_by_side = "side" + std::to_string(k);
      plan.side = pair_of(plan.held_by_side);
      for (int j = 0; j < 200; ++j) {
        const std::string candidate = "rest" + std::to_string(j);
        const auto pair = pair_of(candidate);
        if (!pair.contains(*plan.side.begin()) && !pair.contains(*plan.side.rbegin())) {
          plan.held_by_rest = candidate;
          break;
        }
      }
    }
    return plan;
  };
  SplitPlan plan;
  std::vector<size_t> side, rest;
  uint64_t planned_at = 0;
  const auto plan_at_settled = [&] {
    if (!wait_until([&] { return settled_version() != 0; }, 30s)) return false;
    planned_at = settled_version();
    plan = make_plan();
    side.assign(plan.side.begin(), plan.side.end());
    rest.clear();
    for (size_t i = 0; i < kNodes; ++i) {
      if (!plan.side.contains(i)) rest.push_back(i);
    }
    return !plan.held_by_rest.empty();
  };
  ASSERT_TRUE(plan_at_settled()) << "no settled assignment, or no two disjoint pairs in it";
  const auto apis = apis_of(kNodes);
  Writer side_writer(writes_prefixed(apis, "a"), side);
  Writer rest_writer(writes_prefixed(apis, "b"), rest);
  ASSERT_TRUE(wait_until(
      [&] { return side_writer.acked_count() >= 50 && rest_writer.acked_count() >= 50; }, 30s));
  // A node slow to heartbeat on a loaded machine costs an emergency
  // rebalance and its undoing, which void the plan: it is made again, and
  // the writers follow it (what they had acknowledged is checked all the same).
  for (int replan = 0; settled_version() != planned_at && replan < 3; ++replan) {
    ASSERT_TRUE(plan_at_settled()) << "no settled assignment, or no two disjoint pairs in it";
    side_writer.only_through(side);
    rest_writer.only_through(rest);
  }
  ASSERT_EQ(settled_version(), planned_at) << "the assignment kept changing under the plan";
  network->split(plan.side, nats_side);
  // Each side keeps writing a partition it holds a quorum of, whichever side
  // NATS (the coordinator, the seal register) is on, and neither side writes
  // the other's: the other side may still hold a quorum of it.
  EXPECT_EQ(put_outcome(apis[side[0]], plan.held_by_side, "side"), "")
      << json(cluster.get_json(side[0], "/cluster/topology")).dump();
  EXPECT_EQ(put_outcome(apis[rest[0]], plan.held_by_rest, "rest"), "")
      << json(cluster.get_json(rest[0], "/cluster/topology")).dump();
  EXPECT_NE(put(rest[0], plan.held_by_side, "not here"), 200);
  EXPECT_NE(put(side[0], plan.held_by_rest, "not here"), 200);
  const size_t side_before = side_writer.acked_count(), rest_before = rest_writer.acked_count();
  ASSERT_TRUE(wait_until(
      [&] {
        return side_writer.acked_count() >= side_before + 3 &&
               rest_writer.acked_count() >= rest_before + 3;
      },
      30s))
      << "side " << side_writer.acked_count() - side_before << " more acked, failures "
      << json(side_writer.failures()).dump() << "; rest " << rest_writer.acked_count() - rest_before
      << " more, failures " << json(rest_writer.failures()).dump();
  EXPECT_NE(put(rest[1], plan.held_by_side, "not here"), 200);
  EXPECT_NE(put(side[1], plan.held_by_rest, "not here"), 200);
  // A refused forward still held in the cut link reaches its leader at the
  // heal: past its deadline (these nodes allow no clock offset), it must be
  // refused there, not applied.
  const auto refused = std::chrono::system_clock::now();
  ASSERT_TRUE(wait_until([&] { return std::chrono::system_clock::now() > refused + 5ms; }, 1s));

  network->heal_split();
  ASSERT_TRUE(cluster.wait_converged(kNodes, 30s)) << cluster.describe_not_serving();
  const size_t side_healed = side_writer.acked_count(), rest_healed = rest_writer.acked_count();
  ASSERT_TRUE(wait_until(
      [&] {
        return side_writer.acked_count() >= side_healed + 50 &&
               rest_writer.acked_count() >= rest_healed + 50;
      },
      30s));
  side_writer.stop();
  rest_writer.stop();

  expect_only_coded_failures(side_writer, "the two nodes");
  expect_only_coded_failures(rest_writer, "the three nodes");
  EXPECT_EQ(leader_read(rest[0], plan.held_by_side), "side");
  EXPECT_EQ(leader_read(side[0], plan.held_by_rest), "rest");
  expect_acknowledged_readable(rest[0], {{"a", &side_writer}, {"b", &rest_writer}});
  expect_every_partition_validates(side[0]);
}

// DESIGN 8, the partition every store must survive: the cluster cut in two,
// two nodes of five on one side and three on the other, under writes through
// both. A partition is writable on the side that holds a quorum of its
// replicas and its leader, and nowhere else: never on both sides, so never
// two leaders accepting writes at once, whichever side NATS (the
// coordinator and the seal register) stays on. A write that meets the cut
// fails with a coded 503 or 504. After the heal every acknowledged write of
// either side is readable and every partition's replicas agree.
// NATS on the larger side: the smaller one keeps its assignment, unaware.
TEST_F(ReplicationTest, ACutBetweenTwoAndThreeNodesWritesEachPartitionOnOneSideOnly) {
  split_under_writes(NetworkPartitions::NatsSide::with_rest);
}

// NATS on the smaller side: the coordinator there takes the three others
// for dead and moves their partitions to the two it still hears, which
// cannot seal what the three still hold a quorum of.
TEST_F(ReplicationTest, ACutThatLeavesNatsWithTheSmallerSideWritesEachPartitionOnOneSideOnly) {
  split_under_writes(NetworkPartitions::NatsSide::with_side);
}

// DESIGN 8: a network partition under writes. Node 0, which leads some
// partitions, is cut off while clients keep writing through every node
// (support/network_partitions.h). Through the two others the partitions it
// led fail over and writes go on; through node 0 a write succeeds only
// through a leader it can still reach, else gets a coded 503/504 within its
// timeouts, never a hang. Once the partition heals node 0 rejoins and serves
// again, every acknowledged write on either side is readable, and every
// partition's replicas agree entry for entry (two leaders accepting writes in
// one epoch would show as two different entries at one position).
// Cut off from NATS and from both peers, in both directions.
TEST_F(ReplicationTest, ALeaderIsolatedUnderWritesLosesNoAcknowledgedWriteAndRejoins) {
  partition_leader_under_writes(NetworkPartitions::Cut::everything);
}

// Cut off from NATS only: the others appoint new leaders while node 0 still
// reaches them and still believes it leads. Its writes in the old epoch are
// refused by replicas sealed in the new one.
TEST_F(ReplicationTest, ALeaderCutFromNatsOnlyUnderWritesLosesNoAcknowledgedWriteAndRejoins) {
  partition_leader_under_writes(NetworkPartitions::Cut::nats_only);
}

// A leader that hears no acknowledgements (its peer port stalled behind a
// proxy; NATS still reaches it, so nothing fails over) is reported stuck: the
// partition's stalled_seconds grows while its watermark stands still, and
// partid_stalled_partitions counts it once that exceeds the write timeout.
// Both clear once the acknowledgements come through again.
TEST_F(ReplicationTest, APartitionWhoseWritesCannotCommitIsReportedStalledUntilTheyDo) {
  const int peer_port = free_port();
  TcpProxy peer_link(peer_port);
  cluster.start(behind(peer_link, peer_port, {"--write-timeout-ms", "1000"}));
  for (int i = 0; i < 2; ++i) cluster.start(node_options(false));
  ASSERT_TRUE(cluster.wait_converged(3, 30s));
  const std::string key = key_led_by(0, "st");
  const uint32_t p = partition_of(key);
  ASSERT_EQ(put(0, key, "before"), 200);
  EXPECT_EQ(partition_status(0, p)["stalled_seconds"], 0.0);
  EXPECT_EQ(cluster.metric(0, "partid_stalled_partitions"), 0);

  peer_link.stall();
  EXPECT_EQ(put(0, key, "stuck"), 504);  // no quorum within the write timeout
  ASSERT_TRUE(wait_until([&] { return cluster.metric(0, "partid_stalled_partitions") >= 1; }, 10s));
  EXPECT_GE(partition_status(0, p)["stalled_seconds"].get<double>(), 1.0);

  peer_link.unstall();
  EXPECT_TRUE(wait_until(
      [&] {
        return partition_status(0, p)["stalled_seconds"] == 0.0 &&
               cluster.metric(0, "partid_stalled_partitions") == 0;
      },
      20s));
  EXPECT_EQ(put(0, key, "after"), 200);
}

// A follower that receives nothing (its peer port stalled behind a proxy; it
// keeps its NATS heartbeats, so it stays in the set) is shown by its leader
// as falling behind: its match stands still, its stalled_seconds grows, and
// partid_lagging_followers counts it past the write timeout, while writes
// still commit on the other two. When it hears its leader again it catches up
// and the report clears.
TEST_F(ReplicationTest, ALeaderReportsAFollowerThatFallsBehindUntilItCatchesUp) {
  PartidOptions leader_options = node_options(false);
  leader_options.extra_args = {"--write-timeout-ms", "1000"};
  cluster.start(leader_options);
  const int peer_port = free_port();
  TcpProxy peer_link(peer_port);
  cluster.start(behind(peer_link, peer_port));
  cluster.start(node_options(false));
  ASSERT_TRUE(cluster.wait_converged(3, 30s));
  const std::string key = key_led_by(0, "lag");
  const uint32_t p = partition_of(key);
  const std::string deaf_id = cluster.node(1).id;
  ASSERT_EQ(put(0, key, "v0"), 200);
  const auto follower = [&] {
    const json status = partition_status(0, p);
    for (const auto& f : status["followers"]) {
      if (f["node"] == deaf_id) return f;
    }
    return json();
  };
  ASSERT_TRUE(wait_until([&] { return follower()["behind"] == 0; }, 10s))
      << partition_status(0, p).dump();

  peer_link.stall();
  for (int k = 1; k <= 3; ++k) ASSERT_EQ(put(0, key, "v" + std::to_string(k)), 200);
  ASSERT_TRUE(wait_until([&] { return cluster.metric(0, "partid_lagging_followers") >= 1; }, 10s));
  const json behind = follower();
  EXPECT_GE(behind["behind"].get<uint64_t>(), 3u) << behind.dump();
  EXPECT_GE(behind["stalled_seconds"].get<double>(), 1.0) << behind.dump();

  peer_link.unstall();
  EXPECT_TRUE(wait_until(
      [&] {
        const json f = follower();
        return f["behind"] == 0 && f["stalled_seconds"] == 0.0 &&
               cluster.metric(0, "partid_lagging_followers") == 0;
      },
      20s))
      << follower().dump();
  EXPECT_TRUE(wait_until([&] { return replica_read(1, key) == "v3"; }, 10s));
}

TEST_F(ReplicationTest, AWipedReplicaIsRebuiltFromTheOthers) {
  start_nodes(3, true);
  for (int k = 0; k < 50; ++k) ASSERT_EQ(put(0, "r" + std::to_string(k), "v"), 200);
  cluster.wipe(2);
  cluster.start_again(2);
  ASSERT_TRUE(cluster.wait_converged(3, 30s));
  // Every partition on the new disk catches up and stops rebuilding.
  for (uint32_t p = 0; p < kPartitions; ++p) {
    EXPECT_TRUE(rebuilt(2, p, 1, 20s));
  }
  for (int k = 0; k < 50; ++k) {
    const std::string key = "r" + std::to_string(k);
    EXPECT_TRUE(wait_until([&] { return replica_read(2, key) == "v"; }, 10s)) << key;
  }
  expect_every_partition_validates(2);
}

TEST_F(ReplicationTest, AWipedReplicaIsRebuiltFromOneSnapshotLargerThanAPeerFrame) {
  // A log trimmed right behind the watermark: a new disk can only get the
  // partition back as a snapshot. A 2 MiB frame limit makes a 3.2 MiB
  // snapshot too large for one frame (the default, 16 MiB, would need a
  // snapshot five times larger for the same path).
  constexpr uint32_t kFrameBytes = 2u << 20;
  PartidOptions options = node_options(true);
  options.extra_args.insert(
      options.extra_args.end(),
      {"--log-retention", "10", "--max-peer-frame-bytes", std::to_string(kFrameBytes),
       // Installed by ingesting files, not in one batch (the default bound
       // is 4 MiB).
       "--ingest-install-kib", "1024",
       // Resends as often as the core allows: many come while the snapshot is
       // built, sent and installed.
       "--retry-ticks", "1", "--replication-tick-ms", "10"});
  for (int i = 0; i < 3; ++i) cluster.start(options);
  ASSERT_TRUE(cluster.wait_converged(3, 30s));
  const uint32_t p = partition_of("big");
  const std::vector<std::string> keys = keys_beside("big", 16);
  auto message_of = [](const std::string& key) { return key + std::string(200 * 1024, 'x'); };
  for (const auto& key : keys) ASSERT_EQ(put(0, key, message_of(key)), 200) << key;
  ASSERT_GT(keys.size() * 200 * 1024, size_t{kFrameBytes});

  cluster.wipe(2);
  cluster.start_again(2);
  ASSERT_TRUE(cluster.wait_converged(3, 30s));
  ASSERT_TRUE(rebuilt(2, p, keys.size(), 60s));
  // The state lands on disk just after the watermark is reported.
  for (const auto& key : keys) {
    EXPECT_TRUE(wait_until([&] { return replica_read(2, key) == message_of(key); }, 10s)) << key;
  }
  EXPECT_GE(replication_counter("fragmented_transfers", 2), 1u);
  // One snapshot per follower and epoch: the leader's resends while it is
  // built, sent and installed do not build it again (each is a read and an
  // encoding of the whole partition). Only a transfer abandoned on the way
  // (a fragment not answered in time) ends the wait (SnapshotsOut).
  const std::regex built(R"(partition (\d+): snapshot for (\S+) in epoch (\d+) built)");
  const std::regex abandoned(R"(snapshot transfer of partition (\d+) to \S+ abandoned)");
  for (size_t i = 0; i < 2; ++i) {
    const std::string log = read_file(cluster.node(i).log);
    std::map<std::string, int> builds, abandons;
    for (std::sregex_iterator m(log.begin(), log.end(), abandoned), end; m != end; ++m) {
      ++abandons[(*m)[1]];
    }
    for (std::sregex_iterator m(log.begin(), log.end(), built), end; m != end; ++m) {
      EXPECT_LE(++builds[m->str()], 1 + abandons[(*m)[1]])
          << "node " << i << " built again: " << m->str() << "\n"
          << lines_about("partition " + (*m)[1].str(), log);
    }
  }
  // It was checked once, on the snapshot pool as it arrived, not on the
  // loop, and ingested as it was read from its bytes: in key order, never
  // held sorted (nor decoded) in memory.
  EXPECT_EQ(read_file(cluster.node(2).log).find("not checked on arrival"), std::string::npos);
  const json status = cluster.get_json(2, "/cluster/status")["replication"];
  EXPECT_GE(status["snapshot_installs_ingested"].get<int>(), 1);
  EXPECT_EQ(status["snapshot_installs_sorted"].get<int>(), 0);
  // The state installed from the snapshot is, item for item, the state the
  // other replicas applied from their logs.
  json report;
  EXPECT_TRUE(wait_until(
      [&] {
        report = json::parse(validate(2, p).body, nullptr, false);
        return report.is_object() && report["consistent"] == true &&
               report["compared"]["state_digests_agree"] == true;
      },
      20s))
      << report.dump();
}

TEST_F(ReplicationTest, APartitionPastTheSnapshotBoundIsNotCopiedWhileTheOthersAreRebuilt) {
  // A log trimmed right behind the watermark: a new disk gets a partition
  // back only as a snapshot, and one partition holds more than the 1 MiB a
  // snapshot may carry here. Its leader must stop building at the bound (not
  // hold the whole partition in memory to send what the follower would
  // refuse), say so once, and not read it again at every resend.
  PartidOptions options = node_options(true);
  options.extra_args.insert(options.extra_args.end(),
                            {"--log-retention", "10", "--max-snapshot-mib", "1", "--retry-ticks",
                             "1", "--replication-tick-ms", "10"});
  for (int i = 0; i < 3; ++i) cluster.start(options);
  ASSERT_TRUE(cluster.wait_converged(3, 30s));
  const uint32_t big = partition_of("big");
  const std::vector<std::string> keys = keys_beside("big", 8);
  for (const auto& key : keys) ASSERT_EQ(put(0, key, std::string(200 * 1024, 'x')), 200) << key;
  std::string small = "small";
  for (int k = 0; partition_of(small) == big; ++k) small = "small" + std::to_string(k);
  for (int k = 0; k < 20; ++k) ASSERT_EQ(put(0, small, "v" + std::to_string(k)), 200);

  cluster.wipe(2);
  cluster.start_again(2);
  ASSERT_TRUE(cluster.wait_converged(3, 30s));
  ASSERT_TRUE(wait_until([&] { return replication_counter("snapshots_too_large", 2) >= 1; }, 30s));
  // The other partition came back whole, as a snapshot of its own.
  const uint32_t other = partition_of(small);
  EXPECT_TRUE(rebuilt(2, other, 20, 30s));
  EXPECT_TRUE(wait_until([&] { return replica_read(2, small) == "v19"; }, 10s));
  // The large one is still missing there, and still takes writes on the two
  // replicas that hold it.
  EXPECT_EQ(put(1, keys[0], "after"), 200);
  auto s = partition_status(2, big);
  EXPECT_TRUE(!s.is_object() || s["rebuilding"].get<bool>() || s["watermark"] == 0) << s.dump();
  // Said once per follower (a sealing leader may ask for one too): the
  // leader's resends (every 10 ms here) within the retry window build nothing.
  const std::regex said("partition " + std::to_string(big) +
                        R"(: a snapshot for (\S+) would pass)");
  for (size_t i = 0; i < 2; ++i) {
    const std::string log = read_file(cluster.node(i).log);
    std::map<std::string, int> per_follower;
    for (std::sregex_iterator m(log.begin(), log.end(), said), end; m != end; ++m) {
      EXPECT_EQ(++per_follower[(*m)[1]], 1) << "node " << i << ": " << m->str();
    }
  }
}

// Eight partitions of ~600 KiB each and a wiped follower (node 2) that needs
// all of them as snapshots (the log is trimmed right behind the watermark),
// sent in fragments (a 2 MiB frame) two at a time per peer, with `budgets`
// among the nodes' flags: node 2 must still be given every partition. With
// `slow_link` (forwarding to `peer_port`), node 2's peer port is behind it,
// throttled to 1 MiB/s for the rebuild: each transfer then takes most of a
// second, so the leaders' transfers overlap.
void ReplicationTest::rebuild_eight_partitions(const std::vector<std::string>& budgets,
                                               TcpProxy* slow_link, int peer_port) {
  PartidOptions options = node_options(true);
  options.extra_args.insert(
      options.extra_args.end(),
      {"--log-retention", "10", "--max-peer-frame-bytes", std::to_string(2u << 20), "--retry-ticks",
       "1", "--replication-tick-ms", "10"});
  options.extra_args.insert(options.extra_args.end(), budgets.begin(), budgets.end());
  for (int i = 0; i < 2; ++i) cluster.start(options);
  cluster.start(slow_link ? behind(*slow_link, peer_port, options.extra_args) : options);
  ASSERT_TRUE(cluster.wait_converged(3, 30s));
  std::map<uint32_t, std::vector<std::string>> keys;  // partition -> its three keys
  auto all_chosen = [&] {
    return keys.size() == 8 && std::all_of(keys.begin(), keys.end(),
                                           [](const auto& kv) { return kv.second.size() == 3; });
  };
  for (int k = 0; !all_chosen(); ++k) {
    const std::string key = "b" + std::to_string(k);
    const uint32_t p = partition_of(key);
    if (keys.contains(p) ? keys[p].size() < 3 : keys.size() < 8) keys[p].push_back(key);
  }
  auto message_of = [](const std::string& key) { return key + std::string(200 * 1024, 'x'); };
  // Each key written four times: twelve entries, past the ten the log keeps.
  for (int round = 0; round < 4; ++round) {
    for (const auto& [p, ks] : keys) {
      for (const auto& key : ks) ASSERT_EQ(put(0, key, message_of(key)), 200) << key;
    }
  }

  if (slow_link) slow_link->throttle(1u << 20);
  cluster.wipe(2);
  cluster.start_again(2);
  // Converged means the staged moves are done: the new replica holds its
  // partitions, about 5 MiB copied over a 1-MiB/s link within the budgets
  // (under ASan on two cores with another scenario beside it, over 30 s).
  ASSERT_TRUE(cluster.wait_converged(3, 90s));
  for (const auto& [p, ks] : keys) {
    EXPECT_TRUE(rebuilt(2, p, ks.size(), 60s));
    for (const auto& key : ks) {
      EXPECT_TRUE(wait_until([&] { return replica_read(2, key) == message_of(key); }, 10s)) << key;
    }
  }
}

// 1 MiB for the snapshots a leader may hold built and undelivered: the
// leaders must turn builds away while the first ones wait for the wire, and
// still rebuild the follower, holding nothing once they are delivered.
TEST_F(ReplicationTest, ALeaderHoldsItsBuiltSnapshotsWithinTheirBudgetAndStillRebuildsEveryone) {
  rebuild_eight_partitions({"--snapshot-budget-mib", "1"});
  EXPECT_GE(replication_counter("snapshot_builds_deferred", 2), 1u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_TRUE(wait_until(
        [&] {
          return cluster.get_json(i, "/cluster/status")["replication"]["snapshot_bytes_held"] == 0;
        },
        20s))
        << "node " << i;
  }
}

// 1 MiB for the snapshots the follower may hold received and not installed
// (each transfer counts 768 KiB: three 256-KiB fragments, so a second may
// start beside one, a third not): over a slow link the leaders' four
// transfers at once overlap, the follower answers the third busy, they send them again
// later instead of abandoning them, and once every partition is in, the
// follower's budget counts nothing (every transfer's count was released).
TEST_F(ReplicationTest, AFollowerTakesItsSnapshotsInWithinItsReceiveBudgetAndGetsEveryPartition) {
  const int peer_port = free_port();
  TcpProxy slow_link(peer_port);
  rebuild_eight_partitions({"--snapshot-receive-budget-mib", "1"}, &slow_link, peer_port);
  const auto count_on = [&](size_t i, const std::string& name) {
    return cluster.get_json(i, "/cluster/status")["replication"][name].get<uint64_t>();
  };
  EXPECT_GE(count_on(2, "fragmented_transfers_turned_away"), 1u);
  EXPECT_GE(count_on(0, "fragmented_transfers_waited_busy") +
                count_on(1, "fragmented_transfers_waited_busy"),
            1u);
  // A transfer its leader gave up on (a fragment timed out over the slow
  // link) is forgotten once quiet for the assembler's idle timeout (30 s).
  EXPECT_TRUE(wait_until([&] { return count_on(2, "snapshot_bytes_receiving") == 0; }, 45s))
      << cluster.get_json(2, "/cluster/status")["replication"].dump();
}

// Sends one ReplicationBatch frame to a node's peer port, as a stale leader
// would, and closes.
void send_replication(const std::string& peer, const partid::pb::Envelope& envelope) {
  asio::io_context io;
  auto s = greeted_peer(io, peer);
  write_frame(s, envelope);
}

// `envelope` becomes a ReplicationBatch from `from` with one message, for
// partition `p`, to fill in.
partid::pb::ReplMessage* only_message(partid::pb::Envelope& envelope, const std::string& from,
                                      uint32_t p) {
  auto* batch = envelope.mutable_replication();
  batch->set_from(from);
  auto* m = batch->add_messages();
  m->set_partition(p);
  return m;
}

TEST_F(ReplicationTest, AMessageFromAnOlderEpochIsRefusedAndChangesNothing) {
  start_nodes(3);
  const std::string key = "fenced";
  const auto [p, replicas, follower] = put_on_a_follower(key, "current");
  const uint64_t epoch = partition_status(follower, p)["promised_epoch"];
  ASSERT_GT(epoch, 0u);
  const double refused_before = cluster.metric(follower, "partid_refused_stale_messages_total");

  // The leader of an older epoch overwrites the key at a later sequence.
  partid::storage::WriteOp op;
  op.partition = p;
  op.partition_key = key;
  op.message = "stale";
  partid::pb::Envelope envelope;
  auto* r = only_message(envelope, replicas[0], p)->mutable_replicate();
  r->set_epoch(epoch - 1);
  const uint64_t seq = partition_status(follower, p)["last_sequence"].get<uint64_t>() + 1;
  r->mutable_prev()->set_epoch(epoch - 1);  // its log holds nothing of a later epoch
  r->mutable_prev()->set_sequence(seq - 1);
  auto* e = r->add_entries();
  e->set_sequence(seq);
  e->set_epoch(epoch - 1);
  e->set_payload(partid::storage::encode_item_op(op));
  r->set_commit(seq);
  send_replication(cluster.node(follower).peer, envelope);

  EXPECT_TRUE(wait_until(
      [&] {
        return cluster.metric(follower, "partid_refused_stale_messages_total") > refused_before;
      },
      10s));
  EXPECT_EQ(replica_read(follower, key), "current");
  EXPECT_EQ(leader_read(0, key), "current");
}

// A promise is durable: a message whose epoch no assignment appointed (a
// corrupt or forged frame) would raise it past every real leader's epoch and
// wedge the partition for good. Such messages, and a leader's message from a
// node that does not lead the partition, are dropped before the core.
TEST_F(ReplicationTest, AMessageWithAnEpochNoAssignmentAppointedIsDroppedAndChangesNothing) {
  start_nodes(3);
  const std::string key = "gated";
  const auto [p, replicas, follower] = put_on_a_follower(key, "before");
  const size_t leader = index_of(replicas[0]);
  const uint64_t epoch = partition_status(follower, p)["promised_epoch"];
  auto dropped = [&](size_t node) {
    return cluster.metric(node, "partid_peer_messages_ahead_of_topology_total");
  };
  const double follower_before = dropped(follower), leader_before = dropped(leader);
  const double impostors_before =
      cluster.metric(follower, "partid_peer_messages_not_from_leader_total");

  partid::pb::Envelope seal;  // "the leader" seals an epoch nobody appointed
  only_message(seal, replicas[0], p)->mutable_begin_epoch()->set_epoch(UINT64_MAX);
  send_replication(cluster.node(follower).peer, seal);
  partid::pb::Envelope ahead;  // and replicates in an epoch not appointed yet
  auto* r = only_message(ahead, replicas[0], p)->mutable_replicate();
  r->set_epoch(epoch + 5);
  r->mutable_prev()->set_epoch(epoch);
  send_replication(cluster.node(follower).peer, ahead);
  partid::pb::Envelope refusal;  // "a follower" claims a promise nobody asked for
  only_message(refusal, replicas[1], p)->mutable_refused()->set_epoch(UINT64_MAX - 1);
  send_replication(cluster.node(leader).peer, refusal);
  partid::pb::Envelope impostor;  // another member seals the current epoch
  only_message(impostor, replicas[2], p)->mutable_begin_epoch()->set_epoch(epoch);
  send_replication(cluster.node(follower).peer, impostor);

  EXPECT_TRUE(wait_until([&] { return dropped(follower) >= follower_before + 2; }, 10s));
  EXPECT_TRUE(wait_until([&] { return dropped(leader) >= leader_before + 1; }, 10s));
  EXPECT_TRUE(wait_until(
      [&] {
        return cluster.metric(follower, "partid_peer_messages_not_from_leader_total") >
               impostors_before;
      },
      10s));
  for (size_t node : {leader, follower}) {
    const json status = partition_status(node, p);
    EXPECT_EQ(status["promised_epoch"], epoch) << "node " << node;
    EXPECT_EQ(status["leader"], replicas[0]) << "node " << node;
  }
  EXPECT_EQ(partition_status(leader, p)["role"], "leader");
  ASSERT_EQ(put(follower, key, "after"), 200);
  EXPECT_TRUE(wait_until([&] { return replica_read(follower, key) == "after"; }, 10s));
}

// Found by a structured fuzzer: a catch-up request past the leader's log
// made its core throw, which ended the connection's reader silently (the
// peer's frames were never read again). Such messages are now dropped (a run
// of entries that skips is counted as malformed), and the same connection
// is still served.
TEST_F(ReplicationTest, AMessageNoHonestPeerCouldSendIsDroppedAndTheConnectionStillServes) {
  start_nodes(3);
  const std::string key = "poison";
  const auto [p, replicas, follower] = put_on_a_follower(key, "before");
  const size_t leader = index_of(replicas[0]);
  const json status = partition_status(follower, p);
  const uint64_t epoch = status["promised_epoch"], last = status["last_sequence"];
  const double bad_before = cluster.metric(follower, "partid_bad_peer_messages_total");

  asio::io_context io;
  auto to_leader = greeted_peer(io, cluster.node(leader).peer);
  partid::pb::Envelope sync;  // "a follower" asks from far past the log
  auto* request = only_message(sync, replicas[1], p)->mutable_sync_request();
  request->set_epoch(epoch);
  request->set_from_sequence(UINT64_MAX - 2);
  write_frame(to_leader, sync);
  partid::pb::Envelope ping;
  ping.set_id(42);
  ping.mutable_ping();
  write_frame(to_leader, ping);
  auto pong = read_frame(to_leader);
  ASSERT_TRUE(pong && pong->has_pong()) << "the leader stopped reading the connection";
  EXPECT_EQ(pong->id(), 42u);

  partid::pb::Envelope jump;  // "the leader" sends entries that skip
  auto* r = only_message(jump, replicas[0], p)->mutable_replicate();
  r->set_epoch(epoch);
  r->mutable_prev()->set_epoch(status["epoch"].get<uint64_t>());
  r->mutable_prev()->set_sequence(last);
  for (uint64_t seq : {last + 1, last + 7}) {
    partid::storage::WriteOp op;
    op.partition = p;
    op.partition_key = key;
    op.message = "forged";
    auto* e = r->add_entries();
    e->set_sequence(seq);
    e->set_epoch(epoch);
    e->set_payload(partid::storage::encode_item_op(op));
  }
  send_replication(cluster.node(follower).peer, jump);
  EXPECT_TRUE(wait_until(
      [&] { return cluster.metric(follower, "partid_bad_peer_messages_total") > bad_before; },
      10s));
  EXPECT_EQ(partition_status(follower, p)["last_sequence"], last);
  ASSERT_EQ(put(0, key, "after"), 200);
  EXPECT_TRUE(wait_until([&] { return replica_read(follower, key) == "after"; }, 10s));
}

// The new coordinator knows its assignment before the others read it, so a
// new leader's BeginEpoch can reach a node whose topology lacks that epoch.
// It is kept and delivered once the topology has it (a failover need not
// wait for the leader's next try); a seal from a node that turns out not to
// lead the partition is dropped then.
TEST_F(ReplicationTest, ASealThatArrivesBeforeItsAssignmentIsDeliveredWhenTheAssignmentDoes) {
  start_nodes(3);
  ASSERT_TRUE(cluster.wait_converged(3, 30s)) << cluster.describe_not_serving();
  const uint64_t next = cluster.get_json(0, "/cluster/topology")["version"].get<uint64_t>() + 1;
  // Nodes' own seals can beat a node's first topology at start-up: counted
  // from here.
  auto metric = [&](const char* name) { return cluster.metric(0, name); };
  const double ahead_before = metric("partid_peer_messages_ahead_of_topology_total");
  const double delivered_before = metric("partid_early_seals_delivered_total");
  const double impostors_before = metric("partid_peer_messages_not_from_leader_total");
  // As node 1 and as node 2: whoever the next assignment makes the leader.
  for (size_t sender : {1, 2}) {
    partid::pb::Envelope seals;
    auto* batch = seals.mutable_replication();
    batch->set_from(cluster.node(sender).id);
    for (uint32_t p = 0; p < kPartitions; ++p) {
      auto* m = batch->add_messages();
      m->set_partition(p);
      m->mutable_begin_epoch()->set_epoch(next);
    }
    send_replication(cluster.node(0).peer, seals);
  }
  ASSERT_TRUE(wait_until(
      [&] {
        return metric("partid_peer_messages_ahead_of_topology_total") >=
               ahead_before + 2 * kPartitions;
      },
      10s));
  EXPECT_EQ(metric("partid_early_seals_delivered_total"), delivered_before);

  // A joining node makes the next assignment; its first staged step keeps
  // every changed partition's leader among the first three nodes, so one of
  // the two seals of each changed partition is delivered, the other dropped.
  cluster.start(node_options(false));
  ASSERT_TRUE(wait_until(
      [&] { return metric("partid_early_seals_delivered_total") > delivered_before; }, 30s));
  EXPECT_GT(metric("partid_peer_messages_not_from_leader_total"), impostors_before);
  ASSERT_TRUE(cluster.wait_converged(4, 60s)) << cluster.describe_not_serving();
  for (int k = 0; k < 20; ++k) {
    EXPECT_EQ(put(k % 4, "early" + std::to_string(k), "v"), 200) << k;
  }
}

// A secret rolled into a running cluster node by node: each node restarted
// with it as optional, then each again with it required. Every pair of nodes
// keeps talking at each step (a new write reaches all three replicas), and
// at the end a peer without the secret is refused.
TEST_F(ReplicationTest, AClusterSecretIsRolledInNodeByNodeWithoutLosingAPeer) {
  for (size_t i = 0; i < 3; ++i) {
    PartidOptions options = node_options(false);
    options.cluster_secret_file = "none";
    cluster.start(options);
  }
  ASSERT_TRUE(cluster.wait_converged(3, 30s)) << cluster.describe_not_serving();
  every_pair_talks("none");
  if (HasFailure()) return;
  for (const bool optional : {true, false}) {
    for (size_t i = 0; i < 3; ++i) {
      auto& o = cluster.node(i).options;
      o.cluster_secret_file.clear();  // the cluster's secret
      o.extra_args = optional ? std::vector<std::string>{"--cluster-secret-optional", "true"}
                              : std::vector<std::string>{};
      cluster.restart(i);
      every_pair_talks((optional ? "optional-" : "required-") + std::to_string(i));
      if (HasFailure()) return;
    }
  }
  asio::io_context io;
  EXPECT_THROW(greeted_peer(io, cluster.node(1).peer, kTestCluster, ""), std::runtime_error);
}

// A secret is rotated in a running cluster without a restart: each node's
// secret file gets the new secret beside the old, then first, then alone, and
// a SIGHUP after each edit makes every node read it again. At every step each
// pair of nodes replicates; connections the old secret opened close once it is
// dropped; a file that cannot be used changes nothing.
TEST_F(ReplicationTest, AClusterSecretIsRotatedWithoutARestart) {
  start_nodes(3);
  every_pair_talks("before");
  if (HasFailure()) return;
  const std::string next = "the-next-cluster-secret-0123456789";
  int reloads = 0;
  const auto every_node_reads = [&](const std::string& content, const std::string& step) {
    std::ofstream(cluster.secret_file()) << content;
    ++reloads;
    for (size_t i = 0; i < 3; ++i) {
      cluster.hangup(i);
      EXPECT_TRUE(wait_until(
          [&] { return cluster.metric(i, "partid_cluster_secret_reloads_total") == reloads; }, 10s))
          << step << ": node " << i;
    }
    every_pair_talks(step);
  };
  // Which peers each node hears at each step: one that proves `next` (and
  // checks the node's proof against either secret), one with the old alone.
  const auto every_node_hears = [&](bool next_first, bool old_alone, const std::string& step) {
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(heard_with(cluster.node(i).peer, {next, kTestSecret}), next_first) << step << i;
      EXPECT_EQ(heard_with(cluster.node(i).peer, {kTestSecret}), old_alone) << step << i;
    }
  };
  every_node_hears(false, true, "before");
  every_node_reads(kTestSecret + "\n" + next + "\n", "added");
  every_node_hears(true, true, "added");
  every_node_reads(next + "\n" + kTestSecret + "\n", "first");
  every_node_hears(true, false, "first");  // the node proves `next`, which the old alone lacks
  every_node_reads(next + "\n", "alone");
  every_node_hears(true, false, "alone");
  EXPECT_FALSE(heard_with(cluster.node(1).peer, {kTestSecret, next})) << "proving the old one";
  if (HasFailure()) return;

  std::ofstream(cluster.secret_file()) << "short\n";
  cluster.hangup(0);
  EXPECT_TRUE(wait_until(
      [&] { return cluster.metric(0, "partid_cluster_secret_reload_failures_total") == 1; }, 10s));
  EXPECT_EQ(cluster.metric(0, "partid_cluster_secret_reloads_total"), reloads);
  EXPECT_TRUE(heard_with(cluster.node(0).peer, {next}));
  every_pair_talks("after a bad file");
}

// Snapshots are decoded off the node's loop, before the core sees them: one
// whose data does not decode, even from the partition's own leader in its
// current epoch, is dropped and counted, and the follower keeps its state.
TEST_F(ReplicationTest, ASnapshotThatDoesNotDecodeIsDroppedBeforeTheCoreSeesIt) {
  start_nodes(3);
  const std::string key = "snap";
  const auto [p, replicas, follower] = put_on_a_follower(key, "current");
  const auto status = partition_status(follower, p);
  const double bad_before = cluster.metric(follower, "partid_bad_peer_messages_total");

  partid::pb::Envelope envelope;
  auto* install = only_message(envelope, replicas[0], p)->mutable_install_snapshot();
  install->set_epoch(status["promised_epoch"].get<uint64_t>());
  install->mutable_snapshot()->mutable_through()->set_epoch(status["epoch"].get<uint64_t>());
  install->mutable_snapshot()->mutable_through()->set_sequence(
      status["last_sequence"].get<uint64_t>() + 100);
  install->mutable_snapshot()->set_data(std::string("\xff\xff\xff", 3));
  send_replication(cluster.node(follower).peer, envelope);

  EXPECT_TRUE(wait_until(
      [&] { return cluster.metric(follower, "partid_bad_peer_messages_total") > bad_before; },
      10s));
  EXPECT_EQ(partition_status(follower, p)["last_sequence"], status["last_sequence"]);
  EXPECT_EQ(replica_read(follower, key), "current");
  ASSERT_EQ(put(0, key, "later"), 200);  // the partition replicates on
  EXPECT_TRUE(wait_until([&] { return replica_read(follower, key) == "later"; }, 10s));
}

// The gate judges a snapshot before it is decoded: one in an epoch no
// assignment appointed, or from a node that does not lead the partition, is
// dropped as such and never costs the disk pool its (possibly megabytes of)
// decoding, which the data below would fail.
TEST_F(ReplicationTest, ASnapshotTheGateRefusesIsDroppedBeforeItIsDecoded) {
  start_nodes(3);
  const std::string key = "gated-snap";
  const auto [p, replicas, follower] = put_on_a_follower(key, "current");
  const auto status = partition_status(follower, p);
  const uint64_t epoch = status["promised_epoch"];
  auto metric = [&, follower = follower](const char* name) {
    return cluster.metric(follower, name);
  };
  const double bad_before = metric("partid_bad_peer_messages_total");
  const double ahead_before = metric("partid_peer_messages_ahead_of_topology_total");
  const double impostors_before = metric("partid_peer_messages_not_from_leader_total");
  auto send_snapshot = [&](const std::string& from, uint64_t at) {
    partid::pb::Envelope envelope;
    auto* install = only_message(envelope, from, p)->mutable_install_snapshot();
    install->set_epoch(at);
    install->mutable_snapshot()->mutable_through()->set_epoch(at);
    install->mutable_snapshot()->mutable_through()->set_sequence(
        status["last_sequence"].get<uint64_t>() + 100);
    install->mutable_snapshot()->set_data(std::string("\xff\xff\xff", 3));
    send_replication(cluster.node(follower).peer, envelope);
  };
  send_snapshot(replicas[0], UINT64_MAX);  // the leader, in an epoch nobody appointed
  send_snapshot(replicas[2], epoch);       // another member, in the current epoch

  EXPECT_TRUE(wait_until(
      [&] { return metric("partid_peer_messages_ahead_of_topology_total") > ahead_before; }, 10s));
  EXPECT_TRUE(wait_until(
      [&] { return metric("partid_peer_messages_not_from_leader_total") > impostors_before; },
      10s));
  // Both were judged, and neither decoded: undecodable data would count here.
  ASSERT_EQ(put(0, key, "later"), 200);
  EXPECT_TRUE(wait_until([&] { return replica_read(follower, key) == "later"; }, 10s));
  EXPECT_EQ(metric("partid_bad_peer_messages_total"), bad_before);
  EXPECT_EQ(partition_status(follower, p)["promised_epoch"], epoch);
}

// A well-formed message for a partition the node's topology does not have
// (one a split has not reached it yet, or a merge has retired) is dropped and
// counted apart from malformed ones: it is expected during a layout change,
// and an operator alerting on bad messages must not be woken by it.
TEST_F(ReplicationTest, AMessageForAPartitionOutsideTheTopologyIsNotCountedAsBad) {
  start_nodes(3);
  const std::string key = "outside";
  const auto [p, replicas, follower] = put_on_a_follower(key, "current");
  const auto counts = [&, follower = follower] {
    return std::pair{cluster.metric(follower, "partid_peer_messages_outside_topology_total"),
                     cluster.metric(follower, "partid_bad_peer_messages_total")};
  };
  const auto [outside_before, bad_before] = counts();

  partid::pb::Envelope envelope;
  auto* r = only_message(envelope, replicas[0], kPartitions + 3)->mutable_replicate();
  r->set_epoch(partition_status(follower, p)["promised_epoch"].get<uint64_t>());
  send_replication(cluster.node(follower).peer, envelope);

  EXPECT_TRUE(wait_until([&] { return counts().first > outside_before; }, 10s));
  EXPECT_EQ(counts(), std::pair(outside_before + 1, bad_before));
  EXPECT_EQ(replica_read(follower, key), "current");
}

TEST_F(ReplicationTest, AdminOperationsNeedTheTokenAndKeepThePartitionServing) {
  start_nodes(3, true);
  const std::string key = "adm";
  ASSERT_EQ(put(0, key, "before"), 200);
  const uint32_t p = partition_of(key);
  const auto replicas = replicas_of(0, p);
  const size_t leader = index_of(replicas[0]), follower = index_of(replicas[1]);
  EXPECT_EQ(admin(leader, p, "failover", "").status, 401);
  EXPECT_EQ(admin(leader, p, "failover", "wrong").status, 401);
  EXPECT_EQ(admin(leader, p, "nonsense").status, 400);
  EXPECT_EQ(admin(follower, p, "failover").status, 400);  // only the leader reseals
  auto r = admin(leader, p, "failover");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(wait_until([&] { return put(0, key, "after") == 200; }, 10s));
  EXPECT_EQ(leader_read(1, key), "after");
  EXPECT_EQ(admin(follower, p, "sync").status, 200);
  EXPECT_EQ(admin(follower, p, "skip").status, 200);
  EXPECT_TRUE(wait_until([&] { return replica_read(follower, key) == "after"; }, 10s));
  const uint64_t last = partition_status(leader, p)["last_sequence"];
  auto too_far = admin(leader, p, "force-watermark?seq=" + std::to_string(last + 5));
  EXPECT_EQ(too_far.status, 400);
  EXPECT_GT(cluster.metric(leader, "partid_admin_operations_total"), 0);
}

// GET /admin/partitions/{p}/validate asks every replica and compares them.
// A committed entry rewritten on one follower's disk behind the protocol's
// back (same sequence and epoch, another message: nothing in replication
// notices) is found: the committed log range differs between the replicas.
TEST_F(ReplicationTest, ValidateComparesEveryReplicaAndFindsAnEntryChangedOnOneDisk) {
  start_nodes(3, true);
  const std::string key = "checked";
  const auto [p, replicas, follower] = put_on_a_follower(key, "v0");
  for (int k = 1; k <= 5; ++k) ASSERT_EQ(put(0, key, "v" + std::to_string(k)), 200);
  const size_t leader = index_of(replicas[0]);
  const auto watermarks_agree = [&] {
    std::set<uint64_t> seen;
    for (const auto& id : replicas)
      seen.insert(partition_status(index_of(id), p)["watermark"].get<uint64_t>());
    return seen.size() == 1;
  };
  ASSERT_TRUE(wait_until(watermarks_agree, 10s));
  EXPECT_EQ(validate(follower, p, "").status, 401);

  auto healthy = json::parse(validate(follower, p).body);
  EXPECT_TRUE(healthy["consistent"]) << healthy.dump();
  ASSERT_EQ(healthy["replicas"].size(), 3u);
  EXPECT_EQ(healthy["compared"]["log_digests_agree"], true) << healthy.dump();
  EXPECT_EQ(healthy["compared"]["state_digests_agree"], true) << healthy.dump();
  for (const auto& r : healthy["replicas"]) EXPECT_EQ(r["counted_items"], 1) << r.dump();
  const std::string ctl = fmt::format("--url {} admin validate {} --token {}",
                                      cluster.node(leader).api, p, kAdminToken);
  const auto consistent = run_partictl(ctl);
  EXPECT_EQ(consistent.code, 0) << consistent.out;
  EXPECT_NE(consistent.out.find(fmt::format("partition {}: consistent", p)), std::string::npos)
      << consistent.out;

  const uint64_t watermark = partition_status(follower, p)["watermark"];
  cluster.stop(follower);
  {
    std::string error;
    auto disk = partid::storage::StoreEngine::open(cluster.node(follower).data_dir + "/db",
                                                   {.sync = true}, &error);
    ASSERT_TRUE(disk) << error;
    auto entries = disk->read_log(p, watermark, watermark);
    ASSERT_EQ(entries.size(), 1u);
    auto op = partid::storage::decode_item_op(p, entries[0]);
    ASSERT_TRUE(op);
    op->message = "forged";
    entries[0].payload = partid::storage::encode_item_op(*op);
    ASSERT_TRUE(disk->write_replica({partid::storage::change::AppendLog{p, entries}}).ok);
  }
  cluster.start_again(follower);
  ASSERT_TRUE(cluster.wait_converged(3, 30s));

  auto broken = json::parse(validate(leader, p).body);
  EXPECT_FALSE(broken["consistent"]) << broken.dump();
  EXPECT_EQ(broken["compared"]["log_digests_agree"], false) << broken.dump();
  ASSERT_FALSE(broken["problems"].empty());
  EXPECT_NE(broken["problems"][0].get<std::string>().find("differs between replicas"),
            std::string::npos)
      << broken.dump();
  const auto inconsistent = run_partictl(ctl);
  EXPECT_EQ(inconsistent.code, 5) << inconsistent.out;
  EXPECT_NE(inconsistent.out.find("INCONSISTENT"), std::string::npos) << inconsistent.out;
}

// Two of three replicas lost for good (their disks gone, so they come back as
// new members): the sealed set has no quorum left, so every partition stays
// closed to writes rather than guess. The operator's drop-lost-replicas takes
// the lost nodes out of the seal register; the partition then seals on its
// current set and the survivor, adopts the survivor's log and serves again.
TEST_F(ReplicationTest, DropLostReplicasReopensAPartitionWhoseSealedSetLostAMajority) {
  start_nodes(3, true);
  std::map<std::string, std::string> acked;
  for (int k = 0; k < 40; ++k) {
    const std::string key = "f" + std::to_string(k);
    ASSERT_EQ(put(0, key, "v"), 200);
    acked[key] = "v";
  }
  for (const auto& [key, message] : acked) {  // the survivor holds everything
    ASSERT_TRUE(wait_until([&] { return replica_read(0, key) == message; }, 10s)) << key;
  }
  cluster.kill(1);
  cluster.kill(2);
  // Their ID claims lapse before the new nodes start, so those could take
  // the dead nodes' IDs and count towards the sealed set's quorum with
  // empty disks (this test once wrote through them on a slow machine).
  auto ids = coord::KvBucket::open_or_create(connect(nats.url()), {"test-stableid"});
  ASSERT_TRUE(ids.ok()) << ids.status.message;
  for (size_t dead : {1, 2}) {
    ASSERT_TRUE(wait_until([&] { return !ids.value->get(cluster.node(dead).id).ok(); }, 15s));
  }
  for (int i = 0; i < 2; ++i) cluster.start(node_options(true));  // empty disks: new IDs
  const std::set<std::string> live = {cluster.node(0).id, cluster.node(3).id, cluster.node(4).id};
  ASSERT_EQ(live.size(), 3u);
  for (size_t dead : {1, 2}) ASSERT_FALSE(live.contains(cluster.node(dead).id));
  ASSERT_TRUE(wait_until(
      [&] {
        for (uint32_t p = 0; p < kPartitions; ++p) {
          auto replicas = replicas_of(0, p);
          if (replicas.size() != 3 || !std::all_of(replicas.begin(), replicas.end(),
                                                   [&](const auto& r) { return live.contains(r); }))
            return false;
        }
        return true;
      },
      30s));
  const std::string probe = acked.begin()->first;
  for (int attempt = 0; attempt < 3; ++attempt) {
    EXPECT_NE(put(0, probe, "closed"), 200);  // no quorum of the sealed set
  }
  const json lost = json::array({cluster.node(1).id, cluster.node(2).id});
  for (uint32_t p = 0; p < kPartitions; ++p) {
    // Node 0's view can be ahead of the appointed leader's own: until that
    // node has applied the assignment it answers that it is not the leader.
    std::string last;
    const bool done = wait_until(
        [&] {
          auto r = admin(index_of(replicas_of(0, p).front()), p, "drop-lost-replicas");
          last = r.body;
          return r.status == 200;
        },
        10s);
    ASSERT_TRUE(done) << "partition " << p << ": " << last;
    // Answered once the register is rewritten: it says what it took out.
    json answer = json::parse(last);
    std::sort(answer["dropped"].begin(), answer["dropped"].end());
    json expected = lost;
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(answer["dropped"], expected) << "partition " << p;
  }
  ASSERT_TRUE(cluster.wait_serving(30s)) << cluster.describe_not_serving();
  for (const auto& [key, message] : acked) EXPECT_EQ(leader_read(3, key), message) << key;
  EXPECT_TRUE(wait_until([&] { return put(4, probe, "open") == 200; }, 10s));
}

TEST_F(ReplicationTest, MinorityLossKeepsWritingMajorityLossFailsCleanlyAndRecovers) {
  // A refused write is held (retried) half a second, not the default 5 s:
  // every partition is refused once below.
  PartidOptions options = node_options(false);
  options.extra_args = {"--hold-ms", "500"};
  for (int i = 0; i < 3; ++i) cluster.start(options);
  ASSERT_TRUE(cluster.wait_converged(3, 30s));
  std::map<std::string, std::string> acked;
  auto write_every_partition = [&](const std::string& tag) {
    // One key per partition, so every partition's leader is exercised.
    std::map<uint32_t, std::string> keys;
    for (int k = 0; keys.size() < kPartitions; ++k) {
      keys.emplace(partition_of(tag + std::to_string(k)), tag + std::to_string(k));
    }
    return keys;
  };
  for (const auto& [p, key] : write_every_partition("a")) {
    ASSERT_EQ(put(0, key, "1"), 200);
    acked[key] = "1";
  }
  cluster.kill(2);  // a minority: every partition keeps a quorum
  for (const auto& [p, key] : write_every_partition("b")) {
    ASSERT_TRUE(wait_until([&] { return put(0, key, "2") == 200; }, 30s)) << "partition " << p;
    acked[key] = "2";
  }
  cluster.kill(1);  // a majority of every partition's replicas is gone
  // Node 0 alone must not accept writes: it cannot know what it lacks.
  ASSERT_TRUE(wait_until([&] { return replicas_of(0, 0).size() == 1; }, 30s));
  // Each refusal says why (the sealed set lost its majority) and what helps,
  // for writes and leader reads alike, instead of a generic "retry shortly".
  for (const auto& [p, key] : write_every_partition("c")) {
    auto r =
        cluster.http(0, "POST", "/items", json{{"partition_key", key}, {"message", "3"}}.dump());
    EXPECT_EQ(r.status, 503) << r.body;
    json j = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object() && j.contains("error")) << r.body;
    EXPECT_EQ(j["error"]["code"], "quorum_lost") << r.body;
    // Node 0 is all that is left of the sealed set: {0, 1} once the set was
    // sealed again without node 2, or still {0, 1, 2} when node 1 died
    // before that (the writes above need no reseal: two of three suffice).
    const std::string why = j["error"]["message"].get<std::string>();
    EXPECT_TRUE(why.find("1 of 2 alive") != std::string::npos ||
                why.find("1 of 3 alive") != std::string::npos)
        << r.body;
  }
  for (const auto& [p, key] : write_every_partition("a")) {
    auto r = cluster.http(0, "GET", "/items/" + key);
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_NE(r.body.find("quorum_lost"), std::string::npos) << r.body;
  }
  cluster.start_again(1);  // a quorum again: writes resume, nothing was lost
  for (const auto& [p, key] : write_every_partition("d")) {
    ASSERT_TRUE(wait_until([&] { return put(0, key, "4") == 200; }, 30s)) << "partition " << p;
    acked[key] = "4";
  }
  for (const auto& [key, message] : acked) EXPECT_EQ(leader_read(0, key), message) << key;
}

}  // namespace
}  // namespace parti::testing
