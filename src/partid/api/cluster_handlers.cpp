// api: the cluster and node routes of ApiService: topology, status, health,
// metrics, item counts and the dashboard, and the fan-out to every node that
// the cluster-wide counts and the resize progress share.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <fstream>

#include "partid/api/api_service.h"
#include "partid/api/json_out.h"
#include "partid/api/read_between_writes.h"
#include "partid/api/resize_guard.h"
#include "partid/async_bridge.h"
#include "partid/peer/peer_auth.h"

namespace partid::api {
namespace {

using nlohmann::json;

// The process's resident set, from the kernel's own count (procfs is read
// from memory, never from a disk); 0 where there is none.
uint64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

const char* kDashboard = R"(<!doctype html>
<html><head><meta charset="utf-8"><title>partid</title>
<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;text-align:left}</style>
</head><body><h1>partid</h1><div id="t">loading...</div>
<script>
fetch('/cluster/topology').then(r=>r.json()).then(t=>{
  let h='<p>assignment v'+t.version+', '+t.partitions+' partitions, RF '+t.replication_factor+'</p>';
  h+='<table><tr><th>node</th><th>api</th><th>state</th><th>leads</th><th>holds</th></tr>';
  for(const n of t.nodes){h+='<tr><td>'+n.id+'</td><td>'+n.api+'</td><td>'+n.state+
    '</td><td>'+n.leads+'</td><td>'+n.holds+'</td></tr>';}
  document.getElementById('t').innerHTML=h+'</table>';});
</script></body></html>
)";

}  // namespace

ApiResponse ApiService::topology() const {
  const auto t = deps_.cluster->topology();
  if (!t->ready()) {
    return ApiResponse::error(WebError::no_topology_yet());
  }
  std::map<std::string, std::pair<int, int>> load;  // node -> leads, holds
  json partitions = json::array();
  for (uint32_t p = 0; p < t->partitions; ++p) {
    const auto& replicas = t->replicas[p];
    ++load[replicas.front()].first;
    for (const auto& r : replicas) ++load[r].second;
    partitions.push_back({{"partition", p}, {"replicas", replicas}, {"epoch", t->leader_epoch[p]}});
  }
  json nodes = json::array();
  for (const auto& id : t->known_nodes()) {
    const routing::NodeAddress* addr = t->address_of(id);
    const bool heard = t->nodes.contains(id);
    nodes.push_back({{"id", id},
                     {"api", addr ? addr->api : ""},
                     {"peer", addr ? addr->peer : ""},
                     // A worker whose record was lost: "unheard", at its last known address.
                     {"state", heard ? parti::to_string(addr->state) : "unheard"},
                     {"avoids_leading", addr && addr->avoids_leading},
                     {"leads", load[id].first},
                     {"holds", load[id].second}});
  }
  return ApiResponse::json(200, dump({{"version", t->version},
                                      {"partitions", t->partitions},
                                      {"layout", layout_json(t->layout)},
                                      {"replication_factor", t->replication_factor},
                                      {"interim", t->interim},
                                      {"nodes", nodes},
                                      {"assignment", partitions}}));
}

namespace {

const char* role_name(replication::core::Role role) {
  switch (role) {
    case replication::core::Role::leader:
      return "leader";
    case replication::core::Role::sealing:
      return "sealing";
    case replication::core::Role::follower:
      return "follower";
  }
  return "follower";
}

json coordination_json(const parti::CoordinationStats& c) {
  return {{"errors", c.errors},
          {"heartbeats_failed", c.heartbeats_failed},
          {"heartbeat_lapses", c.heartbeat_lapses},
          {"id_reclaims", c.id_reclaims},
          {"leaderships_won", c.leaderships_won},
          {"watch_renewals", c.watch_renewals}};
}

}  // namespace

