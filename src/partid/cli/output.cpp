#include "partid/cli/output.h"

#include <fmt/format.h>

#include <vector>

namespace partid::cli {

using nlohmann::json;

std::string render_item(const json& j) {
  return fmt::format("{}{} = {}  (partition {}, seq {})\n", j.value("partition_key", ""),
                     j.value("range_key", "").empty() ? "" : "/" + j.value("range_key", ""),
                     j.value("message", ""), j.value("partition", 0), j.value("sequence", 0));
}

std::string render_items(const json& j) {
  std::string out = fmt::format("{} (partition {}): {} item(s)\n", j.value("partition_key", ""),
                                j.value("partition", 0), j["items"].size());
  for (const auto& it : j["items"]) {
    out += fmt::format("  {:<24} {}  (seq {})\n",
                       it.value("range_key", "").empty() ? "-" : it.value("range_key", ""),
                       it.value("message", ""), it.value("sequence", 0));
  }
  if (j.contains("next")) {
    out += fmt::format("  more after {} (--after with it, or --all)\n", j["next"].dump());
  }
  return out;
}

std::string render_write(const json& j) {
  if (j.contains("results")) {
    return fmt::format("wrote {} item(s)\n", j["results"].size());
  }
  return fmt::format("{} {} (partition {}, seq {})\n",
                     j.value("deleted", false) ? "deleted" : "wrote", j.value("partition_key", ""),
                     j.value("partition", 0), j.value("sequence", 0));
}

std::string render_txn(const json& j) {
  std::string partitions;
  for (const auto& p : j.value("partitions", json::array())) {
    partitions += (partitions.empty() ? "" : ", ") + std::to_string(p.get<uint32_t>());
  }
  std::string out =
      fmt::format("transaction {} {}: {} write(s) in partition(s) {}\n", j.value("txn", ""),
                  j.value("state", ""), j.value("writes", 0), partitions);
  if (j.value("unresolved_partitions", 0) > 0) {
    out += fmt::format("  {} partition(s) not resolved yet: recovery finishes them\n",
                       j.value("unresolved_partitions", 0));
  }
  return out;
}

std::string render_txn_status(const json& j) {
  return fmt::format("transaction {}: {} (home partition {})\n", j.value("txn", ""),
                     j.value("state", ""), j.value("home", 0));
}

std::string render_counts(const json& j) {
  std::string out = fmt::format("{} item(s) in total\n", j.value("total", 0));
  for (const auto& n : j["nodes"]) {
    out += fmt::format("  {:<10} {:>8} item(s) in {} led partition(s)\n", n.value("node", ""),
                       n.value("total", 0), n["partitions"].size());
  }
  for (const auto& u : j.value("unreachable", json::array())) {
    out += fmt::format("  {:<10} unreachable\n", u.get<std::string>());
  }
  return out;
}

std::string render_topology(const json& j) {
  std::string out =
      fmt::format("assignment v{}: {} partitions, replication factor {}\n", j.value("version", 0),
                  j.value("partitions", 0), j.value("replication_factor", 0));
  if (j.contains("layout") && j["layout"].is_object()) {
    const json& l = j["layout"];
    out += fmt::format("layout: {} partitions over base {} (linear hashing)", l.value("count", 0),
                       l.value("base", 0));
    if (l.contains("split")) {
      const json& s = l["split"];
      const bool merge = s.value("kind", "") == "merge";
      out += fmt::format("; {} {} into {} ({})", merge ? "merging" : "splitting",
                         s.value("source", 0), s.value("target", 0), s.value("phase", ""));
    }
    out += "\n";
  }
  out += fmt::format("  {:<10} {:<22} {:<22} {:<8} {:>6} {:>6}\n", "node", "api", "peer", "state",
                     "leads", "holds");
  for (const auto& n : j["nodes"]) {
    out += fmt::format("  {:<10} {:<22} {:<22} {:<8} {:>6} {:>6}", n.value("id", ""),
                       "http://" + n.value("api", ""), n.value("peer", ""), n.value("state", ""),
                       n.value("leads", 0), n.value("holds", 0));
    out += n.value("avoids_leading", false) ? "  disk slow: asks not to lead\n" : "\n";
  }
  return out;
}

std::string byte_size(uint64_t bytes) {
  constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, kUnits[unit]);
}

namespace {

// What went wrong with this node's coordination since it started, said only
// when something did: heartbeats NATS did not take, its ID lost, a KV watch
// an audit found stuck.
std::string render_coordination_trouble(const json& c) {
  const auto failed = c.value("heartbeats_failed", uint64_t{0});
  const auto lapses = c.value("heartbeat_lapses", uint64_t{0});
  const auto reclaims = c.value("id_reclaims", uint64_t{0});
  const auto renewals = c.value("watch_renewals", uint64_t{0});
  if (failed + lapses + reclaims + renewals == 0) return "";
  return fmt::format(
      "  coordination since start: {} heartbeat(s) NATS did not take, {} lapse(s) of a whole "
      "TTL, {} stable-ID reclaim(s), {} stuck watch(es) made again\n",
      failed, lapses, reclaims, renewals);
}

}  // namespace

