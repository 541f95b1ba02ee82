#include "support/partid_cluster.h"

#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>

#include "partid/cli/local_cluster.h"
#include "partid/cli/process.h"
#include "support/peer_wire.h"
#include "support/wait.h"

namespace parti::testing {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

namespace {

// A sanitizer report in a partid process fails the test that ran it: the
// report lands in the process log, which no assertion would otherwise read.
void check_sanitizer_report(const std::string& log_path) {
  const std::string log = read_file(log_path);
  for (const char* marker : {"WARNING: ThreadSanitizer", "ERROR: AddressSanitizer",
                             "ERROR: LeakSanitizer", "runtime error:"}) {
    const size_t at = log.find(marker);
    if (at != std::string::npos) {
      ADD_FAILURE() << "sanitizer report in " << log_path << ":\n" << log.substr(at, 4000);
      return;
    }
  }
}

}  // namespace

PartidCluster::PartidCluster(NatsServer& nats) : nats_(nats) {
  std::ofstream(secret_file()) << kTestSecret << "\n";
}

PartidCluster::~PartidCluster() {
  // All at once, as a whole cluster stops: each node soon sees no other to
  // hand its partitions to and leaves. One after another, each would first
  // drain to the rest, a second per test spent on nothing the test checks.
  for (auto& n : nodes_) {
    if (n.pid > 0) ::kill(n.pid, SIGTERM);
  }
  for (auto& n : nodes_) {
    if (n.pid > 0) partid::cli::stop_process(n.pid, 5000ms);
    check_sanitizer_report(n.log);
  }
}

std::vector<std::string> PartidCluster::argv_for(const Node& n) const {
  partid::cli::NodeLaunch l;
  l.binary = PARTID_BINARY;
  l.nats_url = n.options.nats_url.empty() ? nats_.url() : n.options.nats_url;
  l.cluster = "test";
  l.data_dir = n.data_dir;
  l.peer_listen = n.options.peer_listen;
  l.partitions = n.options.partitions;
  l.replication_factor = n.options.replication_factor;
  l.sync = false;
  l.fast_timings = n.options.fast_timings;
  l.ephemeral = n.options.ephemeral;
  l.ready_file = n.data_dir + ".ready";
  std::vector<std::string> argv = partid::cli::node_argv(l);
  const std::string& secret = n.options.cluster_secret_file;
  if (secret != "none") {
    argv.insert(argv.end(), {"--cluster-secret-file", secret.empty() ? secret_file() : secret});
  }
  argv.insert(argv.end(), n.options.extra_args.begin(), n.options.extra_args.end());
  argv.insert(argv.begin(), n.options.launcher.begin(), n.options.launcher.end());
  return killed_with_test(std::move(argv));
}

void PartidCluster::launch(Node& n) {
  spawn(n);
  await_ready(n);
}

void PartidCluster::spawn(Node& n) {
  fs::remove(n.data_dir + ".ready");
  std::string error;
  n.pid = partid::cli::spawn_detached(argv_for(n), n.log, &error);
  if (n.pid < 0) throw std::runtime_error(error);
}

void PartidCluster::await_ready(Node& n) {
  const std::string ready = n.data_dir + ".ready";
  json j;
  const bool ok = wait_until(
      [&] {
        if (!partid::cli::process_alive(n.pid)) return true;  // give up at once
        j = json::parse(read_file(ready), nullptr, false);
        return j.is_object() && j.contains("api");
      },
      30s);
  if (!ok || !j.is_object() || !j.contains("api")) {
    throw std::runtime_error("partid did not become ready:\n" + read_file(n.log));
  }
  n.id = j["node"];
  n.api = "http://" + j["api"].get<std::string>();
  n.peer = j["peer"];
}

size_t PartidCluster::start(const PartidOptions& options) {
  const size_t i = start_unready(options);
  wait_ready(i);
  return i;
}

size_t PartidCluster::start_unready(const PartidOptions& options) {
  Node n;
  n.data_dir = options.data_dir.empty() ? data_dir_of(nodes_.size()) : options.data_dir;
  n.log = n.data_dir + ".log";
  n.options = options;
  nodes_.push_back(n);
  spawn(nodes_.back());
  return nodes_.size() - 1;
}

void PartidCluster::wait_ready(size_t i) { await_ready(nodes_.at(i)); }

namespace {

// Waits for child `pid` to exit: its exit code (-1 when a signal ended it),
// or nullopt if it still runs after `timeout`.
std::optional<int> wait_for_exit(pid_t pid, std::chrono::milliseconds timeout) {
  int status = 0;
  if (!wait_until([&] { return waitpid(pid, &status, WNOHANG) == pid; }, timeout)) {
    return std::nullopt;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

int PartidCluster::start_expecting_failure(const PartidOptions& options, std::string* log) {
  Node n;
  n.data_dir = options.data_dir.empty() ? dir_.sub("failing-" + std::to_string(nodes_.size()))
                                        : options.data_dir;
  n.log = n.data_dir + ".log";
  n.options = options;
  std::string error;
  const pid_t pid = partid::cli::spawn_detached(argv_for(n), n.log, &error);
  if (pid < 0) throw std::runtime_error(error);
  const auto code = wait_for_exit(pid, 30s);
  if (!code) partid::cli::stop_process(pid, 5000ms);
  *log = read_file(n.log);
  return code.value_or(-1);
}

void PartidCluster::restart(size_t i) {
  Node& n = nodes_.at(i);
  if (n.pid > 0) partid::cli::stop_process(n.pid, 10000ms);
  launch(n);
}

void PartidCluster::pause(size_t i) { ::kill(nodes_.at(i).pid, SIGSTOP); }

void PartidCluster::resume(size_t i) { ::kill(nodes_.at(i).pid, SIGCONT); }

void PartidCluster::hangup(size_t i) { ::kill(nodes_.at(i).pid, SIGHUP); }

void PartidCluster::wipe(size_t i) {
  if (nodes_.at(i).pid > 0) stop(i);
  fs::remove_all(nodes_.at(i).data_dir);
}

void PartidCluster::start_again(size_t i) { launch(nodes_.at(i)); }

void PartidCluster::stop(size_t i) {
  partid::cli::stop_process(nodes_.at(i).pid, 10000ms);
  nodes_.at(i).pid = -1;
}

void PartidCluster::kill(size_t i) {
  ::kill(nodes_.at(i).pid, SIGKILL);
  partid::cli::stop_process(nodes_.at(i).pid, 5000ms);  // reaps it
  nodes_.at(i).pid = -1;
}

std::optional<int> PartidCluster::wait_exit(size_t i, std::chrono::milliseconds timeout) {
  Node& n = nodes_.at(i);
  const auto code = wait_for_exit(n.pid, timeout);
  if (code) n.pid = -1;
  return code;
}

partid::cli::HttpResult PartidCluster::http(size_t i, const std::string& method,
                                            const std::string& target, const std::string& body,
                                            const std::string& authorization) {
  return partid::cli::http_request(nodes_.at(i).api, method, target, body,
                                   std::chrono::milliseconds(10000), authorization);
}

json PartidCluster::get_json(size_t i, const std::string& target) {
  auto r = http(i, "GET", target);
  return json::parse(r.body, nullptr, false);
}

bool PartidCluster::wait_converged(size_t n, std::chrono::milliseconds timeout) {
  return wait_until(
      [&] {
        size_t partitions = 0;
        for (size_t i = 0; i < nodes_.size(); ++i) {
          if (nodes_[i].pid <= 0) continue;
          auto t = get_json(i, "/cluster/topology");
          if (!t.is_object() || !t.contains("nodes")) return false;
          size_t holding = 0;
          std::set<std::string> recorded;
          for (const auto& x : t["nodes"]) {
            // A worker listed "unheard" is one whose record this node does not
            // hold (lost, or not yet read by a node just started): not converged.
            if (x.value("state", "") == "unheard") return false;
            holding += x.value("holds", 0) > 0 ? 1 : 0;
            recorded.insert(x.value("id", ""));
          }
          if (holding != n || t["nodes"].size() != n) return false;
          // A step short of the placement (a staged move, or a leader kept
          // on a replica with the data): more follows.
          if (t.value("interim", false)) return false;
          // A dead node's record can expire before the coordinator publishes
          // the assignment without it: until then its partitions look served.
          for (const auto& p : t.value("assignment", nlohmann::json::array())) {
            for (const auto& r : p["replicas"]) {
              if (!recorded.contains(r.get<std::string>())) return false;
            }
          }
          partitions = t.value("partitions", 0);
        }
        return serving_partitions() == partitions;
      },
      timeout);
}

bool PartidCluster::wait_serving(std::chrono::milliseconds timeout) {
  return wait_until(
      [&] {
        for (size_t i = 0; i < nodes_.size(); ++i) {
          if (nodes_[i].pid <= 0) continue;
          auto t = get_json(i, "/cluster/topology");
          if (!t.is_object()) return false;
          return serving_partitions() == t.value("partitions", 0u);
        }
        return false;
      },
      timeout);
}

size_t PartidCluster::serving_partitions() {
  size_t serving = 0;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].pid <= 0) continue;
    auto s = get_json(i, "/cluster/status");
    if (!s.is_object() || !s.contains("partitions")) continue;
    for (const auto& p : s["partitions"]) serving += p.value("serving", false) ? 1 : 0;
  }
  return serving;
}

std::string PartidCluster::describe_not_serving() {
  std::string out;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].pid <= 0) continue;
    out += "node " + std::to_string(i) + " (" + nodes_[i].id + "):\n";
    // What wait_converged looks at: the assignment's version, whether it is
    // a step of a staged move, and each node as this one sees it.
    auto t = get_json(i, "/cluster/topology");
    if (t.is_object()) {
      out += "  topology v" + t.value("version", nlohmann::json(0)).dump() +
             (t.value("interim", false) ? " (a step of a staged move)" : "") + ", nodes " +
             t.value("nodes", nlohmann::json::array()).dump() + "\n";
    }
    auto s = get_json(i, "/cluster/status");
    if (!s.is_object()) s = nlohmann::json::object();  // not answering: the log says why
    for (const auto& p : s.value("partitions", nlohmann::json::array())) {
      if (p.value("leader", "") == nodes_[i].id && !p.value("serving", false)) {
        out += "  " + p.dump() + "\n";
      }
    }
    const std::string log = read_file(nodes_[i].log);
    out += "  log tail:\n" + log.substr(log.size() > 3000 ? log.size() - 3000 : 0) + "\n";
  }
  return out;
}

