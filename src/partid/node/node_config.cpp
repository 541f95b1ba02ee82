#include "partid/node/node_config.h"

#include "parti/core/config.h"
#include "partid/peer/peer_auth.h"
#include "partid/secret_file.h"
#include "partid/storage/store_engine.h"

#include <fmt/format.h>
#include <toml++/toml.h>
#include <CLI/CLI.hpp>
#include <boost/asio/ip/address.hpp>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <sstream>

namespace partid::node {
namespace {

// CLI11 reads config files through this adapter, so toml++ does the TOML
// (types, quoting, errors). CLI11 2.1 lets a file value beat the option's
// environment variable, so a key whose PARTID_<KEY> is set is left out here:
// then the environment fills it, and the order is flag > env > file.
class TomlConfig : public CLI::Config {
 public:
  std::string to_config(const CLI::App*, bool, bool, std::string) const override { return {}; }
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    std::stringstream text;
    text << input.rdbuf();
    toml::table table;
    try {
      table = toml::parse(text.str());
    } catch (const toml::parse_error& e) {
      throw CLI::ConversionError("config", std::string(e.description()));
    }
    std::vector<CLI::ConfigItem> items;
    for (const auto& [key, value] : table) {
      CLI::ConfigItem item;
      item.name = std::string(key.str());
      std::replace(item.name.begin(), item.name.end(), '_', '-');
      if (std::getenv(env_name(item.name).c_str())) continue;
      if (auto s = value.value<std::string>(); s && value.is_string()) {
        item.inputs = {*s};
      } else if (auto b = value.value<bool>(); b && value.is_boolean()) {
        item.inputs = {*b ? "true" : "false"};
      } else if (auto i = value.value<int64_t>(); i && value.is_integer()) {
        item.inputs = {std::to_string(*i)};
      } else {
        throw CLI::ConversionError(item.name, "must be a string, integer or boolean");
      }
      items.push_back(std::move(item));
    }
    return items;
  }
};

// Fills c.nats_access from the NATS settings, reading the secret files; the
// reason when they cannot be used.
std::optional<std::string> resolve_nats_access(NodeConfig& c) {
  parti::coord::NatsAccess& a = c.nats_access;
  std::string error;
  const auto read = [&](const std::string& path, const char* what, std::string* into) {
    if (path.empty()) return true;
    auto secret = read_secret_file(path, what, 1, &error);
    if (secret) *into = std::move(*secret);
    return secret.has_value();
  };
  a.user = c.nats_user;
  if (!read(c.nats_password_file, "the NATS password", &a.password) ||
      !read(c.nats_token_file, "the NATS token", &a.token)) {
    return error;
  }
  if (std::string why = parti::coord::access_problem(a); !why.empty()) return why;
  return std::nullopt;
}

}  // namespace

std::string env_name(const std::string& option) {
  std::string out = "PARTID_";
  for (char c : option) out.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(c)));
  return out;
}

bool split_host_port(const std::string& address, std::string* host, uint16_t* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = address.substr(0, colon);
  const char* first = address.data() + colon + 1;
  const char* last = address.data() + address.size();
  auto [end, ec] = std::from_chars(first, last, *port);
  return ec == std::errc() && end == last;
}

parti::Timings libparti_timings(const NodeConfig& c) {
  parti::Timings t = c.fast_timings ? parti::fast_timings() : parti::Timings{};
  if (c.startup_timeout_ms != 0)
    t.startup_timeout = std::chrono::milliseconds(c.startup_timeout_ms);
  if (c.heartbeat_interval_ms != 0)
    t.heartbeat_interval = std::chrono::milliseconds(c.heartbeat_interval_ms);
  if (c.heartbeat_ttl_ms != 0) t.heartbeat_ttl = std::chrono::milliseconds(c.heartbeat_ttl_ms);
  if (c.election_ttl_ms != 0) t.election_ttl = std::chrono::milliseconds(c.election_ttl_ms);
  if (c.id_ttl_ms != 0) t.id_ttl = std::chrono::milliseconds(c.id_ttl_ms);
  return t;
}