ApiResponse ApiService::status() const {
  json out = deps_.cluster->describe();
  json parts = json::array();
  for (const auto& s : deps_.replicator->statuses()) {
    if (!s.active && s.handoff.empty()) continue;
    parts.push_back({{"partition", s.partition},
                     {"role", role_name(s.role)},
                     {"leader", s.leader},
                     {"epoch", s.epoch},
                     {"promised_epoch", s.promised_epoch},
                     {"last_sequence", s.last},
                     {"watermark", s.watermark},
                     {"replication_lag", s.lag},
                     {"buffered", s.buffered},
                     {"rebuilding", s.rebuilding},
                     {"waits_for_data", s.waits_for_data},
                     {"serving", s.serving},
                     {"stalled_seconds", s.stalled_seconds}});
    if (!s.followers.empty()) {
      json followers = json::array();
      for (const auto& f : s.followers) {
        followers.push_back({{"node", f.node},
                             {"match", f.match},
                             {"behind", s.last - std::min(f.match, s.last)},
                             {"stalled_seconds", f.stalled_seconds}});
      }
      parts.back()["followers"] = std::move(followers);
    }
    if (!s.handoff.empty()) {
      parts.back()["handoff"] = {
          {"state", s.handoff}, {"epoch", s.handoff_epoch}, {"from", s.handoff_from}};
    }
  }
  out["partitions"] = parts;
  const auto st = deps_.replicator->stats();
  out["replication"] = {{"committed_writes", st.committed_writes},
                        {"failed_writes", st.failed_writes},
                        {"pending_writes", st.pending_writes},
                        {"leaderships_taken", st.leaderships_taken},
                        {"failovers", st.failovers},
                        {"last_failover_seconds", st.last_failover_seconds},
                        {"handoffs_timed_out", st.handoffs_timed_out},
                        {"catch_up_requests", st.sync_requests},
                        {"snapshots_sent", st.snapshots_sent},
                        {"snapshots_too_large", st.snapshots_too_large},
                        {"snapshot_builds_deferred", st.snapshot_builds_deferred},
                        {"snapshot_bytes_held", st.snapshot_bytes_held},
                        {"fragmented_transfers", st.transfers_started},
                        {"fragmented_transfers_abandoned", st.transfers_abandoned},
                        {"fragmented_transfers_waited_busy", st.transfers_waited_busy},
                        {"fragmented_transfers_turned_away", st.transfers_turned_away},
                        {"snapshot_bytes_receiving", st.snapshot_bytes_receiving},
                        {"log_held_bytes", st.log_held_bytes},
                        {"log_holds_released", st.log_holds_released},
                        {"disk_writes", st.disk_writes},
                        {"disk_write_steps", st.disk_write_steps},
                        {"snapshot_installs_ingested", st.installs_ingested},
                        {"snapshot_installs_sorted", st.installs_sorted},
                        {"disk_slow", st.disk_slow},
                        {"disk_write_median_seconds", st.disk_write_median_seconds},
                        {"read_rounds", st.read_rounds},
                        {"reads_unconfirmed", st.reads_unconfirmed}};
  out["coordination"] = coordination_json(deps_.cluster->coordination().counters);
  return ApiResponse::json(200, dump(out));
}

ApiResponse ApiService::health() const {
  json out = deps_.cluster->describe();
  const bool ok = deps_.cluster->serving();
  out["status"] = ok ? "ok" : "unavailable";
  ApiResponse r = ApiResponse::json(ok ? 200 : 503, dump(out));
  if (!ok) r.retry_after_s = 1;
  return r;
}

