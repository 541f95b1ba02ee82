#include "partid/node/node.h"

#include <fmt/ranges.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "parti/assignment/strategy.h"
#include "parti/core/spawn.h"
#include "parti/core/types.h"
#include "parti/source/partition_source.h"
#include "partid/api/forward_deadline.h"
#include "partid/api/forward_features.h"
#include "partid/peer/peer_auth.h"

namespace partid::node {

namespace fs = std::filesystem;

Node::Node(NodeConfig config) : cfg_(std::move(config)) {}

Node::~Node() { stop(); }

template <class F>
void Node::on_loop(F f) {
  std::promise<void> done;
  asio::post(loop_, [&] {
    f();
    done.set_value();
  });
  done.get_future().get();
}

void Node::start() {
  descriptors_ = budget_descriptors(open_files_limit(), cfg_.max_client_connections);
  log_descriptor_budget(descriptors_);
  open_storage();
  bind_listeners();
  loop_thread_ = std::thread([this] {
    parti::name_this_thread("partid-loop");
    auto guard = asio::make_work_guard(loop_);
    loop_.run();
  });
  started_ = true;
  join_cluster();
  // Before the ready file: whoever waits for it (an operator's script, a
  // test) finds the warnings already in the log.
  warn_where_unprotected();
  write_ready_file();
  spdlog::info("{} serving: api http://{} peer {} data {}", self_, api_address_, peer_address_,
               data_path_);
}

void Node::reload_cluster_secret() {
  if (cfg_.cluster_secret_file.empty()) {
    spdlog::warn("SIGHUP: no --cluster-secret-file to read again");
    return;
  }
  std::string error;
  auto secrets = peer::load_secrets(cfg_.cluster_secret_file, &error);
  if (!secrets) {
    spdlog::error("SIGHUP: {}; the cluster secrets stay as they were", error);
    on_loop([&] { metrics_.count("partid_cluster_secret_reload_failures_total"); });
    return;
  }
  const size_t count = secrets->size();
  on_loop([&] {
    peer_server_->set_secrets(*secrets);
    peers_->set_secrets(std::move(*secrets));
    metrics_.count("partid_cluster_secret_reloads_total");
  });
  spdlog::info(
      "SIGHUP: {} cluster secret(s) read from {}; connections proved with a secret no "
      "longer there are closed",
      count, cfg_.cluster_secret_file);
}

// What an operator must hear at start: every way in that is left open.
void Node::warn_where_unprotected() const {
  if (cfg_.cluster_secrets.empty()) {
    spdlog::warn(
        "peer connections are not authenticated (no --cluster-secret-file): anything "
        "that reaches {} can speak for this cluster's nodes",
        peer_address_);
  } else if (cfg_.cluster_secret_optional) {
    spdlog::warn(
        "peers without the cluster secret are still heard "
        "(--cluster-secret-optional): turn it off once every node has the secret");
  }
  if (parti::coord::urls_carry_credentials(cfg_.nats_url)) {
    spdlog::warn(
        "the NATS URL carries credentials ({}): a command line or environment is readable by "
        "every process on this machine; prefer --nats-user with --nats-password-file, or "
        "--nats-token-file",
        parti::coord::redact_urls(cfg_.nats_url));
  }
}

void Node::open_storage() {
  if (cfg_.ephemeral) {
    fs::create_directories(cfg_.data_dir);
    std::string pattern = cfg_.data_dir + "/ephemeral-XXXXXX";
    if (!mkdtemp(pattern.data())) throw std::runtime_error("cannot create " + pattern);
    data_path_ = pattern;
  } else {
    data_path_ = cfg_.data_dir;
    fs::create_directories(data_path_);
  }
  std::string error;
  store_ =
      storage::StoreEngine::open(data_path_ + "/db",
                                 {.sync = cfg_.sync,
                                  .memtable_mib = cfg_.memtable_mib,
                                  .max_open_files = descriptors_.db_files,
                                  .ingest_install_bytes = uint64_t{cfg_.ingest_install_kib} << 10},
                                 &error);
  if (!store_) throw std::runtime_error("cannot open storage in " + data_path_ + ": " + error);
  if (auto meta = store_->load_node_metadata()) {
    if (meta->cluster != cfg_.cluster || meta->partitions != cfg_.partitions ||
        meta->replication_factor != cfg_.replication_factor) {
      throw std::runtime_error(fmt::format(
          "{} holds data of cluster '{}' (P={}, RF={}); this node is configured for '{}' "
          "(P={}, RF={}): use another --data-dir",
          data_path_, meta->cluster, meta->partitions, meta->replication_factor, cfg_.cluster,
          cfg_.partitions, cfg_.replication_factor));
    }
    if (cfg_.preserve_format != 0 && meta->format > cfg_.preserve_format) {
      throw std::runtime_error(
          fmt::format("--preserve-format {}: {} is in data format {} already; start without it",
                      cfg_.preserve_format, data_path_, meta->format));
    }
    meta_ = *meta;
    // An older format needs no conversion (storage::kStorageFormat), only the
    // mark that an older build must not open it any more.
    meta_.format = std::max(meta->format, published_format());
  } else {
    meta_.cluster = cfg_.cluster;
    meta_.partitions = cfg_.partitions;
    meta_.replication_factor = cfg_.replication_factor;
    meta_.format = published_format();
  }
  if (meta_.disk_id == 0) {
    // Grows from one data directory to the next (see core::HardState::disk_id).
    meta_.disk_id = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch() /
                                          std::chrono::microseconds(1));
  }
}

