// partid_soak: a long-running stability run of a partid cluster under faults.
// It starts a nats-server and --nodes partid nodes (RF 3) on loopback, keeps
// writers overwriting a fixed key space and readers reading it back through
// every node, and every few seconds injects one fault into one node: kill -9
// then a restart, SIGSTOP then SIGCONT, a clean restart, a wipe (the node
// restarts empty and is rebuilt from the others), a full disk (the node must
// stop at its next write, exit code 70, and is started again once there is
// room: support/disk_faults.cpp), a stalled disk (its writes block: the node
// must stop, exit code 70, once one has waited --max-disk-stall-ms, here 2 s,
// and is started again once the disk answers), a slow disk (each of its
// writes and syncs takes 300 ms longer until the node judges its disk slow,
// and for the outage after: the node goes on, asks not to lead meanwhile, and
// leads again once its disk is fast), or a network partition that
// heals (the node cut off from NATS, from its peers, or from both, or one way
// only from or to its peers, while clients still reach it:
// support/network_partitions.h), or a split of the cluster in two (half
// the nodes, rounded down, on one side, NATS on either), or a kill -9 of the
// nats-server itself, restarted on its store (every node loses NATS at once).
// One fault at a time: one node is faulty, or the cluster is split, which
// leaves each partition a quorum on one side. Every
// --reshape-every'th fault is instead a change of the layout, through the
// node the fault picked: a split of the next partition when the count is
// --partitions, else a merge of the last one back (partid/split), so the
// writes, reads and transfers also meet keys moving between partitions.
//
// Checked all along: a read that starts after a write was acknowledged sees
// that write or a later one (never an older value, never nothing), and sees
// nothing newer than what was attempted; every fault is recovered from (every
// partition served and writes acknowledged again) within --recovery-seconds of
// the node's return.
// Beside them, transfers move amounts between a few accounts, each a
// transaction (POST /txn) over two partitions conditioned on the sequences
// its reads saw. Checked at the end: every key holds its last acknowledged
// value or a later attempted one; the accounts still add up to what they
// started with and none is negative (a transfer is all or nothing, whatever
// fault met it); every partition's replicas agree (admin validate).
// Exits 1 on any violation, with what was seen.
//
// The pauses between faults are the schedule of the run, not waits for a
// state: every state is waited for on a condition with a deadline.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "partid/cli/http_client.h"
#include "support/nats_server.h"
#include "support/network_partitions.h"
#include "support/partid_cluster.h"
#include "support/wait.h"

namespace {

using namespace std::chrono;
using nlohmann::json;
using parti::testing::NetworkPartitions;
using parti::testing::PartidCluster;
using parti::testing::wait_until;

constexpr char kToken[] = "soak-admin-token";
constexpr milliseconds kRequestTimeout{3000};

// The checks after the load share one deadline. Each key or partition waiting
// its own full deadline took hours once a fault was not recovered from (256
// keys times 60 s): past the deadline the rest are counted as unchecked.
class EndDeadline {
 public:
  explicit EndDeadline(seconds within) : at_(steady_clock::now() + within) {}
  bool passed() const { return steady_clock::now() >= at_; }
  milliseconds left() const {
    return std::max(milliseconds(0), duration_cast<milliseconds>(at_ - steady_clock::now()));
  }

