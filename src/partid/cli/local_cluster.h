// cli: `partictl cluster up|resize|down` — a local cluster on loopback: one
// nats-server with JetStream and N partid nodes, everything (data, logs, the
// state file cluster.json, the nodes' shared cluster-secret) under one
// directory.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace partid::cli {

struct ClusterSpec {
  std::string dir = "parti-cluster";
  uint32_t nodes = 3;
  uint32_t partitions = 256;
  uint32_t replication_factor = 1;
  bool sync = true;
  // The nodes' --fast-timings (sub-second heartbeats and failover, for a
  // demo or a test); off, libparti's defaults (6-s heartbeat TTL).
  bool fast_timings = true;
  int timeout_s = 60;
};

struct ClusterNode {
  std::string id;
  std::string api_url;  // http://127.0.0.1:PORT
  int pid = 0;
  std::string dir;  // its data, log and ready file
};

struct ClusterState {
  std::string nats_url;
  int nats_pid = 0;
  std::vector<ClusterNode> nodes;
  ClusterSpec spec;         // what new nodes are started with
  uint32_t next_index = 0;  // the next node's directory: node-<next_index>
};

enum class ResizeOutcome { Done, InProgress, Failed };

// Starts the cluster and waits until every node serves and sees all others.
// Returns false and *error (with the log to look at) on failure, after
// stopping whatever it started.
bool cluster_up(const ClusterSpec& spec, ClusterState* state, std::string* error);
// Grows or shrinks the running cluster in `dir` to `nodes`: new nodes join,
// each on a fresh data directory, or the newest nodes leave one at a time by
// SIGTERM (a clean drain), each once the cluster has settled again. Returns
// once every partition is served and settled on the new set. InProgress (the
// reason in *error, nothing changed) while the last resize still moves data
// (api/resize_guard.h), unless `force`.
ResizeOutcome cluster_resize(const std::string& dir, uint32_t nodes, bool force, int timeout_s,
                             ClusterState* state, std::string* error);
// Stops what `dir`/cluster.json lists; false and *error if there is none.
bool cluster_down(const std::string& dir, std::string* error);
// What a node on this machine is started with, by `partictl cluster` and by
// the tests' clusters alike: one place that knows partid's flags for it.
struct NodeLaunch {
  std::string binary;
  std::string nats_url;
  std::string cluster;
  std::string data_dir;
  std::string peer_listen = "127.0.0.1:0";
  uint32_t partitions = 256;
  uint32_t replication_factor = 1;
  bool sync = true;
  bool fast_timings = false;
  bool ephemeral = false;
  std::string ready_file;
};
// Its command line; the API listens on any free port of 127.0.0.1 and the
// ready file tells which.
std::vector<std::string> node_argv(const NodeLaunch& l);
// The command line of a node of `s` whose directory is `node_dir`, `partid`
// being its binary (the secret and token files are added apart, when the
// cluster has them).
std::vector<std::string> node_command(const ClusterState& s, const std::string& partid,
                                      const std::string& node_dir);
// Reads `dir`/cluster.json.
bool load_cluster_state(const std::string& dir, ClusterState* state, std::string* error);

}  // namespace partid::cli