asio::awaitable<ApiResponse> ApiService::metrics() {
  const auto item_counts = co_await read_counts();
  std::string out = deps_.metrics->render_requests();
  const auto st = deps_.replicator->stats();
  auto counter = [&](const char* name, double value, const char* type = "counter") {
    out += std::string("# TYPE ") + name + " " + type + "\n";
    deps_.metrics->gauge(out, name, "", value);
  };
  counter("partid_replicated_writes_total", static_cast<double>(st.committed_writes));
  counter("partid_failed_writes_total", static_cast<double>(st.failed_writes));
  counter("partid_pending_writes", static_cast<double>(st.pending_writes), "gauge");
  counter("partid_leaderships_taken_total", static_cast<double>(st.leaderships_taken));
  counter("partid_failovers_total", static_cast<double>(st.failovers));
  counter("partid_failover_seconds_sum", st.failover_seconds_sum);
  counter("partid_last_failover_seconds", st.last_failover_seconds, "gauge");
  counter("partid_catch_up_requests_total", static_cast<double>(st.sync_requests));
  counter("partid_snapshots_sent_total", static_cast<double>(st.snapshots_sent));
  counter("partid_snapshots_too_large_total", static_cast<double>(st.snapshots_too_large));
  counter("partid_snapshot_builds_deferred_total",
          static_cast<double>(st.snapshot_builds_deferred));
  counter("partid_snapshot_bytes_held", static_cast<double>(st.snapshot_bytes_held), "gauge");
  counter("partid_fragmented_transfers_total", static_cast<double>(st.transfers_started));
  counter("partid_fragmented_transfers_abandoned_total",
          static_cast<double>(st.transfers_abandoned));
  counter("partid_fragmented_transfers_waited_busy_total",
          static_cast<double>(st.transfers_waited_busy));
  counter("partid_fragmented_transfers_turned_away_total",
          static_cast<double>(st.transfers_turned_away));
  counter("partid_snapshot_bytes_receiving", static_cast<double>(st.snapshot_bytes_receiving),
          "gauge");
  counter("partid_log_held_bytes", static_cast<double>(st.log_held_bytes), "gauge");
  counter("partid_log_holds_released_total", static_cast<double>(st.log_holds_released));
  counter("partid_handoffs_sent_total", static_cast<double>(st.handoffs_sent));
  counter("partid_handoffs_received_total", static_cast<double>(st.handoffs_received));
  counter("partid_handoffs_timed_out_total", static_cast<double>(st.handoffs_timed_out));
  counter("partid_buffer_overflows_total", static_cast<double>(st.buffer_overflows));
  counter("partid_refused_stale_messages_total", static_cast<double>(st.refused));
  counter("partid_replication_messages_sent_total", static_cast<double>(st.messages_sent));
  counter("partid_replication_messages_dropped_total", static_cast<double>(st.messages_dropped));
  counter("partid_bad_peer_messages_total", static_cast<double>(st.bad_messages));
  counter("partid_peer_messages_outside_topology_total",
          static_cast<double>(st.messages_outside_topology));
  counter("partid_peer_messages_from_unknown_nodes_total",
          static_cast<double>(st.unknown_sender_messages));
  counter("partid_peer_messages_ahead_of_topology_total",
          static_cast<double>(st.messages_ahead_of_topology));
  counter("partid_peer_messages_not_from_leader_total",
          static_cast<double>(st.messages_not_from_leader));
  counter("partid_early_seals_delivered_total", static_cast<double>(st.early_seals_delivered));
  counter("partid_disk_writes_total", static_cast<double>(st.disk_writes));
  counter("partid_disk_write_steps_total", static_cast<double>(st.disk_write_steps));
  counter("partid_snapshot_installs_ingested_total", static_cast<double>(st.installs_ingested));
  counter("partid_snapshot_installs_sorted_total", static_cast<double>(st.installs_sorted));
  counter("partid_read_rounds_total", static_cast<double>(st.read_rounds));
  counter("partid_reads_unconfirmed_total", static_cast<double>(st.reads_unconfirmed));
  counter("partid_disk_slow", st.disk_slow ? 1.0 : 0.0, "gauge");
  counter("partid_disk_write_median_seconds", st.disk_write_median_seconds, "gauge");
  counter("partid_stalled_partitions", static_cast<double>(st.stalled_partitions), "gauge");
  counter("partid_lagging_followers", static_cast<double>(st.lagging_followers), "gauge");
  counter("partid_peer_circuits_opened_total", static_cast<double>(deps_.peers->circuits_opened()));
  // libparti's coordination: rates worth an alert (heartbeats NATS does not
  // take, a watch an audit had to make again) and who coordinates.
  const ClusterView::Coordination coord = deps_.cluster->coordination();
  const parti::CoordinationStats& n = coord.counters;
  counter("partid_coordination_errors_total", static_cast<double>(n.errors));
  counter("partid_coordination_heartbeats_failed_total", static_cast<double>(n.heartbeats_failed));
  counter("partid_coordination_heartbeat_lapses_total", static_cast<double>(n.heartbeat_lapses));
  counter("partid_coordination_id_reclaims_total", static_cast<double>(n.id_reclaims));
  counter("partid_coordination_leaderships_won_total", static_cast<double>(n.leaderships_won));
  counter("partid_coordination_watch_renewals_total", static_cast<double>(n.watch_renewals));
  counter("partid_coordinator", coord.coordinator ? 1.0 : 0.0, "gauge");
  counter("partid_assignment_version", static_cast<double>(coord.assignment_version), "gauge");
  // One series per lifecycle state, 1 for the one the worker is in.
  out += "# TYPE partid_coordination_state gauge\n";
  for (int i = 0; i <= static_cast<int>(parti::ManagerState::Shutdown); ++i) {
    const auto state = static_cast<parti::ManagerState>(i);
    deps_.metrics->gauge(out, "partid_coordination_state",
                         std::string("state=\"") + parti::to_string(state) + "\"",
                         state == coord.state ? 1.0 : 0.0);
  }
  if (deps_.peer_server) {
    // Refused handshakes (another cluster, protocol or secret), garbage and
    // handshakes not finished in time: an operator's first sign of a stranger.
    counter("partid_peer_connections_refused_total",
            static_cast<double>(deps_.peer_server->rejected_connections()));
  }
  const storage::StoreMemory memory = deps_.store->memory();
  counter("partid_rocksdb_memtable_bytes", static_cast<double>(memory.memtables), "gauge");
  counter("partid_rocksdb_block_cache_bytes", static_cast<double>(memory.block_cache), "gauge");
  counter("partid_rocksdb_table_readers_bytes", static_cast<double>(memory.table_readers), "gauge");
  counter("process_resident_memory_bytes", static_cast<double>(resident_bytes()), "gauge");
  const json counts = local_counts(item_counts);
  out += "# TYPE partid_partition_items gauge\n";
  for (const auto& [p, n] : counts["partitions"].items()) {
    deps_.metrics->gauge(out, "partid_partition_items", "partition=\"" + p + "\"", n.get<double>());
  }
  const auto statuses = deps_.replicator->statuses();
  double pending_txns = 0;
  for (const auto& s : statuses) {
    auto meta = s.active ? deps_.store->cached_partition_meta(s.partition) : std::nullopt;
    pending_txns += meta ? static_cast<double>(meta->pending_txns) : 0;
  }
  // Transactions prepared in the replicas held here and not resolved yet.
  counter("partid_txn_pending", pending_txns, "gauge");
  auto per_partition = [&](const char* name, auto value_of) {
    out += std::string("# TYPE ") + name + " gauge\n";
    for (const auto& s : statuses) {
      if (!s.active) continue;
      deps_.metrics->gauge(out, name, "partition=\"" + std::to_string(s.partition) + "\"",
                           static_cast<double>(value_of(s)));
    }
  };
  per_partition("partid_partition_watermark", [](const auto& s) { return s.watermark; });
  per_partition("partid_replication_lag", [](const auto& s) { return s.lag; });
  per_partition("partid_replication_buffered", [](const auto& s) { return s.buffered; });
  per_partition("partid_partition_stalled_seconds",
                [](const auto& s) { return s.stalled_seconds; });
  ApiResponse r = ApiResponse::json(200, std::move(out));
  r.content_type = "text/plain; version=0.0.4";
  co_return r;
}