 private:
  steady_clock::time_point at_;
};

struct Options {
  int seconds = 300;
  size_t nodes = 3;
  uint32_t partitions = 32;
  size_t writers = 4;
  size_t readers = 2;
  size_t keys = 256;
  size_t accounts = 8;
  size_t transfer_threads = 2;
  int fault_min_ms = 4000;
  int fault_max_ms = 8000;
  int outage_max_ms = 3000;
  int recovery_seconds = 60;
  int reshape_every = 3;  // every n-th fault splits or merges (0: never)
  std::vector<std::string> faults = {"kill9",     "pause", "restart", "wipe",  "disk",
                                     "partition", "split", "nats",    "stall", "slow"};
  uint64_t seed = 0;
  // Node i's wall clock runs ((i % 3) - 1) * this from the machine's (0: none).
  int clock_skew_ms = 0;
};

// What was attempted and acknowledged for each key. Each key has one writer,
// so its writes are sequential: the values attempted on a key increase, and
// after any acknowledgment only later (larger) values can replace it.
class Ledger {
 public:
  explicit Ledger(size_t keys) : attempted_(keys), acked_(keys) {}
  uint64_t next_value(size_t key) {
    std::lock_guard lock(mu_);
    return ++attempted_[key];
  }
  void acknowledge(size_t key, uint64_t value) {
    std::lock_guard lock(mu_);
    acked_[key] = std::max(acked_[key], value);
    ++acks_;
  }
  uint64_t acked(size_t key) const {
    std::lock_guard lock(mu_);
    return acked_[key];
  }
  uint64_t attempted(size_t key) const {
    std::lock_guard lock(mu_);
    return attempted_[key];
  }
  uint64_t acks() const {
    std::lock_guard lock(mu_);
    return acks_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<uint64_t> attempted_, acked_;
  uint64_t acks_ = 0;
};

// The nodes' API URLs: a restarted node listens on a new port.
class Endpoints {
 public:
  void set(std::vector<std::string> urls) {
    std::lock_guard lock(mu_);
    urls_ = std::move(urls);
  }
  std::string at(size_t i) const {
    std::lock_guard lock(mu_);
    return urls_[i % urls_.size()];
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> urls_;
};

// Outcomes by kind ("200", "503 partition_locked", "0 timeout"...), and the
// violations, each described once it is seen.
class Tally {
 public:
  void count(const std::string& outcome) {
    std::lock_guard lock(mu_);
    ++outcomes_[outcome];
  }
  void violation(const std::string& what) {
    std::lock_guard lock(mu_);
    if (violations_.size() < 50) violations_.push_back(what);
    ++violation_count_;
  }
  size_t violation_count() const {
    std::lock_guard lock(mu_);
    return violation_count_;
  }
  json to_json() const {
    std::lock_guard lock(mu_);
    return {{"outcomes", outcomes_}, {"violations", violations_}};
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> outcomes_;
  std::vector<std::string> violations_;
  size_t violation_count_ = 0;
};

std::string key_name(size_t key) { return "soak-" + std::to_string(key); }

std::string outcome_of(const partid::cli::HttpResult& r) {
  if (r.status == 0) {  // "cannot reach <url>: <reason>": the reason, whichever node it was
    const auto colon = r.error.rfind(": ");
    return "0 " + (colon == std::string::npos ? r.error : r.error.substr(colon + 2));
  }
  if (r.status == 200) return "200";
  json j = json::parse(r.body, nullptr, false);
  const bool coded = j.is_object() && j.contains("error") && j["error"].is_object();
  return std::to_string(r.status) + " " + (coded ? j["error"].value("code", "?") : "?");
}

// The value a GET /items/{pk} answer holds: nullopt if it holds no item,
// -1 if it is not an answer this run's writes could have produced.
std::optional<int64_t> value_in(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("items") || !j["items"].is_array()) return -1;
  if (j["items"].empty()) return std::nullopt;
  const auto message = j["items"][0].value("message", "");
  if (message.empty() || !std::all_of(message.begin(), message.end(), ::isdigit)) return -1;
  return std::stoll(message);
}

// Compares a read of `key` with what was acknowledged before it began and
// attempted by the time it ended.
void check_read(const Ledger& ledger, Tally& tally, size_t key, uint64_t acked_before,
                const std::string& body, const std::string& via) {
  const auto value = value_in(body);
  const uint64_t attempted_after = ledger.attempted(key);
  std::string problem;
  if (!value) {
    if (acked_before > 0) problem = "missing (acknowledged " + std::to_string(acked_before) + ")";
  } else if (*value < 0) {
    problem = "malformed answer " + body.substr(0, 120);
  } else if (static_cast<uint64_t>(*value) < acked_before) {
    problem = "stale: read " + std::to_string(*value) + ", acknowledged " +
              std::to_string(acked_before) + " before the read began";
  } else if (static_cast<uint64_t>(*value) > attempted_after) {
    problem = "phantom: read " + std::to_string(*value) + ", only " +
              std::to_string(attempted_after) + " attempted";
  }
  if (!problem.empty()) tally.violation(key_name(key) + " via " + via + ": " + problem);
}

class Load {
 public:
  Load(const Options& o, const Endpoints& endpoints, Ledger& ledger, Tally& writes, Tally& reads)
      : o_(o), endpoints_(endpoints), ledger_(ledger), writes_(writes), reads_(reads) {
    for (size_t w = 0; w < o.writers; ++w) threads_.emplace_back([this, w] { write_loop(w); });
    for (size_t r = 0; r < o.readers; ++r) threads_.emplace_back([this, r] { read_loop(r); });
  }
  ~Load() { stop(); }
  void stop() {
    running_ = false;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  uint64_t reads_done() const { return reads_done_; }

 private:
  // Writer w owns the keys k with k % writers == w and writes them in turn.
  void write_loop(size_t w) {
    for (uint64_t n = 0; running_; ++n) {
      const size_t key = w + o_.writers * (n % (o_.keys / o_.writers));
      const uint64_t value = ledger_.next_value(key);
      const json body = {{"partition_key", key_name(key)}, {"message", std::to_string(value)}};
      auto r = partid::cli::http_request(endpoints_.at(n + w), "POST", "/items", body.dump(),
                                         kRequestTimeout);
      writes_.count(outcome_of(r));
      if (r.status == 200) ledger_.acknowledge(key, value);
    }
  }
  void read_loop(size_t r) {
    std::mt19937_64 rng(o_.seed * 31 + r);
    for (uint64_t n = 0; running_; ++n) {
      const size_t key = rng() % o_.keys;
      const std::string via = endpoints_.at(rng());
      const uint64_t acked_before = ledger_.acked(key);
      auto answer =
          partid::cli::http_request(via, "GET", "/items/" + key_name(key), {}, kRequestTimeout);
      reads_.count(outcome_of(answer));
      if (answer.status == 200) check_read(ledger_, reads_, key, acked_before, answer.body, via);
      ++reads_done_;
    }
  }
  const Options& o_;
  const Endpoints& endpoints_;
  Ledger& ledger_;
  Tally& writes_;
  Tally& reads_;
  std::atomic<bool> running_{true};
  std::atomic<uint64_t> reads_done_{0};
  std::vector<std::thread> threads_;
};

// Transfers between accounts: read two balances, then one transaction that
// writes both, conditioned on the sequences read (so a balance changed in
// between refuses the whole transfer). Whatever the outcome, including 504
// txn_outcome_unknown, the total must not change.
class Bank {
 public:
  static constexpr int64_t kOpening = 1000;
  Bank(const Options& o, const Endpoints& endpoints, Tally& tally)
      : o_(o), endpoints_(endpoints), tally_(tally) {}
  static std::string account(size_t a) { return "bank-" + std::to_string(a); }
  // Opens every account with kOpening (before any fault).
  bool open() {
    for (size_t a = 0; a < o_.accounts; ++a) {
      const json body = {{"partition_key", account(a)}, {"message", std::to_string(kOpening)}};
      const bool ok = wait_until(
          [&] {
            return partid::cli::http_request(endpoints_.at(a), "POST", "/items", body.dump(),
                                             kRequestTimeout)
                       .status == 200;
          },
          seconds(o_.recovery_seconds));
      if (!ok) return false;
    }
    return true;
  }
  void start() {
    for (size_t t = 0; t < o_.transfer_threads; ++t) {
      threads_.emplace_back([this, t] { transfer_loop(t); });
    }
  }
  void stop() {
    running_ = false;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  ~Bank() { stop(); }
  // Once the transfers have stopped: the total, read until every account
  // answers (a transfer still being resolved holds its items' locks only
  // briefly); a violation if it is not what the accounts opened with.
  void check_total(const EndDeadline& deadline) {
    int64_t total = 0;
    std::string last;
    const bool read = wait_until(
        [&] {
          total = 0;
          for (size_t a = 0; a < o_.accounts; ++a) {
            auto b = balance(a);
            if (!b) return false;
            if (b->amount < 0) tally_.violation(account(a) + " is negative: " + b->raw);
            total += b->amount;
          }
          return true;
        },
        deadline.left());
    if (!read) {
      tally_.violation("the accounts could not all be read at the end");
    } else if (total != kOpening * static_cast<int64_t>(o_.accounts)) {
      tally_.violation("the accounts add up to " + std::to_string(total) + ", not " +
                       std::to_string(kOpening * static_cast<int64_t>(o_.accounts)));
    }
  }
  json to_json() const {
    std::lock_guard lock(mu_);
    return outcomes_;
  }

 private:
  struct Balance {
    int64_t amount = 0;
    uint64_t sequence = 0;
    std::string raw;
  };
  std::optional<Balance> balance(size_t a) {
    auto r = partid::cli::http_request(endpoints_.at(a), "GET", "/items/" + account(a), {},
                                       kRequestTimeout);
    json j = json::parse(r.body, nullptr, false);
    if (r.status != 200 || !j.is_object() || !j["items"].is_array() || j["items"].empty()) {
      return std::nullopt;
    }
    const json& item = j["items"][0];
    const std::string message = item.value("message", "");
    Balance out{0, item.value("sequence", uint64_t{0}), item.dump()};
    const auto [end, ec] =
        std::from_chars(message.data(), message.data() + message.size(), out.amount);
    if (ec != std::errc() || end != message.data() + message.size()) {
      tally_.violation(account(a) + " holds something no transfer wrote: " + out.raw);
      return std::nullopt;
    }
    return out;
  }
  void transfer_loop(size_t t) {
    std::mt19937_64 rng(o_.seed * 131 + t);
    while (running_) {
      const size_t from = rng() % o_.accounts,
                   to = (from + 1 + rng() % (o_.accounts - 1)) % o_.accounts;
      auto a = balance(from), b = balance(to);
      if (!a || !b) continue;
      const int64_t amount = std::min<int64_t>(a->amount, 1 + rng() % 50);
      const json writes = json::array({{{"partition_key", account(from)},
                                        {"message", std::to_string(a->amount - amount)},
                                        {"if_sequence", a->sequence}},
                                       {{"partition_key", account(to)},
                                        {"message", std::to_string(b->amount + amount)},
                                        {"if_sequence", b->sequence}}});
      auto r = partid::cli::http_request(endpoints_.at(rng()), "POST", "/txn",
                                         json{{"writes", writes}}.dump(), kRequestTimeout);
      std::lock_guard lock(mu_);
      ++outcomes_[outcome_of(r)];
    }
  }
  const Options& o_;
  const Endpoints& endpoints_;
  Tally& tally_;
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> outcomes_;
  std::atomic<bool> running_{true};
  std::vector<std::thread> threads_;
};

enum class Fault {
  kill9,
  pause,
  restart,
  wipe,
  partition,
  split,
  nats_restart,
  reshape,
  disk_full,
  disk_stall,
  disk_slow
};
const char* name_of(Fault f) {
  switch (f) {
    case Fault::kill9:
      return "kill -9";
    case Fault::pause:
      return "SIGSTOP";
    case Fault::restart:
      return "clean restart";
    case Fault::wipe:
      return "wipe";
    case Fault::disk_full:
      return "disk full";
    case Fault::disk_stall:
      return "disk stalled";
    case Fault::disk_slow:
      return "disk slow";
    case Fault::partition:
      return "network partition";
    case Fault::split:
      return "network split";
    case Fault::nats_restart:
      return "nats-server kill -9 and restart";
    case Fault::reshape:
      return "split or merge";
  }
  return "?";
}

// The names --faults takes.
const std::map<std::string, Fault>& faults_by_name() {
  static const std::map<std::string, Fault> kByName = {
      {"kill9", Fault::kill9},       {"pause", Fault::pause},         {"restart", Fault::restart},
      {"wipe", Fault::wipe},         {"partition", Fault::partition}, {"split", Fault::split},
      {"nats", Fault::nats_restart}, {"disk", Fault::disk_full},      {"stall", Fault::disk_stall},
      {"slow", Fault::disk_slow}};
  return kByName;
}

// What the faults act on.
struct Lab {
  parti::testing::NatsServer& nats;
  NetworkPartitions& network;
  PartidCluster& cluster;
};

// One fault as drawn: what, where, and for how long.
struct Injection {
  Fault fault = Fault::kill9;
  size_t node = 0;                                                  // the faulty node
  NetworkPartitions::Cut cut = NetworkPartitions::Cut::everything;  // a partition's
  std::set<size_t> side;                                            // a split's smaller side
  NetworkPartitions::NatsSide nats_side = NetworkPartitions::NatsSide::with_rest;
  milliseconds outage{0};

