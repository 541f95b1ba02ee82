#include "partid/cli/local_cluster.h"

#include <deque>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "partid/api/resize_guard.h"
#include "partid/cli/http_client.h"
#include "partid/cli/process.h"
#include "partid/peer/peer_auth.h"
#include "partid/secret_file.h"

namespace partid::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string state_file(const std::string& dir) { return dir + "/cluster.json"; }

void save_state(const std::string& dir, const ClusterState& s) {
  json nodes = json::array();
  for (const auto& n : s.nodes) {
    nodes.push_back({{"id", n.id}, {"api", n.api_url}, {"pid", n.pid}, {"dir", n.dir}});
  }
  const json spec = {{"partitions", s.spec.partitions},
                     {"replication_factor", s.spec.replication_factor},
                     {"sync", s.spec.sync},
                     {"fast_timings", s.spec.fast_timings}};
  std::ofstream(state_file(dir)) << json{{"nats", {{"url", s.nats_url}, {"pid", s.nats_pid}}},
                                         {"nodes", nodes},
                                         {"spec", spec},
                                         {"next_index", s.next_index}}
                                        .dump(2)
                                 << "\n";
}

// Re-checks `ready` until it holds or the deadline passes. The cluster is
// other processes: there is no event to wait on, so this polls, with a short
// blocking HTTP call or file check as the pacing.
template <class F>
bool wait_for(F ready, Clock::time_point deadline) {
  while (Clock::now() < deadline) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return ready();
}

// The last `lines` lines of a log, indented, for an error message: what a
// process said before it failed is what its operator needs first.
std::string log_tail(const std::string& path, size_t lines = 20) {
  std::ifstream in(path);
  std::deque<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(std::move(line));
    if (last.size() > lines) last.pop_front();
  }
  std::string out;
  for (const auto& line : last) out += "\n  " + line;
  return out.empty() ? "\n  (the log is empty)" : out;
}

bool read_ready_file(const std::string& path, ClusterNode* node) {
  std::ifstream in(path);
  if (!in) return false;
  json j = json::parse(in, nullptr, false);
  if (!j.is_object() || !j.contains("api")) return false;
  node->id = j.value("node", "");
  node->api_url = "http://" + j["api"].get<std::string>();
  node->pid = j.value("pid", 0);
  return true;
}

bool sees_all(const ClusterNode& node, size_t n) {
  auto health = http_request(node.api_url, "GET", "/health", {}, std::chrono::milliseconds(1000));
  if (health.status != 200) return false;
  auto topo =
      http_request(node.api_url, "GET", "/cluster/topology", {}, std::chrono::milliseconds(1000));
  json j = json::parse(topo.body, nullptr, false);
  if (topo.status != 200 || !j.is_object() || !j["nodes"].is_array()) return false;
  size_t holding = 0;
  for (const auto& x : j["nodes"]) {
    // An "unheard" worker is in the assignment but its record is not known here
    // (yet): this node could not forward to it.
    if (x.value("state", "") == "unheard") return false;
    holding += x.value("holds", 0) > 0 ? 1 : 0;
  }
  return holding == n;
}

// Partitions the nodes lead and serve (writes and current reads), summed.
size_t serving_partitions(const ClusterState& s) {
  size_t serving = 0;
  for (const auto& node : s.nodes) {
    auto r =
        http_request(node.api_url, "GET", "/cluster/status", {}, std::chrono::milliseconds(1000));
    json j = json::parse(r.body, nullptr, false);
    if (r.status != 200 || !j.is_object() || !j["partitions"].is_array()) continue;
    for (const auto& p : j["partitions"]) serving += p.value("serving", false) ? 1 : 0;
  }
  return serving;
}

void stop_all(const ClusterState& s) {
  for (const auto& n : s.nodes) stop_process(n.pid, std::chrono::milliseconds(10000));
  if (s.nats_pid > 0) stop_process(s.nats_pid, std::chrono::milliseconds(5000));
}