replication::ReplicatorOptions replicator_options(const NodeConfig& cfg) {
  replication::ReplicatorOptions o;
  o.tick = std::chrono::milliseconds(cfg.replication_tick_ms);
  o.write_timeout = std::chrono::milliseconds(cfg.write_timeout_ms);
  o.max_disk_stall = std::chrono::milliseconds(cfg.max_disk_stall_ms);
  o.slow_disk.threshold = std::chrono::milliseconds(cfg.slow_disk_ms);
  o.slow_disk.calm = std::chrono::milliseconds(cfg.slow_disk_calm_ms);
  o.commit_delay.delay = std::chrono::microseconds(cfg.commit_delay_us);
  o.commit_delay.siblings = cfg.commit_siblings;
  o.handoff_timeout = std::chrono::milliseconds(cfg.handoff_timeout_ms);
  o.core.heartbeat_ticks = cfg.heartbeat_ticks;
  o.core.retry_ticks = cfg.retry_ticks;
  o.core.gap_timeout_ticks = cfg.heartbeat_ticks + 1;
  o.core.seal_retry_ticks = cfg.retry_ticks;
  o.core.log_retention = cfg.log_retention;
  o.core.log_hold_bytes = uint64_t{cfg.log_hold_mib} << 20;
  o.core.log_hold_ticks = std::max<uint64_t>(1, cfg.log_hold_ms / cfg.replication_tick_ms);
  o.log_hold_budget_bytes = uint64_t{cfg.log_hold_total_mib} << 20;
  o.max_frame_bytes = cfg.max_peer_frame_bytes;
  o.max_snapshot_bytes = uint64_t{cfg.max_snapshot_mib} << 20;
  o.snapshot_budget_bytes = uint64_t{cfg.snapshot_budget_mib} << 20;
  o.snapshot_receive_budget_bytes = uint64_t{cfg.snapshot_receive_budget_mib} << 20;
  return o;
}