  std::string describe() const {
    if (fault == Fault::partition) return std::string("node ") + NetworkPartitions::name_of(cut);
    if (fault != Fault::split) return name_of(fault);
    std::string nodes;
    for (size_t n : side) nodes += (nodes.empty() ? "" : ",") + std::to_string(n);
    return std::string("network split, nodes ") + nodes + " apart" +
           (nats_side == NetworkPartitions::NatsSide::with_side ? " with NATS" : "");
  }
};

// Draws a fault of kind `fault` over `nodes` nodes.
Injection draw(std::mt19937_64& rng, Fault fault, size_t nodes, milliseconds outage_max) {
  Injection in;
  in.fault = fault;
  in.node = rng() % nodes;
  in.cut = static_cast<NetworkPartitions::Cut>(rng() % 5);
  in.side = {in.node};
  while (in.side.size() < nodes / 2) in.side.insert(rng() % nodes);
  in.nats_side =
      rng() % 2 ? NetworkPartitions::NatsSide::with_side : NetworkPartitions::NatsSide::with_rest;
  in.outage = milliseconds(rng() % (outage_max.count() + 1));
  return in;
}

// While this file exists, node i's disk is full (its launcher preloads
// support/disk_faults.cpp).
std::string disk_full_flag(const PartidCluster& cluster, size_t i) {
  return cluster.root() + "/disk-full-" + std::to_string(i);
}

// While this file exists, node i's disk answers nothing: its writes and
// syncs block until the file is gone.
std::string disk_stall_flag(const PartidCluster& cluster, size_t i) {
  return cluster.root() + "/disk-stall-" + std::to_string(i);
}

// A stalled disk gives the node --max-disk-stall-ms before it must stop.
constexpr int kMaxDiskStallMs = 2000;

// While this file exists, node i's disk is slow: its writes and syncs each
// take kSlowDiskBy longer.
std::string disk_slow_flag(const PartidCluster& cluster, size_t i) {
  return cluster.root() + "/disk-slow-" + std::to_string(i);
}

// A slow disk's writes take 300 ms more; the node must judge it slow (the
// median of its last writes past 150 ms, --slow-disk-ms) within
// kSlowDiskNoticed, and leads again once it has been fast for 3 s.
constexpr milliseconds kSlowDiskBy{300};
constexpr seconds kSlowDiskNoticed{10};
const std::vector<std::string> kSlowDiskJudgment = {"--slow-disk-ms", "150", "--slow-disk-calm-ms",
                                                    "3000"};

// Fills node i's disk, or stalls it: the node must stop (exit code 70) at its
// next write, or once a write has waited kMaxDiskStallMs, rather than go on;
// its disk works again after the outage. What went wrong, or "".
std::string break_disk(PartidCluster& cluster, size_t i, Fault fault, milliseconds outage) {
  const bool full = fault == Fault::disk_full;
  const std::string flag = full ? disk_full_flag(cluster, i) : disk_stall_flag(cluster, i);
  std::ofstream(flag) << name_of(fault) << "\n";
  const auto code = cluster.wait_exit(i, seconds(30));
  std::string problem;
  if (!code) {
    problem = "node " + std::to_string(i) + " went on for 30 s with a disk " +
              (full ? "that fails every write" : "that answers nothing");
    cluster.kill(i);
  } else if (*code != 70) {
    problem = "node " + std::to_string(i) + " stopped on a " + name_of(fault) +
              " disk with exit code " + std::to_string(*code) + ", not 70";
  }
  std::this_thread::sleep_for(outage);
  std::filesystem::remove(flag);
  cluster.start_again(i);
  return problem;
}

// Slows node i's disk until the node judges it slow, and for the outage
// after: it goes on serving, and asks not to lead meanwhile (the coordinator
// moves its leaderships; they come back once the disk is fast). What went
// wrong, or "".
std::string slow_disk(PartidCluster& cluster, size_t i, milliseconds outage) {
  std::ofstream(disk_slow_flag(cluster, i)) << "slow\n";
  const bool judged = wait_until(
      [&] {
        return cluster.get_json(i, "/cluster/status")["replication"].value("disk_slow", false);
      },
      kSlowDiskNoticed);
  std::this_thread::sleep_for(outage);
  std::filesystem::remove(disk_slow_flag(cluster, i));
  if (judged) return "";
  return "node " + std::to_string(i) + " did not judge its disk slow within " +
         std::to_string(kSlowDiskNoticed.count()) + " s";
}

// Injects a fault into node i (or the nats-server, or the network) and
// brings it back after its outage. What went wrong on the way, or "".
std::string inject(Lab& lab, const Injection& in) {
  PartidCluster& cluster = lab.cluster;
  const size_t i = in.node;
  const milliseconds outage = in.outage;
  switch (in.fault) {
    case Fault::kill9:
      cluster.kill(i);
      std::this_thread::sleep_for(outage);
      cluster.start_again(i);
      return "";
    case Fault::pause:
      cluster.pause(i);
      std::this_thread::sleep_for(outage);
      cluster.resume(i);
      return "";
    case Fault::restart:
      cluster.stop(i);
      cluster.start_again(i);
      return "";
    case Fault::disk_full:
    case Fault::disk_stall:
      return break_disk(cluster, i, in.fault, outage);
    case Fault::disk_slow:
      return slow_disk(cluster, i, outage);
    case Fault::wipe:
      cluster.wipe(i);
      std::this_thread::sleep_for(outage);
      cluster.start_again(i);
      return "";
    case Fault::partition:
      lab.network.isolate(i, in.cut);
      std::this_thread::sleep_for(outage);
      lab.network.heal(i);
      return "";
    case Fault::split:
      lab.network.split(in.side, in.nats_side);
      std::this_thread::sleep_for(outage);
      lab.network.heal_split();
      return "";
    case Fault::nats_restart:  // its JetStream store is kept: a crash, not a loss
      lab.nats.stop();
      std::this_thread::sleep_for(outage);
      lab.nats.start();
      return "";
    case Fault::reshape:
      return "";  // reshape(): it changes the partition count
  }
  return "";
}

// Splits the next partition (when the count is `base`) or merges the last
// one back, through node i; true once every node routes by the new layout.
bool reshape(PartidCluster& cluster, size_t i, uint32_t base, uint32_t* partitions,
             seconds deadline) {
  const bool split = *partitions == base;
  const auto r = partid::cli::http_request(cluster.node(i).api, "POST",
                                           split ? "/cluster/split" : "/cluster/merge", {},
                                           kRequestTimeout, std::string("Bearer ") + kToken);
  if (r.status != 202) {
    std::cerr << (split ? "split" : "merge") << " refused: " << r.status << " " << r.body << "\n";
    return false;
  }
  *partitions = split ? base + 1 : base;
  return wait_until(
      [&] {
        for (size_t n = 0; n < cluster.size(); ++n) {
          const json t = cluster.get_json(n, "/cluster/topology");
          if (!t.is_object() || t["partitions"] != *partitions || t["layout"].contains("split"))
            return false;
        }
        return true;
      },
      deadline);
}

std::vector<std::string> apis_of(PartidCluster& cluster) {
  std::vector<std::string> apis;
  for (size_t i = 0; i < cluster.size(); ++i) apis.push_back(cluster.node(i).api);
  return apis;
}

uint64_t rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

// Every partition has a leader with two followers close behind, and no
// replica anywhere is being rebuilt (each running node's /cluster/status).
bool fully_replicated(PartidCluster& cluster, uint32_t partitions) {
  std::set<uint32_t> led;
  for (size_t i = 0; i < cluster.size(); ++i) {
    if (cluster.node(i).pid <= 0) continue;
    const json status = cluster.get_json(i, "/cluster/status");
    if (!status.is_object() || !status["partitions"].is_array()) return false;
    for (const auto& p : status["partitions"]) {
      if (p.value("rebuilding", false)) return false;
      if (p.value("role", "") != "leader") continue;
      const json& followers = p.contains("followers") ? p["followers"] : json::array();
      if (followers.size() != 2) return false;
      for (const auto& f : followers) {
        // A follower with entries in flight shows a stall clock of a few ms
        // under steady writes; one stuck for a second is not caught up.
        if (f.value("behind", uint64_t{0}) > 1000 || f.value("stalled_seconds", 0.0) > 1.0) {
          return false;
        }
      }
      led.insert(p.value("partition", 0u));
    }
  }
  return led.size() == partitions;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Every key holds its last acknowledged value or a later attempted one, read
// through a leader once the load has stopped.
void check_final_values(const Options& o, const Endpoints& endpoints, const Ledger& ledger,
                        Tally& tally, const EndDeadline& deadline) {
  for (size_t key = 0; key < o.keys; ++key) {
    if (deadline.passed()) {
      tally.violation(std::to_string(o.keys - key) + " keys not read at the end: out of time");
      return;
    }
    partid::cli::HttpResult r;
    wait_until(
        [&] {
          r = partid::cli::http_request(endpoints.at(key), "GET", "/items/" + key_name(key), {},
                                        kRequestTimeout);
          return r.status == 200;
        },
        deadline.left());
    if (r.status != 200) {
      tally.violation(key_name(key) + ": unreadable at the end: " + outcome_of(r));
      continue;
    }
    check_read(ledger, tally, key, ledger.acked(key), r.body, endpoints.at(key));
  }
}

// Every partition's replicas agree entry for entry (they may still be
// catching up just after the last fault, hence the deadline).
void check_replicas_agree(uint32_t partitions, const Endpoints& endpoints, Tally& tally,
                          const EndDeadline& deadline) {
  for (uint32_t p = 0; p < partitions; ++p) {
    if (deadline.passed()) {
      tally.violation(std::to_string(partitions - p) +
                      " partitions not validated at the end: out of time");
      return;
    }
    json last;
    const bool agree = wait_until(
        [&] {
          auto r = partid::cli::http_request(endpoints.at(p), "GET",
                                             "/admin/partitions/" + std::to_string(p) + "/validate",
                                             {}, kRequestTimeout, std::string("Bearer ") + kToken);
          last = json::parse(r.body, nullptr, false);
          return last.is_object() && last.value("consistent", false);
        },
        deadline.left());
    if (!agree) tally.violation("partition " + std::to_string(p) + ": " + last.dump());
  }
}

int run(const Options& o) {
  parti::testing::NatsServer nats;
  NetworkPartitions network(nats, o.nodes);  // outlives the nodes: they stop faster linked
  PartidCluster cluster(nats);
  Lab lab{nats, network, cluster};
  parti::testing::PartidOptions node;
  node.partitions = o.partitions;
  node.replication_factor = 3;
  node.extra_args = {"--admin-token", kToken, "--max-disk-stall-ms",
                     std::to_string(kMaxDiskStallMs)};
  node.extra_args.insert(node.extra_args.end(), kSlowDiskJudgment.begin(), kSlowDiskJudgment.end());
  for (size_t i = 0; i < o.nodes; ++i) {
    parti::testing::PartidOptions own = node;
    const int skew = (static_cast<int>(i % 3) - 1) * o.clock_skew_ms;
    std::vector<parti::testing::Preload> preloads = {
        parti::testing::disk_faults({.dir = cluster.data_dir_of(i) + "/",
                                     .full = disk_full_flag(cluster, i),
                                     .stuck = disk_stall_flag(cluster, i),
                                     .slow = disk_slow_flag(cluster, i),
                                     .slow_by = kSlowDiskBy})};
    if (skew != 0) preloads.push_back(parti::testing::clock_offset(milliseconds(skew)));
    own.launcher = parti::testing::preloading(preloads);
    cluster.start(network.route(i, own));
  }
  if (!cluster.wait_converged(o.nodes, seconds(60))) {
    std::cerr << "the cluster did not converge:\n" << cluster.describe_not_serving();
    return 1;
  }
  Endpoints endpoints;
  endpoints.set(apis_of(cluster));
  Ledger ledger(o.keys);
  Tally writes, reads, transfers;
  Bank bank(o, endpoints, transfers);
  if (!bank.open()) {
    std::cerr << "could not open the accounts\n";
    return 1;
  }
  Load load(o, endpoints, ledger, writes, reads);
  bank.start();

  std::mt19937_64 rng(o.seed);
  std::vector<double> recovery_s, replicated_s;
  std::map<std::string, int> faults;
  uint32_t partitions = o.partitions;  // a split or merge changes it
  uint64_t peak_rss_kib = 0;
  bool stuck = false;
  const auto end = steady_clock::now() + seconds(o.seconds);
  while (steady_clock::now() < end && !stuck && writes.violation_count() == 0 &&
         reads.violation_count() == 0 && transfers.violation_count() == 0) {
    std::this_thread::sleep_for(
        milliseconds(o.fault_min_ms + rng() % (o.fault_max_ms - o.fault_min_ms + 1)));
    Injection in = draw(rng, faults_by_name().at(o.faults[rng() % o.faults.size()]), o.nodes,
                        milliseconds(o.outage_max_ms));
    const bool reshaping = o.reshape_every > 0 && (recovery_s.size() + 1) % o.reshape_every == 0;
    if (reshaping) {
      in.fault = Fault::reshape;
      stuck = !reshape(cluster, in.node, o.partitions, &partitions, seconds(o.recovery_seconds));
    } else {
      if (const std::string problem = inject(lab, in); !problem.empty()) {
        writes.violation(problem);
      }
    }
    endpoints.set(apis_of(cluster));
    const auto back = steady_clock::now();
    const std::string fault_name = in.describe();
    ++faults[in.fault == Fault::split ? std::string("network split") : fault_name];
    const uint64_t acks = ledger.acks();
    stuck = stuck ||
            !wait_until(
                [&] {
                  return cluster.serving_partitions() == partitions && ledger.acks() >= acks + 20;
                },
                seconds(o.recovery_seconds));
    recovery_s.push_back(duration<double>(steady_clock::now() - back).count());
    // The next fault only once every partition has its three replicas again
    // and none is rebuilding: one fault at a time means one replica missing
    // at most, including a wiped one still being rebuilt.
    if (!stuck) {
      stuck = !wait_until([&] { return fully_replicated(cluster, partitions); },
                          seconds(o.recovery_seconds));
      replicated_s.push_back(duration<double>(steady_clock::now() - back).count());
    }
    for (size_t i = 0; i < cluster.size(); ++i) {
      peak_rss_kib = std::max(peak_rss_kib, rss_kib(cluster.node(i).pid));
    }
    const std::string where = in.fault == Fault::nats_restart || in.fault == Fault::split
                                  ? ""
                                  : " (node " + std::to_string(in.node) + ")";
    std::cerr << "fault " << recovery_s.size() << ": " << fault_name << where
              << ", serving and writing in " << recovery_s.back() << " s, replicated in "
              << (replicated_s.empty() ? 0 : replicated_s.back()) << " s, " << ledger.acks()
              << " writes acknowledged so far\n";
  }
  if (stuck) {
    const std::string state = cluster.describe_not_serving();
    std::cerr << "not recovered:\n" << state << "\n";
    writes.violation("not recovered within " + std::to_string(o.recovery_seconds) +
                     " s after the last fault:\n" + state);
  }
  load.stop();
  bank.stop();
  const EndDeadline deadline(seconds(o.recovery_seconds));
  check_final_values(o, endpoints, ledger, writes, deadline);
  bank.check_total(deadline);
  check_replicas_agree(partitions, endpoints, writes, deadline);

  std::vector<uint64_t> rss_end;
  for (size_t i = 0; i < cluster.size(); ++i)
    rss_end.push_back(rss_kib(cluster.node(i).pid) / 1024);
  // Each node's coordination counters, since its last start (a node a fault
  // restarted counts from then).
  json coordination = json::array();
  for (size_t i = 0; i < cluster.size(); ++i) {
    const json status = cluster.get_json(i, "/cluster/status");
    coordination.push_back(status.is_object() ? status.value("coordination", json()) : json());
  }
  const json summary = {
      {"seconds", o.seconds},
      {"nodes", o.nodes},
      {"partitions", o.partitions},
      {"partitions_at_end", partitions},
      {"faults", faults},
      {"recovery_s_median", median(recovery_s)},
      {"replicated_s_median", median(replicated_s)},
      {"replicated_s_max",
       replicated_s.empty() ? 0 : *std::max_element(replicated_s.begin(), replicated_s.end())},
      {"recovery_s_max",
       recovery_s.empty() ? 0 : *std::max_element(recovery_s.begin(), recovery_s.end())},
      {"writes_acknowledged", ledger.acks()},
      {"reads_checked", load.reads_done()},
      {"writes", writes.to_json()},
      {"reads", reads.to_json()},
      {"transfers", bank.to_json()},
      {"transfer_violations", transfers.to_json()["violations"]},
      {"peak_rss_mib", peak_rss_kib / 1024},
      {"rss_mib_at_end", rss_end},
      {"coordination_since_last_start", coordination}};
  std::cout << summary.dump(2) << "\n";
  const size_t violations =
      writes.violation_count() + reads.violation_count() + transfers.violation_count();
  std::cerr << (violations == 0 ? "no violation\n"
                                : std::to_string(violations) + " violation(s): see above\n");
  return violations == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"partid soak: a cluster under continuous load and one fault at a time"};
  app.add_option("--seconds", o.seconds, "how long to inject faults");
  app.add_option("--nodes", o.nodes, "partid nodes (RF 3)")->check(CLI::Range(3, 9));
  app.add_option("--partitions", o.partitions);
  app.add_option("--writers", o.writers)->check(CLI::Range(1, 64));
  app.add_option("--readers", o.readers)->check(CLI::Range(0, 64));
  app.add_option("--keys", o.keys, "keys overwritten (a multiple of --writers)");
  app.add_option("--accounts", o.accounts)->check(CLI::Range(2, 1000));
  app.add_option("--transfer-threads", o.transfer_threads)->check(CLI::Range(0, 16));
  app.add_option("--fault-min-ms", o.fault_min_ms);
  app.add_option("--fault-max-ms", o.fault_max_ms);
  app.add_option("--outage-max-ms", o.outage_max_ms, "how long a killed or paused node stays down");
  app.add_option("--recovery-seconds", o.recovery_seconds);
  app.add_option("--reshape-every", o.reshape_every,
                 "every n-th fault splits or merges a partition instead (0: never)");
  app.add_option("--faults", o.faults, "the kinds of fault injected, picked at random")
      ->check(CLI::IsMember(faults_by_name()))
      ->capture_default_str();
  app.add_option("--seed", o.seed, "fault schedule (0: from the clock)");
  app.add_option("--clock-skew-ms", o.clock_skew_ms,
                 "node i's wall clock runs ((i % 3) - 1) times this from the machine's");
  CLI11_PARSE(app, argc, argv);
  if (o.keys < o.writers || o.fault_max_ms < o.fault_min_ms) {
    std::cerr << "--keys must be at least --writers, --fault-max-ms at least --fault-min-ms\n";
    return 2;
  }
  if (o.seed == 0) o.seed = static_cast<uint64_t>(system_clock::now().time_since_epoch().count());
  std::cerr << "seed " << o.seed << "\n";
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::cerr << "soak failed: " << e.what() << "\n";
    return 1;
  }
}
