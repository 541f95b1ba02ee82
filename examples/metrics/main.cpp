// examples/metrics: turning libparti's hooks into metrics. Hooks run on the
// manager's loop, so they only bump atomics; a reporter thread (your metrics
// library's scrape, in real code) reads them, with the counters the Manager
// keeps itself (Manager::stats(): failed heartbeats, stuck watches made
// again...). Prints Prometheus text format.
#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <iostream>

#include "parti/manager/manager.h"

namespace {

struct Metrics {
  std::atomic<uint64_t> assignment_changes{0};
  std::atomic<uint64_t> partitions_added{0};
  std::atomic<uint64_t> partitions_removed{0};
  std::atomic<uint64_t> owned{0};
  std::atomic<uint64_t> leader_changes{0};
  std::atomic<uint64_t> version{0};

  // `manager` is read only when a hook fires, which is after it is set.
  parti::Hooks hooks(parti::Manager* const* manager) {
    parti::Hooks h;
    h.on_assignment_changed = [this, manager](const parti::AssignmentDelta& d,
                                              const parti::Assignment& a) {
      ++assignment_changes;
      partitions_added += d.added.size();
      partitions_removed += d.removed.size();
      owned = a.led_by((*manager)->worker_id()).size();
      version = a.version;
    };
    h.on_leadership_changed = [this](bool) { ++leader_changes; };
    return h;
  }

  void write_prometheus(std::ostream& out, bool leader, const parti::CoordinationStats& s) const {
    out << "# TYPE parti_assignment_changes_total counter\n"
        << "parti_assignment_changes_total " << assignment_changes << "\n"
        << "parti_partitions_added_total " << partitions_added << "\n"
        << "parti_partitions_removed_total " << partitions_removed << "\n"
        << "# TYPE parti_partitions_owned gauge\nparti_partitions_owned " << owned << "\n"
        << "parti_assignment_version " << version << "\n"
        << "parti_leader " << (leader ? 1 : 0) << "\n"
        << "parti_leadership_changes_total " << leader_changes << "\n"
        << "# TYPE parti_errors_total counter\nparti_errors_total " << s.errors << "\n"
        << "parti_heartbeats_failed_total " << s.heartbeats_failed << "\n"
        << "parti_heartbeat_lapses_total " << s.heartbeat_lapses << "\n"
        << "parti_id_reclaims_total " << s.id_reclaims << "\n"
        << "parti_watch_renewals_total " << s.watch_renewals << "\n";
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"libparti metrics example"};
  std::string url = "nats://127.0.0.1:4222";
  app.add_option("--nats", url, "NATS server URL");
  CLI11_PARSE(app, argc, argv);
  try {
    Metrics metrics;
    parti::Manager* manager = nullptr;
    parti::Config cfg;
    cfg.timings = parti::fast_timings();
    cfg.bucket_prefix = "metrics-";  // a fleet of its own on a shared NATS
    auto conn = parti::coord::Connection::connect({.url = url});
    parti::Manager m(cfg, conn,
                     std::make_shared<parti::StaticPartitionSource>(parti::numbered_partitions(16)),
                     parti::make_consistent_hash(), metrics.hooks(&manager));
    manager = &m;
    m.start();
    metrics.write_prometheus(std::cout, m.is_leader(), m.stats());
    m.stop();
  } catch (const std::exception& e) {
    std::cerr << "metrics: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
