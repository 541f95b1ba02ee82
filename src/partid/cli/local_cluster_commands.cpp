// cli: partictl's local cluster on loopback (cluster up, resize, down): a
// nats-server and partid nodes under --dir, their data and logs with them.
#include <iostream>
#include <memory>

#include "partid/cli/commands.h"

namespace partid::cli {
namespace {

// What `cluster resize` parses.
struct ResizeArgs {
  uint32_t nodes = 0;
  bool force = false;
  int timeout_s = 120;
};

int run_up(const Globals& g, ClusterSpec spec) {
  spec.dir = g.dir;
  ClusterState s;
  std::string error;
  if (!cluster_up(spec, &s, &error)) {
    std::cerr << "error: " << error << "\n";
    return 1;
  }
  print_cluster(g, s, "cluster up in " + g.dir);
  return 0;
}

int run_resize(const Globals& g, const ResizeArgs& a) {
  ClusterState s;
  std::string error;
  const auto outcome = cluster_resize(g.dir, a.nodes, a.force, a.timeout_s, &s, &error);
  if (outcome != ResizeOutcome::Done) {
    std::cerr << "error: " << error << "\n";
    return outcome == ResizeOutcome::InProgress ? 6 : 1;
  }
  print_cluster(g, s,
                "cluster in " + g.dir + " now has " + std::to_string(s.nodes.size()) + " nodes");
  return 0;
}

int run_down(const Globals& g) {
  std::string error;
  if (!cluster_down(g.dir, &error)) {
    std::cerr << "error: " << error << "\n";
    return 1;
  }
  std::cout << "cluster in " << g.dir << " stopped\n";
  return 0;
}

}  // namespace

void add_local_cluster_commands(CLI::App& app, const Globals& g, int& rc) {
  auto* cluster = app.add_subcommand("cluster", "a local cluster on loopback");
  cluster->require_subcommand(1);
  auto spec = std::make_shared<ClusterSpec>();
  auto* up = cluster->add_subcommand("up", "start nats-server and N partid nodes under --dir");
  up->add_option("--nodes,-n", spec->nodes, "partid nodes")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  up->add_option("--replication-factor", spec->replication_factor)
      ->capture_default_str()
      ->check(CLI::Range(1u, 7u));
  up->add_option("--partitions", spec->partitions)
      ->capture_default_str()
      ->check(CLI::Range(1u, 65536u));
  up->add_option("--sync", spec->sync, "fsync every commit")->capture_default_str();
  up->add_option("--fast-timings", spec->fast_timings,
                 "sub-second heartbeats and failover (false: libparti's defaults, a 6-s "
                 "heartbeat TTL, which a loaded machine's stalls do not outlast)")
      ->capture_default_str();
  up->callback([&g, &rc, spec] { rc = run_up(g, *spec); });
  auto resize = std::make_shared<ResizeArgs>();
  auto* resize_local = cluster->add_subcommand(
      "resize",
      "grow or shrink the local cluster in --dir to N nodes: new nodes join, or the newest "
      "drain one at a time (exit 6 while the last resize still moves data)");
  resize_local->add_option("--nodes,-n", resize->nodes, "partid nodes wanted")
      ->required()
      ->check(CLI::Range(1u, 64u));
  resize_local->add_flag("--force", resize->force, "resize even while data still moves");
  resize_local->add_option("--timeout", resize->timeout_s, "seconds to wait for it to settle")
      ->capture_default_str();
  resize_local->callback([&g, &rc, resize] { rc = run_resize(g, *resize); });
  cluster->add_subcommand("down", "stop the local cluster in --dir")->callback([&g, &rc] {
    rc = run_down(g);
  });
}

}  // namespace partid::cli