std::variant<uint32_t, WebError> ApiService::admin_partition(const ApiRequest& request,
                                                             const Route& route) const {
  if (auto refused = admin_refusal(request, options_.admin_token)) return *refused;
  if (!deps_.cluster->topology()->ready()) return WebError::no_topology_yet();
  const auto p = parse_u64(route.partition_key);
  if (!p || *p >= deps_.cluster->topology()->partitions) {
    return WebError::bad_request("bad_partition", "no such partition");
  }
  return static_cast<uint32_t>(*p);
}

asio::awaitable<ApiResponse> ApiService::admin(const ApiRequest& request, const Route& route) {
  const auto named = admin_partition(request, route);
  if (const auto* e = std::get_if<WebError>(&named)) co_return ApiResponse::error(*e);
  const uint32_t partition = std::get<uint32_t>(named);
  uint64_t seq = 0;
  if (!query_u64(route, "seq", &seq)) {
    co_return ApiResponse::error(WebError::bad_request("bad_seq", "seq must be an integer"));
  }
  replication::Replicator* replicator = deps_.replicator;
  const std::string* operation = &route.range_key;
  const auto result = co_await await_callback<replication::AdminResult>(
      [replicator, partition, operation, seq](std::function<void(replication::AdminResult)> done) {
        replicator->admin(partition, *operation, seq, std::move(done));
      });
  if (result.error && result.conflict) {
    co_return ApiResponse::error(WebError::conflict("admin_conflict", *result.error));
  }
  if (result.error) {
    co_return ApiResponse::error(WebError::bad_request("admin_refused", *result.error));
  }
  deps_.metrics->count("partid_admin_operations_total");
  json out = {{"partition", partition}, {"operation", route.range_key}};
  if (route.range_key == "drop-lost-replicas") out["dropped"] = result.dropped;
  for (const auto& s : deps_.replicator->statuses()) {
    if (s.partition != partition) continue;
    out["role"] = role_name(s.role);
    out["epoch"] = s.epoch;
    out["watermark"] = s.watermark;
    out["last_sequence"] = s.last;
  }
  co_return ApiResponse::json(200, dump(out));
}