void Node::bind_listeners() {
  peer::ClientOptions client;
  client.breaker.failures_to_open = cfg_.breaker_failures;
  client.breaker.cooldown = std::chrono::milliseconds(cfg_.breaker_cooldown_ms);
  client.breaker.max_cooldown = 20 * client.breaker.cooldown;
  const peer::Greeting greeting{peer::kProtocol, cfg_.cluster, cfg_.cluster_secrets,
                                cfg_.cluster_secret_optional};
  client.greeting = greeting;
  client.limits.max_frame_bytes = cfg_.max_peer_frame_bytes;
  if (!cfg_.peer_source.empty()) client.source = asio::ip::make_address(cfg_.peer_source);
  peers_ = std::make_unique<peer::PeerClient>(loop_.get_executor(), client);
  peer_server_ = std::make_unique<peer::PeerServer>(
      loop_.get_executor(), peer::ChannelLimits{.max_frame_bytes = cfg_.max_peer_frame_bytes},
      greeting, [this](pb::Envelope request, peer::PeerServer::Reply reply) {
        on_peer_request(std::move(request), std::move(reply));
      });
  api::ApiOptions options;
  options.limits.max_body_bytes = cfg_.max_body_bytes;
  options.hop_limit = cfg_.hop_limit;
  options.forward_timeout = std::chrono::milliseconds(cfg_.forward_timeout_ms);
  options.max_relayed_bytes = cfg_.max_relayed_bytes;
  options.max_answer_bytes = cfg_.max_answer_bytes;
  options.hold = std::chrono::milliseconds(cfg_.hold_ms);
  options.admin_token = cfg_.admin_token;
  options.txn_timeout = std::chrono::milliseconds(cfg_.txn_timeout_ms);
  options.txn_retention = std::chrono::milliseconds(cfg_.txn_retention_ms);
  replicator_ = std::make_unique<replication::Replicator>(
      loop_.get_executor(), disk_, snapshots_, *store_, *peers_, meta_.disk_id,
      replicator_options(cfg_), [](const std::string& why) {
        // The log may sit on the disk that failed: if writing it hangs, the
        // node stops all the same.
        std::thread([] {
          std::this_thread::sleep_for(std::chrono::seconds(5));
          std::_Exit(70);
        }).detach();
        spdlog::critical("{}; stopping", why);
        // Flushed, not shut down: RocksDB's threads log through the default
        // logger (storage/rocksdb_log.h), which shutdown() would destroy under
        // them before the exit.
        spdlog::default_logger()->flush();
        std::_Exit(70);
      });
  // The same path as an operator's SIGTERM: main() waits for it and runs
  // stop(), which drains first.
  auto request_stop = [] { ::kill(::getpid(), SIGTERM); };
  peer_clocks_ =
      std::make_unique<peer::PeerClocks>(std::chrono::milliseconds(cfg_.max_clock_offset_ms));
  api_ = std::make_unique<api::ApiService>(
      api::ApiDeps{&disk_, store_.get(), replicator_.get(), peers_.get(), peer_server_.get(),
                   peer_clocks_.get(), measure_clock(), &metrics_, this, request_stop, &bulk_},
      options);
  // Parts of at most 1 MiB: a 16-MiB part took each node's loop tens of ms
  // to copy, send and parse, and held the peer connection's other traffic
  // (forwards, replication) behind it for as long.
  forwarded_ = std::make_unique<api::ForwardedRequests>(
      loop_.get_executor(), *api_, *this,
      api::ForwardedRequests::Options{
          .relayed = {.part_bytes =
                          std::min<size_t>(cfg_.max_peer_frame_bytes - NodeConfig::kFrameHeadroom,
                                           api::RelayedAnswers::kMostPartBytes),
                      .budget_bytes = cfg_.max_relayed_bytes},
          .max_peer_frame_bytes = cfg_.max_peer_frame_bytes});
  http_ = std::make_unique<api::HttpServer>(
      loop_.get_executor(), *api_,
      api::HttpOptions{
          .max_body_bytes = cfg_.max_body_bytes,
          .max_connections = descriptors_.client_connections,
          .cut_waits_after = {.idle = std::chrono::milliseconds(cfg_.reclaim_idle_ms),
                              .reading = std::chrono::milliseconds(cfg_.reclaim_slow_request_ms)}},
      &metrics_);
  txn_recovery_ = std::make_unique<api::TxnRecovery>(
      loop_.get_executor(), *api_, std::chrono::milliseconds(cfg_.txn_timeout_ms));
  std::string host;
  uint16_t port = 0;
  split_host_port(cfg_.peer_listen, &host, &port);
  peer_server_->listen(host, port);
  peer_address_ = cfg_.peer_advertise.empty() ? host + ":" + std::to_string(peer_server_->port())
                                              : cfg_.peer_advertise;
  split_host_port(cfg_.api_listen, &host, &port);
  http_->listen(host, port);
  api_address_ =
      cfg_.api_advertise.empty() ? host + ":" + std::to_string(http_->port()) : cfg_.api_advertise;
}