// The secret the cluster's nodes prove to each other (peer/peer_auth.h).
std::string secret_path(const std::string& dir) { return dir + "/cluster-secret"; }
// The token the cluster's nats-server asks of every client, and that server's
// configuration, which holds it (a flag would show it in the process list).
std::string nats_token_path(const std::string& dir) { return dir + "/nats-token"; }
std::string nats_conf_path(const std::string& dir) { return dir + "/nats.conf"; }

// Writes `content` to `path`, readable by its owner only, unless it exists.
bool make_private_file(const std::string& path, const std::string& content, std::string* error) {
  if (fs::exists(path)) return true;
  std::ofstream out(path);
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  out << content;
  if (!out) *error = "cannot write " + path;
  return static_cast<bool>(out);
}

// Made by `cluster up` (kept if there): the cluster secret and the NATS token.
bool make_secrets(const std::string& dir, std::string* error) {
  if (!make_private_file(secret_path(dir), peer::generate_secret() + "\n", error) ||
      !make_private_file(nats_token_path(dir), peer::generate_secret() + "\n", error)) {
    return false;
  }
  std::string token_error;
  const auto token = read_secret_file(nats_token_path(dir), "the NATS token", 1, &token_error);
  if (!token) {
    *error = token_error;
    return false;
  }
  fs::remove(nats_conf_path(dir));  // follows the token file, which may be older
  return make_private_file(nats_conf_path(dir), "authorization {\n  token: \"" + *token + "\"\n}\n",
                           error);
}

// Starts the next node (directory node-<next_index>) without waiting for it.
bool spawn_node(ClusterState& s, const std::string& dir, const std::string& partid,
                std::string* error) {
  ClusterNode n;
  n.dir = dir + "/node-" + std::to_string(s.next_index);
  fs::create_directories(n.dir);
  fs::remove(n.dir + "/ready.json");
  std::vector<std::string> argv = node_command(s, partid, n.dir);
  // A cluster a partictl before secrets started has none: its new nodes
  // must not demand one of the others.
  if (fs::exists(secret_path(dir)))
    argv.insert(argv.end(), {"--cluster-secret-file", secret_path(dir)});
  if (fs::exists(nats_token_path(dir)))
    argv.insert(argv.end(), {"--nats-token-file", nats_token_path(dir)});
  n.pid = spawn_detached(argv, n.dir + "/partid.log", error);
  if (n.pid < 0) return false;
  ++s.next_index;
  s.nodes.push_back(n);
  return true;
}

// Waits for every node not yet ready (no id) to write its ready file.
bool wait_ready(ClusterState& s, Clock::time_point deadline, std::string* error) {
  for (ClusterNode& n : s.nodes) {
    if (!n.id.empty()) continue;
    const int pid = n.pid;
    bool exited = false;
    const bool ready = wait_for(
        [&] {
          if (read_ready_file(n.dir + "/ready.json", &n)) return true;
          exited = !process_alive(pid);
          return exited;  // no point waiting for a process that is gone
        },
        deadline);
    if (!ready || exited) {
      const std::string log = n.dir + "/partid.log";
      *error = "the node in " + n.dir +
               (exited ? " exited before it was ready" : " did not start") + "; " + log +
               " ends with:" + log_tail(log);
      n.pid = pid;
      return false;
    }
  }
  return true;
}

// Every node sees all the others holding partitions, and every partition has
// a serving leader.
bool wait_converged(const ClusterState& s, Clock::time_point deadline, std::string* error) {
  for (const auto& n : s.nodes) {
    if (!wait_for([&] { return sees_all(n, s.nodes.size()); }, deadline)) {
      *error = n.id + " did not see all " + std::to_string(s.nodes.size()) +
               " nodes holding partitions in time";
      return false;
    }
  }
  if (!wait_for([&] { return serving_partitions(s) == s.spec.partitions; }, deadline)) {
    *error = "not every partition had a serving leader in time";
    return false;
  }
  return true;
}

