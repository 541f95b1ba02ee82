// tests: real partid processes on 127.0.0.1 against a real nats-server, each
// with its own data directory under a temp dir. Nodes are started with a
// ready file and fast coordination timings; every wait is on a condition
// with a deadline. The destructor kills whatever is still running.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "partid/cli/http_client.h"
#include "support/nats_server.h"
#include "support/temp_dir.h"

namespace parti::testing {

struct PartidOptions {
  uint32_t partitions = 32;
  uint32_t replication_factor = 1;
  bool ephemeral = false;
  std::string nats_url;  // empty: the cluster's server
  std::string peer_listen = "127.0.0.1:0";
  std::string data_dir;      // empty: a fresh one
  bool fast_timings = true;  // false: libparti's own (a 30-s worker ID claim, ...)
  // Empty: the cluster's own (kTestSecret, support/peer_wire.h); "none": the
  // node runs without one.
  std::string cluster_secret_file;
  std::vector<std::string> extra_args;
  // A command the node runs under ("prlimit", "--nofile=64:64", "--"), or none.
  std::vector<std::string> launcher;
};

class PartidCluster {
 public:
  struct Node {
    std::string data_dir;
    std::string log;
    PartidOptions options;
    pid_t pid = -1;
    std::string id, api, peer;
  };

  // Its nodes share a cluster secret (kTestSecret), as a real cluster's do.
  explicit PartidCluster(NatsServer& nats);
  ~PartidCluster();

  // Starts a node and waits for its ready file; returns its index. Throws if
  // it exits or is not ready in time (the message includes its log tail).
  size_t start(const PartidOptions& options = {});
  // The same in two halves, for a test that acts while the node starts (on
  // the test's main thread, not another: a node dies with the thread that
  // spawned it, see killed_with_test).
  size_t start_unready(const PartidOptions& options = {});
  void wait_ready(size_t i);
  // Starts a node expected to fail; returns its exit code and log.
  int start_expecting_failure(const PartidOptions& options, std::string* log);
  void restart(size_t i);  // same data dir and options
  void stop(size_t i);     // SIGTERM: clean leave
  void kill(size_t i);     // SIGKILL
  // Waits for node i to exit on its own: its exit code (-1 when a signal
  // ended it), or nullopt if it still runs after `timeout`.
  std::optional<int> wait_exit(size_t i, std::chrono::milliseconds timeout);
  void pause(size_t i);   // SIGSTOP
  void resume(size_t i);  // SIGCONT
  void hangup(size_t i);  // SIGHUP: the node reads its cluster secret file again
  // Stops the node and deletes its data directory: it restarts empty.
  void wipe(size_t i);
  void start_again(size_t i);  // launches a stopped node with its options
  // True once every running node's topology lists `n` nodes holding
  // partitions, its assignment names no node without a record (a dead one)
  // and is final (not a step of a staged move), and every partition has a
  // leader that serves it.
  bool wait_converged(size_t n, std::chrono::milliseconds timeout);
  // True once every partition has a serving leader (running nodes only).
  bool wait_serving(std::chrono::milliseconds timeout);
  // Partitions whose leader serves them, summed over the running nodes.
  size_t serving_partitions();
  // Until node i counts a worker of its assignment whose record it no longer
  // holds (/cluster/status: data_format.lowest_live 0), as with the
  // nats-server down past the heartbeat TTL.
  bool wait_record_lost(size_t i, std::chrono::milliseconds timeout);
  // For failure messages: each live node's view of the partitions it holds
  // that are not serving, and the last lines of its log.
  std::string describe_not_serving();

  partid::cli::HttpResult http(size_t i, const std::string& method, const std::string& target,
                               const std::string& body = {}, const std::string& authorization = {});
  nlohmann::json get_json(size_t i, const std::string& target);
  // A counter from node i's /metrics (0 when absent).
  double metric(size_t i, const std::string& sample);

  Node& node(size_t i) { return nodes_.at(i); }
  // The data directory of node i, also before it is started.
  std::string data_dir_of(size_t i) const { return dir_.sub("node-" + std::to_string(i)); }
  size_t size() const { return nodes_.size(); }
  const std::string& root() const { return dir_.path(); }
  std::string secret_file() const { return dir_.path() + "/cluster-secret"; }

 private:
  std::vector<std::string> argv_for(const Node& n) const;
  void launch(Node& n);  // spawn, then await_ready
  void spawn(Node& n);
  void await_ready(Node& n);
  NatsServer& nats_;
  TempDir dir_;
  std::vector<Node> nodes_;
};

std::string read_file(const std::string& path);

// A library preloaded into a node (LD_PRELOAD) with its settings
// (environment variables).
struct Preload {
  std::string library;
  std::vector<std::string> settings;
};
// The node's wall clock runs `offset` from the machine's
// (support/clock_offset.cpp); its monotonic clock stays the machine's.
Preload clock_offset(std::chrono::milliseconds offset);
// Disk faults of a node under `dir` (support/disk_faults.cpp), each while
// its file exists (empty: never): `full`, its writes and syncs fail with
// ENOSPC; `stuck`, they block until the file is gone; `slow`, each takes
// `slow_by` longer.
struct DiskFaultFlags {
  std::string dir;
  std::string full, stuck, slow;
  std::chrono::milliseconds slow_by{0};
};
Preload disk_faults(const DiskFaultFlags& flags);
// A launcher (PartidOptions::launcher) that runs a node with `preloads`.
std::vector<std::string> preloading(const std::vector<Preload>& preloads);
inline std::vector<std::string> clock_set_off(std::chrono::milliseconds offset) {
  return preloading({clock_offset(offset)});
}
inline std::vector<std::string> disk_full_while(const std::string& flag, const std::string& dir) {
  DiskFaultFlags flags;
  flags.dir = dir;
  flags.full = flag;
  return preloading({disk_faults(flags)});
}
inline std::vector<std::string> disk_stuck_while(const std::string& flag, const std::string& dir) {
  DiskFaultFlags flags;
  flags.dir = dir;
  flags.stuck = flag;
  return preloading({disk_faults(flags)});
}
inline std::vector<std::string> disk_slow_while(const std::string& flag, const std::string& dir,
                                                std::chrono::milliseconds by) {
  DiskFaultFlags flags;
  flags.dir = dir;
  flags.slow = flag;
  flags.slow_by = by;
  return preloading({disk_faults(flags)});
}

}  // namespace parti::testing