std::string render_status(const json& j) {
  size_t leading = 0, serving = 0;
  std::vector<uint32_t> waiting;
  const json partitions = j.value("partitions", json::array());
  for (const auto& p : partitions) {
    leading += p.value("role", "") == "leader" ? 1 : 0;
    serving += p.value("serving", false) ? 1 : 0;
    if (p.value("waits_for_data", false)) waiting.push_back(p.value("partition", 0u));
  }
  const json r =
      j.contains("replication") && j["replication"].is_object() ? j["replication"] : json::object();
  std::string out = fmt::format(
      "{}: {}{} (assignment v{}), {} partition(s) held, {} led, {} serving; {} replicated "
      "write(s), {} failed, {} pending; {} leadership(s) taken, {} of them failover(s); {} "
      "catch-up request(s); locked {}\n",
      j.value("node", ""), j.value("state", ""),
      j.value("is_leader", false) ? ", cluster leader" : "", j.value("assignment_version", 0),
      partitions.size(), leading, serving, r.value("committed_writes", 0),
      r.value("failed_writes", 0), r.value("pending_writes", 0), r.value("leaderships_taken", 0),
      r.value("failovers", 0), r.value("catch_up_requests", 0),
      j.value("locked_partitions", json::array()).dump());
  // What a node being rebuilt, or rebuilding others, is doing: said only
  // while it is, so a settled node's status stays one line.
  if (!waiting.empty()) {
    out += fmt::format("  waiting for data (a catch-up or a snapshot asked for): {}\n",
                       json(waiting).dump());
  }
  const uint64_t built = r.value("snapshot_bytes_held", uint64_t{0});
  const uint64_t receiving = r.value("snapshot_bytes_receiving", uint64_t{0});
  if (built > 0 || receiving > 0) {
    out += fmt::format("  snapshots: {} built and not yet delivered, {} being received\n",
                       byte_size(built), byte_size(receiving));
  }
  out += render_coordination_trouble(j.value("coordination", json::object()));
  return out;
}

std::string render_resize(const json& j) {
  const json moving = j.value("moving", json::array());
  std::string out = fmt::format(
      "assignment v{}: {}/{} partitions settled, {} moving, {} entries ({}) behind{}\n",
      j.value("assignment_version", 0), j.value("settled", 0), j.value("partitions", 0),
      moving.size(), j.value("entries_behind", 0), byte_size(j.value("bytes_behind", uint64_t{0})),
      j.value("done", false) ? " (done)" : "");
  const json unreachable = j.value("unreachable", json::array());
  if (!unreachable.empty()) out += fmt::format("  unreachable: {}\n", unreachable.dump());
  constexpr size_t kListed = 10;
  for (size_t i = 0; i < moving.size() && i < kListed; ++i) {
    const json& m = moving[i];
    out += fmt::format("  partition {} (leader {}): {}, {} entries ({}) behind{}\n",
                       m.value("partition", 0), m.value("leader", ""), m.value("state", ""),
                       m.value("behind", 0), byte_size(m.value("bytes_behind", uint64_t{0})),
                       m.value("snapshot", false) ? ", a replica needs a snapshot" : "");
  }
  if (moving.size() > kListed) out += fmt::format("  ... and {} more\n", moving.size() - kListed);
  if (const json eta = j.value("eta", json::object()); eta.contains("seconds")) {
    const double rate = eta.value("per_second", 0.0);
    const std::string pace = eta.value("unit", "") == "bytes"
                                 ? byte_size(static_cast<uint64_t>(rate)) + "/s"
                                 : fmt::format("{:.0f} entries/s", rate);
    out += fmt::format("  catching up {}: about {:.0f} s left\n", pace, eta.value("seconds", 0.0));
  }
  return out;
}

std::string render_validation(const json& j) {
  std::string out = fmt::format("partition {}: {}\n", j.value("partition", 0),
                                j.value("consistent", false) ? "consistent" : "INCONSISTENT");
  for (const auto& r : j.value("replicas", json::array())) {
    if (r.contains("error")) {
      out += fmt::format("  {}: not checked ({})\n", r.value("node", ""), r.value("error", ""));
      continue;
    }
    out += fmt::format("  {}: log ({}, {}], watermark {}, {} item(s), state {}, {} problem(s)\n",
                       r.value("node", ""), r.value("base_sequence", 0),
                       r.value("last_sequence", 0), r.value("watermark", 0),
                       r.value("counted_items", 0), r.value("state_digest", ""),
                       r.value("problems", json::array()).size() + r.value("problems_omitted", 0));
  }
  for (const auto& p : j.value("problems", json::array())) {
    out += "  problem: " + p.get<std::string>() + "\n";
  }
  for (const auto& n : j.value("notes", json::array()))
    out += "  note: " + n.get<std::string>() + "\n";
  return out;
}

namespace {

// What a refused transaction's caller can do next: a refusal by an older
// lock is retried as it was; a failed condition only once re-read (a retry of
// the same writes would fail the same way); an expired one only anew.
std::string describe_refused_txn(const std::string& code, const std::string& id) {
  if (code == "txn_conflict") {
    return fmt::format("  transaction {} (txn --retry-of {} retries it in its turn)\n", id, id);
  }
  if (code == "txn_condition_failed") {
    return fmt::format(
        "  transaction {} (re-read the items; txn --retry-of {} with new conditions keeps its "
        "turn)\n",
        id, id);
  }
  return fmt::format("  transaction {}\n", id);
}

}  // namespace

std::string render_error(int status, const std::string& body, const std::string& transport_error) {
  if (status == 0) return "error: " + transport_error + "\n";
  json j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    const std::string code = j["error"].value("code", "");
    std::string out =
        fmt::format("error: {} {}: {}\n", status, code, j["error"].value("message", ""));
    if (j.contains("txn") && j["txn"].is_string()) out += describe_refused_txn(code, j["txn"]);
    return out;
  }
  return fmt::format("error: HTTP {}: {}\n", status, body);
}

}  // namespace partid::cli