// GET /cluster/resize through the first node that answers it.
std::optional<json> resize_summary(const ClusterState& s) {
  for (const auto& n : s.nodes) {
    auto r = http_request(n.api_url, "GET", "/cluster/resize", {}, std::chrono::milliseconds(5000));
    json j = json::parse(r.body, nullptr, false);
    if (r.status == 200 && j.is_object()) return j;
  }
  return std::nullopt;
}

// Why the cluster cannot take another change yet; nullopt when it can.
std::optional<std::string> busy(const ClusterState& s) {
  auto summary = resize_summary(s);
  if (!summary) return "no node answered GET /cluster/resize";
  return api::resize_in_progress(*summary);
}

bool wait_settled(const ClusterState& s, Clock::time_point deadline, std::string* error) {
  std::optional<std::string> why;
  if (wait_for([&] { return !(why = busy(s)); }, deadline)) return true;
  *error = "the cluster did not settle in time: " + why.value_or("?");
  return false;
}

}  // namespace

std::vector<std::string> node_argv(const NodeLaunch& l) {
  return {l.binary,
          "--nats-url",
          l.nats_url,
          "--cluster",
          l.cluster,
          "--data-dir",
          l.data_dir,
          "--api-listen",
          "127.0.0.1:0",
          "--peer-listen",
          l.peer_listen,
          "--partitions",
          std::to_string(l.partitions),
          "--replication-factor",
          std::to_string(l.replication_factor),
          "--sync",
          l.sync ? "true" : "false",
          "--fast-timings",
          l.fast_timings ? "true" : "false",
          "--ephemeral",
          l.ephemeral ? "true" : "false",
          "--ready-file",
          l.ready_file};
}

std::vector<std::string> node_command(const ClusterState& s, const std::string& partid,
                                      const std::string& node_dir) {
  NodeLaunch l;
  l.binary = partid;
  l.nats_url = s.nats_url;
  l.cluster = "local";
  l.data_dir = node_dir + "/data";
  l.partitions = s.spec.partitions;
  l.replication_factor = s.spec.replication_factor;
  l.sync = s.spec.sync;
  l.fast_timings = s.spec.fast_timings;
  l.ready_file = node_dir + "/ready.json";
  return node_argv(l);
}

bool load_cluster_state(const std::string& dir, ClusterState* state, std::string* error) {
  std::ifstream in(state_file(dir));
  if (!in) {
    *error = "no cluster in " + dir + " (no " + state_file(dir) + ")";
    return false;
  }
  json j = json::parse(in, nullptr, false);
  if (!j.is_object() || !j.contains("nodes")) {
    *error = state_file(dir) + " is not a cluster state file";
    return false;
  }
  state->nats_url = j["nats"].value("url", "");
  state->nats_pid = j["nats"].value("pid", 0);
  state->nodes.clear();
  for (const auto& n : j["nodes"]) {
    state->nodes.push_back(
        {n.value("id", ""), n.value("api", ""), n.value("pid", 0), n.value("dir", "")});
  }
  // A state file from before resizing has no spec: such a cluster can only stop.
  const json spec = j.value("spec", json::object());
  state->spec.dir = dir;
  state->spec.nodes = static_cast<uint32_t>(state->nodes.size());
  state->spec.partitions = spec.value("partitions", 0u);
  state->spec.replication_factor = spec.value("replication_factor", 0u);
  state->spec.sync = spec.value("sync", true);
  state->spec.fast_timings = spec.value("fast_timings", true);
  state->next_index = j.value("next_index", static_cast<uint32_t>(state->nodes.size()));
  return true;
}

