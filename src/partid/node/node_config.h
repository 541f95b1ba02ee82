// node: partid's configuration. Every setting has a default, can be set in a
// TOML file (--config), and is overridden by its PARTID_* environment variable
// and then by its command-line flag (flag > environment > file > default).
// Unknown keys and flags are errors, so a typo never silently does nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "parti/coord/nats_access.h"
#include "parti/core/config.h"

namespace partid::node {

struct NodeConfig {
  std::string nats_url = "nats://127.0.0.1:4222";
  // How the node authenticates to NATS (parti::coord::NatsAccess): secrets
  // come from files; `nats_access` is what load_node_config built.
  std::string nats_user;
  std::string nats_password_file;
  std::string nats_token_file;
  parti::coord::NatsAccess nats_access;
  std::string cluster = "parti";  // prefix of the cluster's KV buckets
  std::string data_dir = "partid-data";
  std::string api_listen = "127.0.0.1:8080";   // port 0: any free port
  std::string peer_listen = "127.0.0.1:9080";  // port 0: any free port
  // What the node record tells others to dial (behind NAT, a container or a
  // proxy); empty: the bound listen address.
  std::string api_advertise;
  std::string peer_advertise;
  // The local address connections to peers are made from; empty: the kernel's
  // choice. On a host with several networks it keeps peer traffic on the one
  // the other nodes know, and it lets a firewall (or a test's proxy) tell this
  // node's connections apart from another's on the same machine.
  std::string peer_source;
  uint32_t partitions = 256;
  uint32_t replication_factor = 1;
  uint32_t weight = 1;
  bool ephemeral = false;  // start empty, delete everything at exit
  bool sync = true;        // fsync every commit
  // RocksDB write buffer per column family (items, log, metadata), in MiB:
  // what a node holds in memory before a flush, twice over at most.
  uint32_t memtable_mib = 16;
  // A snapshot install of at least this many KiB of items is ingested as
  // files instead of written in one batch (StoreOptions::ingest_install_bytes).
  uint32_t ingest_install_kib = 4096;
  bool fast_timings = false;  // second-scale libparti windows (tests, local clusters)
  // How long starting keeps trying to reach NATS and take its place before it
  // gives up; 0: the timings' own (60 s, 20 s with fast timings).
  uint32_t startup_timeout_ms = 0;
  // libparti's failure detection (0: the defaults, or --fast-timings'). The
  // cluster's first node fixes the TTLs; a node with others is refused.
  uint32_t heartbeat_interval_ms = 0;
  uint32_t heartbeat_ttl_ms = 0;
  uint32_t election_ttl_ms = 0;
  uint32_t id_ttl_ms = 0;
  std::string ready_file;  // written with the bound addresses once serving
  std::string log_level = "info";
  size_t max_body_bytes = 1 << 20;
  // Client connections served at once; 0: half the open-files limit
  // (node/descriptor_budget.h). More are answered 503 too_many_connections.
  uint32_t max_client_connections = 0;
  // At that cap, a connection idle this long, else one whose request has
  // been arriving this long, is closed to admit a new one (api/waiting_clients.h).
  uint32_t reclaim_idle_ms = 1000;
  uint32_t reclaim_slow_request_ms = 5000;
  // Largest peer frame accepted or sent. A forwarded request carries a whole
  // body, so it must leave kFrameHeadroom beyond max_body_bytes; replication
  // cuts its envelopes and snapshot fragments from it.
  uint32_t max_peer_frame_bytes = 16u << 20;
  static constexpr uint32_t kFrameHeadroom = 64u << 10;
  // Answers larger than a peer frame travel back to the node a request was
  // forwarded from in parts (api/relayed_answers.h): the most bytes of such
  // answers a node keeps at once for pulling, and the largest it assembles.
  size_t max_relayed_bytes = size_t{256} << 20;
  // The most bytes of range keys and messages one answer of GET /items/{pk}
  // carries: it is built whole in memory, so without a bound one request
  // (10,000 items of 256 KiB) could take gigabytes. The page ends before the
  // item that would pass it (its `next` cursor reads on).
  size_t max_answer_bytes = size_t{256} << 20;
  uint32_t hop_limit = 3;
  uint32_t forward_timeout_ms = 5000;
  // How far apart the nodes' wall clocks may be where no offset was measured
  // (peer/peer_clocks.h): a forwarded request that arrives later than its
  // asker's deadline by more is refused unserved (api/forward_deadline.h), and
  // a transaction's deadline leaves this much room for such a leader's clock.
  uint32_t max_clock_offset_ms = 500;
  uint32_t breaker_failures = 5;       // consecutive peer failures that open its circuit
  uint32_t breaker_cooldown_ms = 500;  // first open period; doubles while probes fail
  // A request refused before anything was done (leader moving or unknown) is
  // retried at the node the client reached for up to this long; 0: never.
  uint32_t hold_ms = 5000;
  // A stopping node stays up to this long while its partitions move away.
  uint32_t drain_timeout_ms = 30000;
  // replication
  uint32_t write_timeout_ms = 5000;  // no quorum by then: 504 quorum_timeout
  // JetStream replicas of every bucket the cluster keeps in NATS (libparti's
  // and partid's own): 3 on a 3-server NATS cluster, so one lost server
  // loses none of them. Fixed when the buckets are first created.
  uint32_t kv_replicas = 1;
  // A storage write in flight this long: the disk is stalled, the node stops
  // so its partitions fail over (0: never).
  uint32_t max_disk_stall_ms = 20000;
  // A disk whose last storage writes took this long (their median) asks
  // libparti not to make this node a leader; it stays a replica, and may
  // lead again once its writes are fast and it has not been slow for
  // slow_disk_calm_ms (replication::SlowDiskJudge; 0: never).
  uint32_t slow_disk_ms = 500;
  uint32_t slow_disk_calm_ms = 30000;
  // Group commit under load (replication::CommitDelay): while the last batch
  // and the waiting steps number `commit_siblings` or more, a batch is held
  // open for as many steps as the last one, this long at most (0: never).
  uint32_t commit_delay_us = 1000;
  uint32_t commit_siblings = 4;
  uint32_t handoff_timeout_ms = 1000;  // a leader handing over drains this long at most
  uint32_t replication_tick_ms = 50;   // the replication cores' clock
  uint32_t heartbeat_ticks = 2;        // idle leader -> followers confirmation
  uint32_t retry_ticks = 6;            // follower without progress: resend (backoff base)
  uint32_t log_retention = 10000;      // log entries kept behind the watermark
  uint32_t log_hold_mib = 64;          // log kept past it for a follower rebuilt from a snapshot
  uint32_t log_hold_ms = 60000;        // ...released after this long without its progress
  uint32_t log_hold_total_mib = 512;   // all partitions' held logs together
  uint32_t max_snapshot_mib = 1024;    // the largest snapshot sent or taken in
  uint32_t snapshot_budget_mib = 512;  // snapshots built and not yet delivered, together
  uint32_t snapshot_receive_budget_mib = 512;  // snapshots received and not yet installed
  // libparti's staged moves (parti::Config::staged_moves); the coordinator's
  // setting is the one that counts, so give every node the same.
  bool staged_moves = true;
  std::string admin_token;  // empty: admin operations are refused
  // Or read from this file (kept out of the process list); not with admin_token.
  std::string admin_token_file;
  // A file with the secret every node of the cluster shares (peer/peer_auth.h;
  // one per line while one is rotated, the first proven); empty: peer
  // connections are not authenticated. `cluster_secrets` is what
  // load_node_config read from it (SIGHUP reads it again).
  std::string cluster_secret_file;
  std::vector<std::string> cluster_secrets;
  // While a secret is rolled in node by node: still talk to peers without one.
  bool cluster_secret_optional = false;
  // A transaction prepared this long ago without being resolved (its
  // coordinator died or is stuck) is finished by its partitions' leaders.
  uint32_t txn_timeout_ms = 10000;
  // A transaction's records and decision are erased this long after its
  // deadline (its start + txn_timeout_ms) once nothing needs them: until
  // then GET /txn/{id} answers its outcome. Clocks must agree within it.
  uint32_t txn_retention_ms = 600000;
  // During a rolling upgrade: publish (and mark the data directory with) at
  // most this data format, so the cluster keeps writing nothing a build of
  // this format cannot read and a rollback stays possible (0: the build's own;
  // see upgrade/formats.h).
  uint32_t preserve_format = 0;
};

// libparti's windows for this node: the fast or the default set, with
// --startup-timeout-ms in place of the set's own when given. Starting and the
// check of the flag both read them here, so they cannot disagree.
parti::Timings libparti_timings(const NodeConfig& c);

// Parses argv (and the file and environment it points at). On --help or
// --version the variant holds the text to print and exit 0 with; on an error,
// the message to print and exit 2 with.
struct ConfigExit {
  int code;
  std::string text;
};
std::variant<NodeConfig, ConfigExit> load_node_config(int argc, const char* const* argv);

// The environment variable of a setting: "nats-url" -> "PARTID_NATS_URL".
std::string env_name(const std::string& option);

// Splits "host:port"; false when malformed.
bool split_host_port(const std::string& address, std::string* host, uint16_t* port);

}  // namespace partid::node
