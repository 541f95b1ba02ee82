// partid: the node daemon. Parses its configuration, starts a Node and runs
// until SIGINT or SIGTERM, then leaves the cluster cleanly.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "partid/node/node.h"

int main(int argc, char** argv) {
  auto loaded = partid::node::load_node_config(argc, argv);
  if (auto* exit = std::get_if<partid::node::ConfigExit>(&loaded)) {
    (exit->code == 0 ? std::cout : std::cerr) << exit->text;
    return exit->code;
  }
  const auto& config = std::get<partid::node::NodeConfig>(loaded);
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  // Signals are taken by sigwait below, so every thread started from here on
  // inherits the blocked mask and none is interrupted.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  partid::node::Node node(config);
  try {
    node.start();
  } catch (const std::exception& e) {
    spdlog::error("partid cannot start: {}", e.what());
    node.stop();
    return 1;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("signal {}: leaving the cluster", sig);
  node.stop();
  return 0;
}