std::variant<NodeConfig, ConfigExit> load_node_config(int argc, const char* const* argv) {
  NodeConfig c;
  CLI::App app{"partid: a node of Parti's partitioned, replicated item store"};
  app.config_formatter(std::make_shared<TomlConfig>());
  app.set_config("--config", "", "TOML file with any of the settings below");
  app.allow_config_extras(false);
  app.set_version_flag("--version", "partid 0.3.0");
  auto opt = [&](const std::string& name, auto& field, const char* help) {
    return app.add_option(name, field, help)
        ->envname(env_name(name.substr(2)))
        ->capture_default_str();
  };
  opt("--nats-url", c.nats_url, "NATS server URL(s), comma separated");
  opt("--kv-replicas", c.kv_replicas,
      "JetStream replicas of the cluster's buckets in NATS (3 on a 3-server NATS cluster; "
      "fixed when the buckets are first created)")
      ->check(CLI::Range(1u, 5u));
  opt("--nats-user", c.nats_user, "user name for the NATS server (with --nats-password-file)");
  opt("--nats-password-file", c.nats_password_file, "file holding the NATS user's password");
  opt("--nats-token-file", c.nats_token_file,
      "file holding a token the NATS server accepts (instead of a user)");
  opt("--cluster", c.cluster, "cluster name (prefix of its KV buckets)");
  opt("--data-dir", c.data_dir, "where this node keeps its RocksDB");
  opt("--api-listen", c.api_listen, "HTTP API host:port (port 0: any)");
  opt("--peer-listen", c.peer_listen, "peer transport host:port");
  opt("--api-advertise", c.api_advertise,
      "host:port clients are told to use for this node's API (empty: the bound address)");
  opt("--peer-advertise", c.peer_advertise,
      "host:port other nodes dial for this node's peer port (empty: the bound address)");
  opt("--peer-source", c.peer_source,
      "local IP address this node's connections to peers come from (empty: the kernel's "
      "choice)");
  opt("--partitions", c.partitions,
      "partition count P the cluster is created with (the same on every node; it then "
      "grows only by splits, POST /cluster/split)")
      ->check(CLI::Range(1u, 65536u));
  opt("--replication-factor", c.replication_factor, "replicas per partition (fixed per cluster)")
      ->check(CLI::Range(1u, 7u));
  opt("--weight", c.weight, "capacity weight of this node")->check(CLI::Range(1u, 1000u));
  opt("--ephemeral", c.ephemeral, "start empty, leave nothing behind");
  opt("--sync", c.sync, "fsync every commit");
  opt("--memtable-mib", c.memtable_mib,
      "RocksDB write buffer per column family (items, log, metadata) before a flush")
      ->check(CLI::Range(1u, 1024u));
  opt("--ingest-install-kib", c.ingest_install_kib,
      "a snapshot install of at least this many KiB of items is ingested as SST files, not "
      "written in one batch that holds the node's other writes (0: every install)");
  opt("--fast-timings", c.fast_timings,
      "second-scale coordination windows (tests, local clusters)");
  opt("--startup-timeout-ms", c.startup_timeout_ms,
      "how long starting keeps trying to reach NATS and join before the node exits with the "
      "reason (0: 60 s, 20 s with --fast-timings)")
      ->check(CLI::Range(0u, 3600000u));
  opt("--heartbeat-interval-ms", c.heartbeat_interval_ms,
      "how often the node puts its heartbeat (0: 2000, 100 with --fast-timings)")
      ->check(CLI::Range(0u, 600000u));
  opt("--heartbeat-ttl-ms", c.heartbeat_ttl_ms,
      "a node silent this long is gone and its partitions fail over; at least twice the "
      "interval, and the same on every node (0: 6000, 600 with --fast-timings)")
      ->check(CLI::Range(0u, 3600000u));
  opt("--election-ttl-ms", c.election_ttl_ms,
      "the coordinator's lease, renewed every third of it; the same on every node (0: 6000, "
      "1500 with --fast-timings)")
      ->check(CLI::Range(0u, 3600000u));
  opt("--id-ttl-ms", c.id_ttl_ms,
      "how long a worker ID stays claimed after its node's last renewal (a restarted node "
      "waits up to this long for its own); no longer than the cluster's (0: 30000, 3000 with "
      "--fast-timings)")
      ->check(CLI::Range(0u, 3600000u));
  opt("--ready-file", c.ready_file, "write {node, api, peer} here once serving");
  opt("--log-level", c.log_level, "trace|debug|info|warn|error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  opt("--max-body-bytes", c.max_body_bytes, "largest request body")
      ->check(CLI::Range(size_t{1024}, size_t{64} << 20));
  opt("--max-client-connections", c.max_client_connections,
      "client connections served at once, more are answered 503 (0: half the open-files "
      "limit, which keeps descriptors for storage and peers)");
  opt("--reclaim-idle-ms", c.reclaim_idle_ms,
      "at the client-connection cap, a connection idle this long is closed to admit a new one");
  opt("--reclaim-slow-request-ms", c.reclaim_slow_request_ms,
      "at the cap with none idle that long, one whose request has been arriving this long is "
      "answered 408 and closed to admit a new one");
  opt("--max-peer-frame-bytes", c.max_peer_frame_bytes,
      "largest peer message; at least max-body-bytes + 64 KiB (larger snapshots travel in "
      "fragments)")
      ->check(CLI::Range(256u << 10, 64u << 20));
  opt("--max-relayed-bytes", c.max_relayed_bytes,
      "answers larger than a peer frame are relayed between nodes in parts: the most bytes of "
      "them a node keeps at once, and the largest answer it relays")
      ->check(CLI::Range(size_t{1} << 20, size_t{16} << 30));
  opt("--max-answer-bytes", c.max_answer_bytes,
      "the most bytes of items one answer of GET /items/{pk} carries (it is built in memory): "
      "the page ends before the item that would pass it, and its cursor reads on")
      ->check(CLI::Range(size_t{1} << 20, size_t{16} << 30));
  opt("--hop-limit", c.hop_limit, "forwarding hops before giving up")->check(CLI::Range(1u, 16u));
  opt("--forward-timeout-ms", c.forward_timeout_ms, "deadline of a forwarded request")
      ->check(CLI::Range(10u, 600000u));
  opt("--max-clock-offset-ms", c.max_clock_offset_ms,
      "how far apart the nodes' wall clocks may be where no offset was measured: a forwarded "
      "request that reaches its node later than its sender stopped waiting, by more than the "
      "measured offset's uncertainty (or this, from a peer not measured lately), is refused "
      "unserved, and a transaction's deadline leaves this much room for a leader's clock; a "
      "measured offset past half of this is warned about")
      ->check(CLI::Range(0u, 600000u));
  opt("--breaker-failures", c.breaker_failures,
      "consecutive failures of a peer (timeouts, lost connections) that open its circuit")
      ->check(CLI::Range(1u, 1000u));
  opt("--breaker-cooldown-ms", c.breaker_cooldown_ms,
      "how long an open circuit fails requests at once (doubles while its probes fail, up to "
      "20x)")
      ->check(CLI::Range(10u, 600000u));
  opt("--hold-ms", c.hold_ms,
      "how long a request refused while its partition changes hands is retried before the "
      "refusal is returned (0: at once)")
      ->check(CLI::Range(0u, 600000u));
  opt("--drain-timeout-ms", c.drain_timeout_ms,
      "how long a stopping node waits for the others to take over its partitions (0: leave at "
      "once)")
      ->check(CLI::Range(0u, 3600000u));
  opt("--handoff-timeout-ms", c.handoff_timeout_ms,
      "how long a leader handing a partition over lets its writes in flight commit (the other "
      "replicas wait twice as long for it)")
      ->check(CLI::Range(1u, 60000u));
  opt("--write-timeout-ms", c.write_timeout_ms, "a write without quorum by then fails (504)")
      ->check(CLI::Range(10u, 600000u));
  opt("--max-disk-stall-ms", c.max_disk_stall_ms,
      "a storage write that has not returned by then means the disk is stalled: the node stops "
      "(exit code 70) so its partitions fail over (0: never)")
      ->check(CLI::Range(0u, 3600000u));
  opt("--slow-disk-ms", c.slow_disk_ms,
      "storage writes this slow (the median of the last 9) make the node ask not to lead "
      "partitions; it stays a replica (0: never)")
      ->check(CLI::Range(0u, 3600000u));
  opt("--slow-disk-calm-ms", c.slow_disk_calm_ms,
      "how long after it was last slow a node's disk must have been fast before it leads again")
      ->check(CLI::Range(0u, 3600000u));
  opt("--commit-delay-us", c.commit_delay_us,
      "under load, how long a group commit waits for more writes to share its disk write (0: "
      "never)")
      ->check(CLI::Range(0u, 100000u));
  opt("--commit-siblings", c.commit_siblings,
      "the load at which group commits wait: steps in the last batch plus those waiting")
      ->check(CLI::Range(1u, 100000u));
  opt("--txn-timeout-ms", c.txn_timeout_ms,
      "a transaction left prepared this long (its coordinator died) is finished by recovery: "
      "aborted unless it committed")
      ->check(CLI::Range(100u, 3600000u));
  opt("--txn-retention-ms", c.txn_retention_ms,
      "how long past its deadline a transaction's outcome is kept (GET /txn/{id} answers it); "
      "then what nothing needs is erased")
      ->check(CLI::Range(0u, 604800000u));
  opt("--replication-tick-ms", c.replication_tick_ms, "the replication protocol's clock")
      ->check(CLI::Range(1u, 10000u));
  opt("--heartbeat-ticks", c.heartbeat_ticks, "ticks between a leader's confirmations")
      ->check(CLI::Range(1u, 1000u));
  opt("--retry-ticks", c.retry_ticks,
      "ticks without progress before a leader resends (then twice as long each time, up "
      "to 8x, while the follower stays silent)")
      ->check(CLI::Range(1u, 1000u));
  opt("--log-retention", c.log_retention, "log entries kept behind the watermark")
      ->check(CLI::Range(1u, 10000000u));
  opt("--log-hold-mib", c.log_hold_mib,
      "a leader keeps its log past the retention for a follower being sent a snapshot, until "
      "it has caught up, up to this many MiB of entries per partition (0: never)")
      ->check(CLI::Range(0u, 4096u));
  opt("--log-hold-ms", c.log_hold_ms,
      "a follower holding a leader's log (--log-hold-mib) releases it once it has made no "
      "progress for this long")
      ->check(CLI::Range(1u, 3600000u));
  opt("--log-hold-total-mib", c.log_hold_total_mib,
      "the logs this node keeps for followers being sent snapshots, all partitions together; "
      "past it the largest holds end first")
      ->check(CLI::Range(0u, 65536u));
  opt("--max-snapshot-mib", c.max_snapshot_mib,
      "the largest partition snapshot this node builds for a follower or takes in (each is "
      "held in memory whole on both sides); a partition past it cannot be copied to a new "
      "replica: split it, or raise this on every node")
      ->check(CLI::Range(1u, 65536u));
  opt("--snapshot-budget-mib", c.snapshot_budget_mib,
      "snapshots this node has built for followers and not yet delivered, all partitions "
      "together; past it, further builds wait (one may always start when none is held)")
      ->check(CLI::Range(1u, 65536u));
  opt("--snapshot-receive-budget-mib", c.snapshot_receive_budget_mib,
      "snapshots this node is receiving or has received and not yet installed, all partitions "
      "together; past it, a peer's next transfer is answered busy and sent again later (one "
      "may always start when none is held)")
      ->check(CLI::Range(1u, 65536u));
  opt("--staged-moves", c.staged_moves,
      "with RF >= 3, planned moves go in steps that each keep a quorum of the replica set "
      "holding the data, so writes wait for a handoff, never a copy; and with any RF a replica "
      "new to a partition leads it only from the next step, once it has the data (the "
      "coordinating node's setting counts: give every node the same)");
  opt("--admin-token", c.admin_token, "token for /admin routes (empty: disabled)");
  opt("--admin-token-file", c.admin_token_file,
      "file holding the token for /admin routes (instead of --admin-token, which every process "
      "on the machine can read from the command line)");
  opt("--cluster-secret-file", c.cluster_secret_file,
      "file holding the secret every node of the cluster shares (at least 16 bytes): peers "
      "prove they hold it before anything they send is acted on (empty: peer connections are "
      "not authenticated). To rotate it, one secret per line: the first is proven, each is "
      "accepted; SIGHUP reads the file again");
  opt("--cluster-secret-optional", c.cluster_secret_optional,
      "while a secret is rolled into a running cluster node by node: prove it to peers that "
      "ask, and still talk to peers that have none (turn it off once every node has it)");
  opt("--preserve-format", c.preserve_format,
      "during a rolling upgrade, keep this node's data and the cluster readable by builds of "
      "this data format, so a rollback stays possible; features of later formats stay off "
      "until no node preserves (0: the build's own)")
      ->check(CLI::Range(0u, storage::kStorageFormat));
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    std::ostringstream out;
    app.exit(e, out, out);
    return ConfigExit{0, out.str()};
  } catch (const CLI::ParseError& e) {
    std::ostringstream out;
    app.exit(e, out, out);
    return ConfigExit{2, out.str()};
  }
  if (c.max_peer_frame_bytes < c.max_body_bytes + NodeConfig::kFrameHeadroom) {
    return ConfigExit{2, fmt::format("--max-peer-frame-bytes {} cannot carry a forwarded request "
                                     "of --max-body-bytes {}: it needs at least {}\n",
                                     c.max_peer_frame_bytes, c.max_body_bytes,
                                     c.max_body_bytes + NodeConfig::kFrameHeadroom)};
  }
  if (c.startup_timeout_ms != 0) {
    const auto kv = libparti_timings(c).kv_timeout;
    if (std::chrono::milliseconds(c.startup_timeout_ms) <= kv) {
      return ConfigExit{2, fmt::format("--startup-timeout-ms {} leaves no room for one NATS "
                                       "request: it must exceed {} ms\n",
                                       c.startup_timeout_ms, kv.count())};
    }
  }
  if (auto why = resolve_nats_access(c)) return ConfigExit{2, *why + "\n"};
  if (!c.admin_token_file.empty()) {
    if (!c.admin_token.empty()) {
      return ConfigExit{2, "give --admin-token or --admin-token-file, not both\n"};
    }
    std::string error;
    auto token = read_secret_file(c.admin_token_file, "the admin token", 1, &error);
    if (!token) return ConfigExit{2, error + "\n"};
    c.admin_token = std::move(*token);
  }
  if (c.cluster_secret_optional && c.cluster_secret_file.empty()) {
    return ConfigExit{2, "--cluster-secret-optional needs --cluster-secret-file\n"};
  }
  if (!c.cluster_secret_file.empty()) {
    std::string error;
    auto secrets = peer::load_secrets(c.cluster_secret_file, &error);
    if (!secrets) return ConfigExit{2, error + "\n"};
    c.cluster_secrets = std::move(*secrets);
  }
  std::string host;
  uint16_t port = 0;
  for (const auto* address : {&c.api_listen, &c.peer_listen}) {
    if (!split_host_port(*address, &host, &port)) {
      return ConfigExit{2, "'" + *address + "' is not host:port\n"};
    }
  }
  for (const auto* address : {&c.api_advertise, &c.peer_advertise}) {
    if (!address->empty() && (!split_host_port(*address, &host, &port) || port == 0)) {
      return ConfigExit{2, "'" + *address + "' is not host:port with a port\n"};
    }
  }
  if (!c.peer_source.empty()) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(c.peer_source, ec);
    if (ec) return ConfigExit{2, "--peer-source '" + c.peer_source + "' is not an IP address\n"};
  }
  return c;
}

}  // namespace partid::node