void Node::join_cluster() {
  parti::coord::Connection::Options o;
  o.url = cfg_.nats_url;
  o.name = "partid";
  o.access = cfg_.nats_access;
  const parti::Timings timings = libparti_timings(cfg_);
  // The same patience as libparti's own start (Manager::start) has.
  StartupRetry::Hooks patience;
  patience.sleep = [this](StartupRetry::Clock::duration d) { start_stop_.pause(d); };
  StartupRetry retry(timings.startup_timeout, timings.poll_interval, std::move(patience));
  conn_ = retry.run("connecting to NATS", [&] { return parti::coord::Connection::connect(o); });
  auto format = retry.run("opening the data format bucket", [&] {
    return upgrade::ActiveFormat::open(conn_, cfg_.cluster + "-format", loop_.get_executor(),
                                       cfg_.kv_replicas);
  });
  const uint32_t active = retry.run("reading the data format", [&] { return format->load(); });
  if (auto refusal =
          upgrade::start_refusal(storage::kStorageFormat, cfg_.preserve_format, active)) {
    throw std::runtime_error(*refusal);
  }
  auto layouts = retry.run("opening the layout bucket", [&] {
    return split::LayoutStore::open(conn_, cfg_.cluster + "-layout", loop_.get_executor(),
                                    cfg_.kv_replicas);
  });
  const routing::LayoutRecord layout =
      retry.run("reading the layout", [&] { return layouts->load(cfg_.partitions); });
  // The API reads them on the loop, so they are only ever set there.
  on_loop([&] {
    format_ = std::move(format);
    layouts_ = std::move(layouts);
  });
  parti::Config pc;
  pc.bucket_prefix = cfg_.cluster + "-";
  pc.replication_factor = cfg_.replication_factor;
  pc.kv_replicas = cfg_.kv_replicas;
  pc.capacity_weight = cfg_.weight;
  pc.api_address = api_address_;
  pc.peer_address = peer_address_;
  pc.data_format = published_format();
  pc.preferred_id = meta_.stable_id;
  // Its replicas' data follows that ID (seal registers name replicas by it).
  pc.wait_for_preferred_id = true;
  // A node with an empty disk must not take a dead node's lapsed ID: seal
  // registers name replicas by ID, so it would count towards a quorum of a
  // set whose data it does not have. Every new disk gets a new ID instead.
  pc.never_reuse_ids = true;
  pc.max_workers = 1u << 20;
  // This process holds the data directory's RocksDB lock, so the process that
  // last opened it is gone: its claim on the ID can be taken over at once.
  pc.previous_instance = meta_.instance;
  pc.instance_id = parti::random_instance_id();
  if (!cfg_.ephemeral) {
    meta_.instance = pc.instance_id;  // saved before claiming: a crash from here on is known
    auto saved = store_->save_node_metadata(meta_);
    if (!saved.ok) throw std::runtime_error("cannot save node metadata: " + saved.message);
  }
  pc.cluster_settings = {{"partitions", std::to_string(cfg_.partitions)}};
  pc.timings = timings;
  pc.staged_moves = cfg_.staged_moves;
  offered_partitions_ = layout.partitions();
  source_ = std::make_shared<parti::StaticPartitionSource>(
      parti::numbered_partitions(offered_partitions_, ""));
  progress_ =
      std::make_unique<ProgressReporter>(loop_.get_executor(), pc.timings.heartbeat_interval);
  // Clocks drift slowly: a ping per peer every five heartbeats (10 s by
  // default, 0.5 s with the tests' fast timings) is plenty.
  clock_probe_interval_ = std::clamp<std::chrono::milliseconds>(pc.timings.heartbeat_interval * 5,
                                                                std::chrono::milliseconds(500),
                                                                std::chrono::milliseconds(10000));
  // libparti logs its errors itself and counts them (coordination()).
  parti::Hooks hooks;
  hooks.refresh_record = [p = progress_.get()](parti::NodeRecord& r) { p->fill(r); };
  auto manager = std::make_unique<parti::Manager>(
      pc, conn_, source_,
      std::shared_ptr<const parti::Strategy>(parti::make_weighted_consistent_hash()), hooks);
  parti::Manager* m = manager.get();
  // The API already serves (503 until the topology is ready) and reads
  // manager_ on the loop, so the pointer is only ever set there.
  on_loop([&] { manager_ = std::move(manager); });
  start_manager(*m);
  const std::string id = m->worker_id();
  if (!cfg_.ephemeral && meta_.stable_id != id) {
    meta_.stable_id = id;
    auto saved = store_->save_node_metadata(meta_);
    if (!saved.ok) throw std::runtime_error("cannot save node metadata: " + saved.message);
  }
  // Before anything of this node's is replicated: while it preserves a
  // format, the ratchet stays there even when it is down for a while.
  if (cfg_.preserve_format != 0) {
    format_->hold(id, cfg_.preserve_format);
  } else {
    format_->release(id);
  }
  start_replication(id, retry);
  const auto interval =
      cfg_.fast_timings ? std::chrono::milliseconds(50) : std::chrono::milliseconds(200);
  on_loop([&] {
    self_ = id;
    keeper_ = std::make_unique<TopologyKeeper>(loop_.get_executor(), *m, layout, interval,
                                               [this](const routing::Topology& t) {
                                                 replicator_->on_topology(t);
                                                 api_->topology_changed();
                                               });
    keeper_->start();
    format_->follow(interval, [this] { return format_view(); });
    layouts_->follow(interval, [this](const routing::LayoutRecord& r) { on_layout(r); });
    splitter_ = std::make_unique<split::SplitDriver>(
        split::SplitDeps{loop_.get_executor(), &disk_, store_.get(), replicator_.get(), api_.get(),
                         layouts_.get(), this},
        split::SplitOptions{interval});
    splitter_->start();
  });
  await_peer_addresses(pc.timings.heartbeat_ttl);
}

