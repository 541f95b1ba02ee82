// partid: the node daemon. Parses its configuration, starts a Node and runs
// until SIGINT or SIGTERM, then leaves the cluster cleanly.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <iostream>
#include <optional>
#include <thread>

#include <google/protobuf/stubs/logging.h>

#include "partid/node/node.h"

namespace {

// protobuf writes its own complaints (a peer frame with a string that is not
// UTF-8, say) to stderr in its own format; they belong in the node's log,
// formatted like every other line. A peer's bad bytes are its error, not
// ours: a warning, next to the channel's "frame is not a peer message".
void log_protobuf(google::protobuf::LogLevel level, const char* file, int line,
                  const std::string& message) {
  using google::protobuf::LogLevel;
  const auto to = level == LogLevel::LOGLEVEL_INFO    ? spdlog::level::debug
                  : level == LogLevel::LOGLEVEL_FATAL ? spdlog::level::critical
                                                      : spdlog::level::warn;
  spdlog::log(to, "protobuf ({}:{}): {}", file, line, message);
}

// A node holds a descriptor per client and peer connection, and RocksDB one
// per open file: the soft limit (often 1,024) is the first to run out under
// many clients, while the hard one is what the operator allows. Take it (the
// node logs how it shares it: node/descriptor_budget.h).
void raise_open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    const rlim_t was = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      spdlog::warn("cannot raise the open-files limit from {} to {}", static_cast<uint64_t>(was),
                   static_cast<uint64_t>(limit.rlim_max));
    }
  }
}

// While the node starts, this thread takes the stop signals (they are
// blocked everywhere) and hands one to the start, which may be waiting up to
// a minute for NATS or for its worker ID. SIGUSR1, sent once the start is
// over, ends the watch. Returns the stop signal taken, or 0.
int watch_start(partid::node::Node& node) {
  sigset_t watched;
  sigemptyset(&watched);
  sigaddset(&watched, SIGINT);
  sigaddset(&watched, SIGTERM);
  sigaddset(&watched, SIGUSR1);
  int sig = 0;
  if (sigwait(&watched, &sig) != 0 || sig == SIGUSR1) return 0;
  node.interrupt_start(sig);
  return sig;
}

// Starts the node while watch_start takes the stop signals. Returns the
// exit code if the start did not succeed (0 when a stop signal ended it);
// sets *stop_signal to a stop signal taken.
std::optional<int> start_node(partid::node::Node& node, int* stop_signal) {
  std::thread watcher([&] { *stop_signal = watch_start(node); });
  std::optional<int> failed;
  try {
    node.start();
  } catch (const partid::node::StartInterrupted& e) {
    spdlog::info("{}: stopping", e.what());
    failed = 0;
  } catch (const std::exception& e) {
    spdlog::error("partid cannot start: {}", e.what());
    failed = 1;
  }
  pthread_kill(watcher.native_handle(), SIGUSR1);  // no effect if it took a stop signal
  watcher.join();
  return failed;
}

}  // namespace

int main(int argc, char** argv) {
  auto loaded = partid::node::load_node_config(argc, argv);
  if (auto* exit = std::get_if<partid::node::ConfigExit>(&loaded)) {
    (exit->code == 0 ? std::cout : std::cerr) << exit->text;
    return exit->code;
  }
  const auto& config = std::get<partid::node::NodeConfig>(loaded);
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  google::protobuf::SetLogHandler(log_protobuf);  // before any thread that parses
  raise_open_files_limit();
  // Signals are taken by sigwait below, so every thread started from here on
  // inherits the blocked mask and none is interrupted.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  sigset_t blocked = signals;
  sigaddset(&blocked, SIGUSR1);  // ends watch_start
  pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
  signal(SIGPIPE, SIG_IGN);
  partid::node::Node node(config);
  int sig = 0;
  if (auto code = start_node(node, &sig)) {
    node.stop();
    return *code;
  }
  // A stop signal taken as the start ended (the start won the race) stops
  // the node as it would have once started.
  if (sig == 0) {
    while (sigwait(&signals, &sig) == 0 && sig == SIGHUP) node.reload_cluster_secret();
  }
  spdlog::info("signal {}: leaving the cluster", sig);
  node.stop();
  return 0;
}
