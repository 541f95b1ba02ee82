#include "partid/cli/local_cluster.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "partid/cli/http_client.h"
#include "partid/cli/process.h"

namespace partid::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string state_file(const std::string& dir) { return dir + "/cluster.json"; }

void save_state(const std::string& dir, const ClusterState& s) {
  json nodes = json::array();
  for (const auto& n : s.nodes) nodes.push_back({{"id", n.id}, {"api", n.api_url}, {"pid", n.pid}});
  std::ofstream(state_file(dir))
      << json{{"nats", {{"url", s.nats_url}, {"pid", s.nats_pid}}}, {"nodes", nodes}}.dump(2)
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
  for (const auto& x : j["nodes"]) holding += x.value("holds", 0) > 0 ? 1 : 0;
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

}  // namespace

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
    state->nodes.push_back({n.value("id", ""), n.value("api", ""), n.value("pid", 0)});
  }
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
  const auto deadline = Clock::now() + std::chrono::seconds(spec.timeout_s);
  ClusterState s;
  const int port = free_tcp_port();
  s.nats_url = "nats://127.0.0.1:" + std::to_string(port);
  s.nats_pid = spawn_detached(
      {nats, "-js", "-a", "127.0.0.1", "-p", std::to_string(port), "-sd", dir + "/nats"},
      dir + "/nats.log", error);
  if (s.nats_pid < 0) return false;
  save_state(dir, s);
  if (!wait_for([&] { return tcp_port_open(port); }, deadline)) {
    *error = "nats-server did not start; see " + dir + "/nats.log";
    stop_all(s);
    return false;
  }
  for (uint32_t i = 0; i < spec.nodes; ++i) {
    const std::string node_dir = dir + "/node-" + std::to_string(i);
    fs::create_directories(node_dir);
    fs::remove(node_dir + "/ready.json");
    std::string err;
    const pid_t pid = spawn_detached({partid,
                                      "--nats-url",
                                      s.nats_url,
                                      "--cluster",
                                      "local",
                                      "--data-dir",
                                      node_dir + "/data",
                                      "--api-listen",
                                      "127.0.0.1:0",
                                      "--peer-listen",
                                      "127.0.0.1:0",
                                      "--partitions",
                                      std::to_string(spec.partitions),
                                      "--replication-factor",
                                      std::to_string(spec.replication_factor),
                                      "--sync",
                                      spec.sync ? "true" : "false",
                                      "--fast-timings",
                                      "true",
                                      "--ready-file",
                                      node_dir + "/ready.json"},
                                     node_dir + "/partid.log", &err);
    if (pid < 0) {
      *error = err;
      stop_all(s);
      return false;
    }
    s.nodes.push_back({"", "", pid});
    save_state(dir, s);
  }
  for (uint32_t i = 0; i < spec.nodes; ++i) {
    const std::string node_dir = dir + "/node-" + std::to_string(i);
    ClusterNode& n = s.nodes[i];
    const int pid = n.pid;
    if (!wait_for([&] { return read_ready_file(node_dir + "/ready.json", &n); }, deadline)) {
      *error = "node " + std::to_string(i) + " did not start; see " + node_dir + "/partid.log";
      n.pid = pid;
      stop_all(s);
      return false;
    }
  }
  save_state(dir, s);
  for (const auto& n : s.nodes) {
    if (!wait_for([&] { return sees_all(n, s.nodes.size()); }, deadline)) {
      *error = n.id + " did not see all " + std::to_string(s.nodes.size()) +
               " nodes holding partitions in time";
      stop_all(s);
      return false;
    }
  }
  if (!wait_for([&] { return serving_partitions(s) == spec.partitions; }, deadline)) {
    *error = "not every partition had a serving leader in time";
    stop_all(s);
    return false;
  }
  *state = s;
  return true;
}

bool cluster_down(const std::string& dir, std::string* error) {
  ClusterState s;
  if (!load_cluster_state(dir, &s, error)) return false;
  stop_all(s);
  fs::remove(state_file(dir));
  return true;
}

}  // namespace partid::cli
