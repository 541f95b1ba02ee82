// partid: the node daemon. Parses its configuration, starts a Node and runs
// until SIGINT or SIGTERM, then leaves the cluster cleanly.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <chrono>
#include <ctime>
#include <iostream>

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

// The pause between a starting node's tries to reach NATS (up to a minute
// of them): SIGINT or SIGTERM ends it and the start, as it would end the
// node once started. SIGHUP stays pending for the loop below.
void pause_unless_stopped(std::chrono::steady_clock::duration pause) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(pause).count();
  const timespec wait{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  const int sig = sigtimedwait(&stop, nullptr, &wait);
  if (sig > 0) throw partid::node::StartInterrupted(sig);
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
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  partid::node::Node node(config);
  node.set_startup_pause(pause_unless_stopped);
  try {
    node.start();
  } catch (const partid::node::StartInterrupted& e) {
    spdlog::info("{}: stopping", e.what());
    node.stop();
    return 0;
  } catch (const std::exception& e) {
    spdlog::error("partid cannot start: {}", e.what());
    node.stop();
    return 1;
  }
  int sig = 0;
  while (sigwait(&signals, &sig) == 0 && sig == SIGHUP) node.reload_cluster_secret();
  spdlog::info("signal {}: leaving the cluster", sig);
  node.stop();
  return 0;
}