// Manager::start may wait up to its startup timeout (for this node's old
// ID to be released, for an assignment); a stop asked for meanwhile stops
// the Manager, and the start ends as interrupted rather than failed.
void Node::start_manager(parti::Manager& manager) {
  start_stop_.watch(&manager);
  try {
    manager.start();  // throws StartError with the reason
  } catch (const parti::StartError&) {
    start_stop_.forget();  // StartInterrupted if a stop ended it
    throw;
  }
  start_stop_.forget();
}

// A node just started may hold the assignment before its membership watch
// has delivered every peer's record, and cannot forward to those peers until
// it has (a restarted node answered its first cluster-wide count without the
// other node's items). The ready file waits for them, at most a heartbeat
// TTL: a worker whose record has not come by then has lapsed and is being
// replaced. A stop signal ends that wait too.
void Node::await_peer_addresses(std::chrono::milliseconds patience) {
  auto known = std::make_shared<std::atomic<bool>>(false);
  on_loop([&] {
    keeper_->when_every_worker_addressable([this, known] {
      *known = true;
      start_stop_.notify();
    });
  });
  if (!start_stop_.await([&] { return known->load(); }, patience)) {
    spdlog::warn(
        "ready without every worker's record after {} ms: forwards to those workers "
        "fail until their records are read",
        patience.count());
  }
}

// Restores the replicas and opens the seal register (blocking, here on the
// starting thread), and hands them to the loop.
void Node::start_replication(const std::string& id, StartupRetry& retry) {
  auto restored = replication::Replicator::load(*store_);
  auto seals = retry.run("opening the seal register", [&] {
    return replication::SealRegister::open(conn_, cfg_.cluster + "-seals", loop_.get_executor(),
                                           cfg_.kv_replicas);
  });
  on_loop([&] {
    replicator_->start(id, std::move(restored), std::move(seals));
    progress_->start(*replicator_);
    txn_recovery_->start();
    clock_probe_ = std::make_unique<ClockProbe>(
        loop_.get_executor(), *peers_, *peer_clocks_, metrics_, id, [this] { return topology(); },
        clock_probe_interval_);
    clock_probe_->start();
  });
}

void Node::write_ready_file() const {
  if (cfg_.ready_file.empty()) return;
  const nlohmann::json j = {{"node", self_},
                            {"api", api_address_},
                            {"peer", peer_address_},
                            {"pid", static_cast<int>(getpid())},
                            {"data", data_path_}};
  const std::string tmp = cfg_.ready_file + ".tmp";
  std::ofstream(tmp) << j.dump() << "\n";
  fs::rename(tmp, cfg_.ready_file);  // readers never see a half-written file
}

void Node::on_peer_request(pb::Envelope request, peer::PeerServer::Reply reply) {
  if (request.has_ping()) {
    pb::Envelope pong;
    pong.mutable_pong()->set_node_id(self_);
    pong.mutable_pong()->set_unix_ms(api::unix_ms(std::chrono::system_clock::now()));
    reply(std::move(pong));
    return;
  }
  if (request.has_replication()) {
    replicator_->on_peer_batch(request.replication());
    return;
  }
  if (request.has_fragment()) {
    replicator_->on_fragment(request.fragment(), [reply](pb::ReplFragmentAck ack) {
      pb::Envelope envelope;
      *envelope.mutable_fragment_ack() = std::move(ack);
      reply(std::move(envelope));
    });
    return;
  }
  if (request.has_forward_more()) {
    forwarded_->serve_more(request.forward_more(), std::move(reply));
    return;
  }
  if (!request.has_forward()) {
    spdlog::debug("ignoring an unexpected peer message (case {})",
                  static_cast<int>(request.body_case()));
    return;
  }
  forwarded_->serve(std::move(*request.mutable_forward()), std::move(reply));
}

