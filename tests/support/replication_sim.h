// A deterministic simulator for the replication core: several ReplicaCores
// (one partition) on a seeded network that delays, drops, duplicates and
// reorders messages; replicas are cut off for a while, crash and restart from what they persisted,
// or lose their disk and are rebuilt; a coordinator appoints leaders with rising epochs. Every run
// ends by healing the world and checking that every acknowledged write is held by a quorum at its
// sequence, that no two replicas ever applied different entries at one sequence, and that the
// replicas converge. Clients also read from any node that believes it leads (a cut-off replica
// hears of new appointments only when it is back): every read its core confirms must see every
// write acknowledged before the read began. The same seed always gives the same run.
#pragma once

#include <cstdint>
#include <string>

namespace parti::test {

struct SimOptions {
  uint64_t seed = 1;
  int nodes = 3;
  int replicas = 0;             // replica set size; 0: every node. Fewer: sets change
  int steps = 2000;             // time units of faulty running
  double drop = 0.05;           // per message
  double duplicate = 0.03;      // per message
  int max_delay = 6;            // time units; random delay reorders
  double crash = 0.004;         // per step: one replica crashes
  double restart = 0.05;        // per step: a crashed replica comes back
  double wipe = 0.0015;         // per step: a replica loses its disk
  double reappoint = 0.004;     // per step: a planned leader change
  double isolate = 0.003;       // per step: a replica is cut off (alive, unreachable)
  int max_isolation = 150;      // steps an isolation lasts at most
  double propose = 0.3;         // per step: a client write reaches the leader
  double read = 0.2;            // per step: a client reads from a node that thinks it leads
  uint64_t log_retention = 40;  // small, so catch-up needs snapshots
  int failover_delay = 8;       // steps before a dead leader is replaced
};

struct SimResult {
  bool ok = true;
  std::string failure;  // what broke, with the seed
  uint64_t acknowledged = 0;
  uint64_t final_commit = 0;
  uint64_t crashes = 0;
  uint64_t wipes = 0;
  uint64_t isolations = 0;
  uint64_t appointments = 0;
  uint64_t reconfigurations = 0;  // appointments that changed the replica set
  uint64_t snapshots = 0;
  uint64_t sync_requests = 0;
  uint64_t reads_confirmed = 0;  // each checked to see every write acknowledged before it
  uint64_t reads_refused = 0;
  uint64_t stale_reads = 0;  // begun at a node the coordinator had already replaced
};

SimResult run_simulation(const SimOptions& options);

}  // namespace parti::test