// DESIGN 4.5's drain of a named node: asked anywhere, carried to that node
// (with the caller's token, which it checks too), which answers 202 and then
// leaves cleanly: it stays until the others serve everything it held. The
// node asked first applies the resize guard (resize_guard.h) unless forced.
asio::awaitable<ApiResponse> ApiService::drain(const ApiRequest& request, const Route& route,
                                               const Hop& hop) {
  if (auto refused = admin_refusal(request, options_.admin_token))
    co_return ApiResponse::error(*refused);
  bool force = false;
  if (!query_flag(route, "force", &force)) {
    co_return ApiResponse::error(WebError::bad_request("bad_force", "force must be true or false"));
  }
  if (hop.hops == 0 && !force) {
    if (!deps_.cluster->topology()->ready()) {
      co_return ApiResponse::error(WebError::no_topology_yet());
    }
    json mine = co_await local_progress();
    const json summary = co_await cluster_progress(std::move(mine), hop);
    if (auto busy = resize_in_progress(summary)) {
      co_return ApiResponse::error(WebError::conflict("resize_in_progress", *busy));
    }
  }
  const std::string& node = route.partition_key;
  if (node != deps_.cluster->self()) {
    const auto topo = deps_.cluster->topology();
    const auto* address = topo->address_of(node);
    if (!address || address->peer.empty()) {
      co_return ApiResponse::error(WebError::not_found("no node " + node + " in the cluster"));
    }
    if (hop.hops >= options_.hop_limit) {
      co_return ApiResponse::error(
          WebError::unavailable("hop_limit", "request forwarded too many times"));
    }
    routing::RouteDecision to;
    to.kind = routing::RouteDecision::Kind::Forward;
    to.node = node;
    to.peer_address = address->peer;
    co_return co_await router_.forward(to, request.method, request.target, request.body, hop,
                                       request.authorization);
  }
  if (!deps_.request_stop) {
    co_return ApiResponse::error(WebError::internal("this node cannot be stopped remotely"));
  }
  spdlog::info("drain requested over the API");
  deps_.request_stop();
  deps_.metrics->count("partid_admin_operations_total");
  co_return ApiResponse::json(202, dump({{"node", node}, {"draining", true}}));
}