std::function<void(const std::string&, std::function<void()>)> Node::measure_clock() {
  // A ping's round trip on a working link is milliseconds; a forward's
  // timeout is a second or more.
  constexpr std::chrono::milliseconds kPatience{500};
  return [this](const std::string& node, std::function<void()> done) {
    if (!clock_probe_) {
      asio::post(loop_, std::move(done));
      return;
    }
    clock_probe_->when_measured(node, kPatience, std::move(done));
  };
}

std::shared_ptr<const routing::Topology> Node::topology() const {
  static const auto empty = std::make_shared<const routing::Topology>();
  return keeper_ ? keeper_->current() : empty;
}

bool Node::locked(uint32_t partition) const {
  return replicator_ && replicator_->held_for_handoff(partition);
}

bool Node::serving() const {
  if (stopped_ || !manager_ || !topology()->ready()) return false;
  const auto state = manager_->state();
  return state != parti::ManagerState::Degraded && state != parti::ManagerState::Shutdown;
}

uint32_t Node::published_format() const {
  return upgrade::published_format(storage::kStorageFormat, cfg_.preserve_format);
}

upgrade::FormatView Node::format_view() const {
  const auto t = topology();
  return {storage::kStorageFormat, cfg_.preserve_format, format_ ? format_->current() : 0,
          t->ready() ? t->lowest_format() : 0, t->ready() ? t->lowest_known_format() : 0};
}

void Node::on_layout(const routing::LayoutRecord& record) {
  spdlog::info("layout: {} partitions (base {}){}", record.layout.count, record.layout.base,
               record.split
                   ? fmt::format(", a {} of {} into {} ({})",
                                 routing::kind_name(record.split->kind), record.split->source,
                                 record.split->target, routing::phase_name(record.split->phase))
                   : std::string());
  // libparti recomputes its assignment on a refresh: only when the set of
  // partitions changed (most records change only a split's phase).
  if (record.partitions() != offered_partitions_) {
    offered_partitions_ = record.partitions();
    source_->update(parti::numbered_partitions(offered_partitions_, ""));
    if (manager_) manager_->refresh_partitions();
  }
  if (keeper_) keeper_->set_layout(record);
}

void Node::begin_split(routing::SplitPlan::Kind kind, SplitBegun done) {
  if (!layouts_) return done(std::string("the node has not joined the cluster yet"));
  layouts_->change(
      [kind](const routing::LayoutRecord& r) -> std::variant<routing::LayoutRecord, std::string> {
        std::string why;
        const bool merge = kind == routing::SplitPlan::Kind::Merge;
        if (auto next = merge ? r.begin_merge(&why) : r.begin_split(&why)) return *next;
        return why;
      },
      std::move(done));
}

uint32_t Node::writable_format() const { return upgrade::writable_format(format_view()); }

void Node::raise_format(std::function<void()> done) {
  const auto target = upgrade::raise_target(format_view());
  if (!format_ || !target) return done();
  format_->raise(*target, std::move(done));
}

nlohmann::json Node::format_json() const {
  const upgrade::FormatView v = format_view();
  return {{"build", v.build},
          {"published", published_format()},
          {"cluster_active", v.active},
          {"lowest_live", v.lowest_live},
          {"lowest_known", v.lowest_known},
          {"writable", upgrade::writable_format(v)}};
}

nlohmann::json Node::describe() const {
  const auto t = topology();
  const auto moving = replicator_ ? moving_partitions(replicator_->statuses()) : MovingPartitions{};
  return {{"node", self_},
          {"state", manager_ ? parti::to_string(manager_->state()) : "Init"},
          {"is_leader", manager_ && manager_->is_leader()},
          {"assignment_version", t->version},
          {"cluster", cfg_.cluster},
          {"partitions", cfg_.partitions},
          {"replication_factor", cfg_.replication_factor},
          {"api", api_address_},
          {"peer", peer_address_},
          {"ephemeral", cfg_.ephemeral},
          {"locked_partitions", moving.locked},
          {"importing_partitions", moving.importing},
          {"migrating_partitions", moving.migrating},
          {"data_format", format_json()}};
}

