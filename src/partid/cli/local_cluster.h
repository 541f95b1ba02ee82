// cli: `partictl cluster up|down` — a local cluster on loopback: one
// nats-server with JetStream and N partid nodes, everything (data, logs, the
// state file cluster.json) under one directory.
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
  int timeout_s = 60;
};

struct ClusterNode {
  std::string id;
  std::string api_url;  // http://127.0.0.1:PORT
  int pid = 0;
};

struct ClusterState {
  std::string nats_url;
  int nats_pid = 0;
  std::vector<ClusterNode> nodes;
};

// Starts the cluster and waits until every node serves and sees all others.
// Returns false and *error (with the log to look at) on failure, after
// stopping whatever it started.
bool cluster_up(const ClusterSpec& spec, ClusterState* state, std::string* error);
// Stops what `dir`/cluster.json lists; false and *error if there is none.
bool cluster_down(const std::string& dir, std::string* error);
// Reads `dir`/cluster.json.
bool load_cluster_state(const std::string& dir, ClusterState* state, std::string* error);

}  // namespace partid::cli