bool cluster_up(const ClusterSpec& spec, ClusterState* state, std::string* error) {
  ClusterState existing;
  std::string ignored;
  if (load_cluster_state(spec.dir, &existing, &ignored) && process_alive(existing.nats_pid)) {
    *error = "a cluster is already running in " + spec.dir + "; run `partictl cluster down`";
    return false;
  }
  const std::string nats = find_program("nats-server"), partid = find_program("partid");
  if (nats.empty() || partid.empty()) {
    *error = nats.empty() ? "nats-server not found in PATH" : "partid not found";
    return false;
  }
  fs::create_directories(spec.dir);
  const std::string dir = fs::canonical(spec.dir).string();
  if (!make_secrets(dir, error)) return false;
  const auto deadline = Clock::now() + std::chrono::seconds(spec.timeout_s);
  ClusterState s;
  s.spec = spec;
  const int port = free_tcp_port();
  s.nats_url = "nats://127.0.0.1:" + std::to_string(port);
  const std::string nats_log = dir + "/nats.log";
  const auto logged_before = file_size_or_zero(nats_log);
  s.nats_pid = spawn_detached({nats, "-c", nats_conf_path(dir), "-js", "-a", "127.0.0.1", "-p",
                               std::to_string(port), "-sd", dir + "/nats"},
                              nats_log, error);
  if (s.nats_pid < 0) return false;
  save_state(dir, s);
  // Ready when it says so, with JetStream up: an open port may be another
  // process's that took the free port first, or a server still starting.
  auto said_ready = [&] {
    return read_from_offset(nats_log, logged_before).find("Server is ready") != std::string::npos;
  };
  wait_for([&] { return said_ready() || !process_alive(s.nats_pid); }, deadline);
  if (!said_ready() || !process_alive(s.nats_pid)) {
    *error = "nats-server did not start; " + nats_log + " ends with:" + log_tail(nats_log);
    stop_all(s);
    return false;
  }
  for (uint32_t i = 0; i < spec.nodes; ++i) {
    const bool spawned = spawn_node(s, dir, partid, error);
    save_state(dir, s);
    if (!spawned) {
      stop_all(s);
      return false;
    }
  }
  const bool ok = wait_ready(s, deadline, error) && wait_converged(s, deadline, error);
  save_state(dir, s);
  if (!ok) {
    stop_all(s);
    return false;
  }
  *state = s;
  return true;
}

ResizeOutcome cluster_resize(const std::string& dir, uint32_t nodes, bool force, int timeout_s,
                             ClusterState* state, std::string* error) {
  ClusterState s;
  if (!load_cluster_state(dir, &s, error)) return ResizeOutcome::Failed;
  if (!process_alive(s.nats_pid)) {
    *error = "the cluster in " + dir + " is not running";
    return ResizeOutcome::Failed;
  }
  if (s.spec.partitions == 0) {
    *error = state_file(dir) + " was written before resizing existed; recreate the cluster";
    return ResizeOutcome::Failed;
  }
  if (!force) {
    if (auto why = busy(s)) {
      *error = *why;
      return ResizeOutcome::InProgress;
    }
  }
  const std::string partid = find_program("partid");
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  while (s.nodes.size() < nodes) {
    const bool spawned = spawn_node(s, dir, partid, error);
    save_state(dir, s);
    if (!spawned) return ResizeOutcome::Failed;
  }
  const bool ready = wait_ready(s, deadline, error);
  save_state(dir, s);
  if (!ready) return ResizeOutcome::Failed;
  // One node at a time, each once the last change has settled: a SIGTERM
  // drains the node (it stays until others serve all it held).
  while (s.nodes.size() > nodes) {
    if (!wait_converged(s, deadline, error) || !wait_settled(s, deadline, error)) {
      return ResizeOutcome::Failed;
    }
    const ClusterNode gone = s.nodes.back();
    s.nodes.pop_back();
    const bool drained = stop_process(gone.pid, std::chrono::seconds(60));
    save_state(dir, s);
    if (!drained) {
      *error = gone.id + " did not finish draining in 60 s and was killed; see " + gone.dir +
               "/partid.log";
      return ResizeOutcome::Failed;
    }
  }
  if (!wait_converged(s, deadline, error) || !wait_settled(s, deadline, error)) {
    return ResizeOutcome::Failed;
  }
  *state = s;
  return ResizeOutcome::Done;
}

bool cluster_down(const std::string& dir, std::string* error) {
  ClusterState s;
  if (!load_cluster_state(dir, &s, error)) return false;
  stop_all(s);
  fs::remove(state_file(dir));
  return true;
}

}  // namespace partid::cli