api::ClusterView::Coordination Node::coordination() const {
  Coordination c;
  if (manager_) {
    c.counters = manager_->stats();
    c.state = manager_->state();
    c.coordinator = manager_->is_leader();
  }
  if (layouts_) c.counters.watch_renewals += layouts_->watch_renewals();
  c.assignment_version = topology()->version;
  return c;
}

// The clean leave (DESIGN 4.5). Marked Leaving, this node is no longer a
// worker for the coordinator, which moves its partitions to the others while
// it still runs: it keeps answering their sealing and serves them its log or a
// snapshot. It stays until no partition's seal register names it (no later
// sealing can need its data), so even a partition with one replica moves
// without loss; or until no other node is left to take over, or the timeout.
void Node::drain() {
  if (cfg_.drain_timeout_ms == 0) return;
  manager_->update_record([](parti::NodeRecord& r) { r.state = parti::NodeState::Leaving; });
  spdlog::info("leaving: waiting for the other nodes to take over this node's partitions");
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg_.drain_timeout_ms);
  std::vector<uint32_t> named;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!others_remain()) {
      spdlog::info("leaving: no other node remains to take over");
      if (cfg_.ephemeral) withdraw_from_registers();
      return;
    }
    if (auto still =
            ask_replicator(&replication::Replicator::sealed_with_self, std::chrono::seconds(2))) {
      if (still->empty()) {
        spdlog::info("leaving: every partition has been taken over");
        return;
      }
      named = std::move(*still);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the registers change remotely
  }
  spdlog::warn("leaving after the drain timeout: partitions [{}] may still need this node",
               fmt::join(named, ", "));
}

// An ephemeral node's data goes with it. Leaving last, it has handed its
// partitions to nobody, so the registers that name it would keep any later
// node from sealing them (its ID is never reused): it takes itself out, and a
// restarted ephemeral cluster starts empty, as it would have anyway.
void Node::withdraw_from_registers() {
  auto withdrawn =
      ask_replicator(&replication::Replicator::withdraw_from_registers, std::chrono::seconds(5));
  if (!withdrawn) {
    spdlog::warn(
        "leaving: not every seal register answered; a restarted node may need "
        "drop-lost-replicas");
    return;
  }
  spdlog::info("leaving: withdrew from the seal registers of {} partition(s)", withdrawn->size());
}

bool Node::others_remain() const {
  for (const auto& r : manager_->members()) {
    if (r.id != self_ && r.state != parti::NodeState::Leaving) return true;
  }
  return false;
}

std::optional<std::vector<uint32_t>> Node::ask_replicator(
    void (replication::Replicator::*ask)(std::function<void(std::vector<uint32_t>)>),
    std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<std::promise<std::vector<uint32_t>>>();
  auto future = promise->get_future();
  asio::post(loop_, [this, ask, promise] {
    ((*replicator_).*ask)(
        [promise](std::vector<uint32_t> partitions) { promise->set_value(std::move(partitions)); });
  });
  if (future.wait_for(timeout) != std::future_status::ready) return std::nullopt;
  return future.get();
}

void Node::stop() {
  if (stopped_) return;
  if (started_ && manager_) drain();
  stopped_ = true;
  if (started_) {
    on_loop([&] {
      if (http_) http_->stop();
      if (peer_server_) peer_server_->stop();
    });
  }
  if (manager_) manager_->stop();  // leaves the cluster: deletes our keys
  if (started_) {
    on_loop([&] {
      if (splitter_) splitter_->stop();
      if (layouts_) layouts_->stop();
      if (keeper_) keeper_->stop();
      if (format_) format_->stop();
      if (progress_) progress_->stop();
      if (clock_probe_) clock_probe_->stop();
      if (txn_recovery_) txn_recovery_->stop();
      if (replicator_) replicator_->stop();
      if (peers_) peers_->stop();
    });
    loop_.stop();
    loop_thread_.join();
  }
  // Builds in progress finish; those queued behind them are dropped (a build
  // of a large partition takes seconds, and nothing would send them now).
  snapshots_.stop();
  snapshots_.join();
  disk_.join();  // the write on disk finishes
  bulk_.join();
  replicator_.reset();
  store_.reset();
  if (cfg_.ephemeral && !data_path_.empty()) {
    std::error_code ec;
    fs::remove_all(data_path_, ec);
  }
}

}  // namespace partid::node