bool PartidCluster::wait_record_lost(size_t i, std::chrono::milliseconds timeout) {
  return wait_until(
      [&] {
        const auto status = get_json(i, "/cluster/status");
        return status.contains("data_format") && status["data_format"]["lowest_live"] == 0;
      },
      timeout);
}

double PartidCluster::metric(size_t i, const std::string& sample) {
  auto r = http(i, "GET", "/metrics");
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(sample + " ", 0) == 0) return std::stod(line.substr(sample.size() + 1));
  }
  return 0;
}

Preload clock_offset(std::chrono::milliseconds offset) {
  return {CLOCK_OFFSET_LIB, {"PARTI_CLOCK_OFFSET_MS=" + std::to_string(offset.count())}};
}

Preload disk_faults(const DiskFaultFlags& flags) {
  return {DISK_FAULTS_LIB,
          {"PARTI_DISK_FAIL_DIR=" + flags.dir, "PARTI_DISK_FAIL_FLAG=" + flags.full,
           "PARTI_DISK_STALL_FLAG=" + flags.stuck, "PARTI_DISK_SLOW_FLAG=" + flags.slow,
           "PARTI_DISK_SLOW_MS=" + std::to_string(flags.slow_by.count())}};
}
// ASan wants its runtime first among the libraries; the preloaded ones come
// before it, which is harmless here (they wrap system calls only, and call
// nothing of it).
std::vector<std::string> preloading(const std::vector<Preload>& preloads) {
  std::string asan = "ASAN_OPTIONS=";
  if (const char* given = std::getenv("ASAN_OPTIONS")) asan += std::string(given) + ":";
  asan += "verify_asan_link_order=0";
  std::string libraries;
  for (const auto& p : preloads) libraries += (libraries.empty() ? "" : ":") + p.library;
  std::vector<std::string> launcher = {"env", "LD_PRELOAD=" + libraries, asan};
  for (const auto& p : preloads)
    launcher.insert(launcher.end(), p.settings.begin(), p.settings.end());
  return launcher;
}

}  // namespace parti::testing