ApiResponse ApiService::dashboard() const {
  ApiResponse r = ApiResponse::json(200, kDashboard);
  r.content_type = "text/html; charset=utf-8";
  return r;
}

asio::awaitable<std::map<uint32_t, int64_t>> ApiService::read_counts() {
  storage::StoreEngine* store = deps_.store;
  // Every write rewrites its partition's metadata: a scan of all of them meets
  // the one being written (ThreadSanitizer reported it while /metrics was
  // polled under writes), so it waits for a gap between writes. One key per
  // partition: the writes wait well under a millisecond.
  co_return co_await read_between_writes(deps_.replicator, [store] {
    std::map<uint32_t, int64_t> out;
    for (const auto& [p, meta] : store->all_partition_meta()) out[p] = meta.item_count;
    return out;
  });
}

json ApiService::local_counts(const std::map<uint32_t, int64_t>& item_counts) const {
  json partitions = json::object();
  int64_t total = 0;
  const auto t = deps_.cluster->topology();
  const std::string& self = deps_.cluster->self();
  for (uint32_t p = 0; p < t->partitions && t->ready(); ++p) {
    if (t->replicas[p].front() != self) continue;
    auto it = item_counts.find(p);
    const int64_t n = it == item_counts.end() ? 0 : it->second;
    partitions[std::to_string(p)] = n;
    total += n;
  }
  return {{"node", self}, {"partitions", partitions}, {"total", total}};
}

std::optional<WebError> ApiService::scope_error(const Route& route) {
  auto it = route.query.find("scope");
  if (it == route.query.end() || it->second == "node" || it->second == "cluster") {
    return std::nullopt;
  }
  return WebError::bad_request("bad_scope", "scope is 'node' or 'cluster'");
}

bool ApiService::node_scope(const Route& route) {
  auto it = route.query.find("scope");
  return it != route.query.end() && it->second == "node";
}

asio::awaitable<ApiService::NodeReports> ApiService::ask_every_node(const std::string& target,
                                                                    const Hop& hop,
                                                                    const char* required) {
  NodeReports out;
  const auto t = deps_.cluster->topology();
  for (const auto& id : t->known_nodes()) {
    if (id == deps_.cluster->self()) continue;
    const routing::NodeAddress* addr = t->address_of(id);
    if (!addr) {
      out.unreachable.push_back(id);
      continue;
    }
    routing::RouteDecision to;
    to.kind = routing::RouteDecision::Kind::Forward;
    to.node = id;
    to.peer_address = addr->peer;
    const std::string method = "GET", body;
    ApiResponse r = co_await router_.forward(to, method, target, body, hop);
    json j = json::parse(r.body, nullptr, false);
    if (r.status != 200 || !j.is_object() || !j.contains(required)) {
      out.unreachable.push_back(id);
      continue;
    }
    out.answers[id] = std::move(j);
  }
  co_return out;
}

asio::awaitable<ApiResponse> ApiService::counts(const Route& route, const Hop& hop) {
  const auto t = deps_.cluster->topology();
  if (!t->ready()) {
    co_return ApiResponse::error(WebError::no_topology_yet());
  }
  if (auto e = scope_error(route)) co_return ApiResponse::error(*e);
  const auto item_counts = co_await read_counts();
  json mine = local_counts(item_counts);
  if (node_scope(route)) co_return ApiResponse::json(200, dump(mine));
  // Cluster scope: every other node's own counts, asked over the peer transport.
  NodeReports reports = co_await ask_every_node("/items?scope=node", hop, "total");
  json nodes = json::array({mine});
  int64_t total = mine["total"].get<int64_t>();
  for (auto& [id, j] : reports.answers) {
    total += j["total"].get<int64_t>();
    nodes.push_back(std::move(j));
  }
  co_return ApiResponse::json(
      200, dump({{"total", total}, {"nodes", nodes}, {"unreachable", reports.unreachable}}));
}

}  // namespace partid::api
