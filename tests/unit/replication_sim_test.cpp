// Thousands of seeded runs of the replication core in the deterministic
// simulator (tests/support/replication_sim.h). A failure names its seed; set
// PARTID_SIM_SEED (and PARTID_SIM_NODES, PARTID_SIM_REPLICAS) to replay exactly
// that run. PARTID_SIM_SEEDS sets the sweep's length, PARTID_SIM_SEED_BASE its
// start.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cstdlib>

#include "support/replication_sim.h"

namespace parti::test {
namespace {

uint64_t env_or(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value ? std::strtoull(value, nullptr, 10) : fallback;
}

struct Totals {
  uint64_t acknowledged = 0, crashes = 0, wipes = 0, isolations = 0, appointments = 0,
           reconfigurations = 0, snapshots = 0, syncs = 0, reads = 0, refused_reads = 0,
           stale_reads = 0;
};

// PARTID_SIM_SEED_BASE shifts every sweep to seeds no earlier sweep ran (an
// offline sweep of 1,000,000 + n explores schedules CI never sees).
Totals run_seeds(int nodes, uint64_t first, uint64_t count, int replicas = 0) {
  first += env_or("PARTID_SIM_SEED_BASE", 0);
  Totals totals;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    SimOptions options;
    options.seed = seed;
    options.nodes = nodes;
    options.replicas = replicas;
    SimResult result = run_simulation(options);
    EXPECT_TRUE(result.ok) << result.failure;
    if (!result.ok) break;
    EXPECT_GT(result.final_commit, 0u) << "seed " << seed;
    totals.acknowledged += result.acknowledged;
    totals.crashes += result.crashes;
    totals.wipes += result.wipes;
    totals.isolations += result.isolations;
    totals.appointments += result.appointments;
    totals.reconfigurations += result.reconfigurations;
    totals.snapshots += result.snapshots;
    totals.syncs += result.sync_requests;
    totals.reads += result.reads_confirmed;
    totals.refused_reads += result.reads_refused;
    totals.stale_reads += result.stale_reads;
  }
  fmt::print(
      "{} nodes, {} replicas, seeds {}..{}: {} acknowledged writes, {} crashes, {} disk losses, "
      "{} isolations, {} appointments ({} changed the replica set), {} snapshots, {} catch-up "
      "requests; {} leader reads confirmed and checked, {} refused, {} begun at a replaced "
      "leader\n",
      nodes, replicas == 0 ? nodes : replicas, first, first + count - 1, totals.acknowledged,
      totals.crashes, totals.wipes, totals.isolations, totals.appointments, totals.reconfigurations,
      totals.snapshots, totals.syncs, totals.reads, totals.refused_reads, totals.stale_reads);
  return totals;
}

// The faults must actually happen, or the seeds prove nothing.
void expect_faults_exercised(const Totals& totals) {
  EXPECT_GT(totals.acknowledged, 0u);
  EXPECT_GT(totals.crashes, 0u);
  EXPECT_GT(totals.wipes, 0u);
  EXPECT_GT(totals.isolations, 0u);
  EXPECT_GT(totals.appointments, 0u);
  EXPECT_GT(totals.snapshots, 0u);
  EXPECT_GT(totals.syncs, 0u);
  EXPECT_GT(totals.reads, 0u);
  EXPECT_GT(totals.stale_reads, 0u);  // the reads a read barrier is there for
}

TEST(ReplicationSimTest, ThreeReplicasSurviveEveryFaultSchedule) {
  if (const char* seed = std::getenv("PARTID_SIM_SEED")) {
    SimOptions options;
    options.seed = std::strtoull(seed, nullptr, 10);
    options.nodes = static_cast<int>(env_or("PARTID_SIM_NODES", 3));
    options.replicas = static_cast<int>(env_or("PARTID_SIM_REPLICAS", 0));
    SimResult result = run_simulation(options);
    EXPECT_TRUE(result.ok) << result.failure;
    return;
  }
  expect_faults_exercised(run_seeds(3, 1, env_or("PARTID_SIM_SEEDS", 2000)));
}

TEST(ReplicationSimTest, FiveReplicasSurviveEveryFaultSchedule) {
  if (std::getenv("PARTID_SIM_SEED")) GTEST_SKIP() << "replaying one seed";
  expect_faults_exercised(run_seeds(5, 100001, env_or("PARTID_SIM_SEEDS", 2000) / 2));
}

// Five nodes, three replicas: the coordinator replaces members that go down
// and moves members on purpose, often before the set it replaces finished
// sealing, so leaders seal across changing sets. Before the seal register
// (core::SealRecord) this lost acknowledged writes in 8 of 100 seeds (first:
// 200018): a leader could learn the set that held the data from nobody.
TEST(ReplicationSimTest, ThreeOfFiveReplicasSurviveReplicaSetChanges) {
  if (std::getenv("PARTID_SIM_SEED")) GTEST_SKIP() << "replaying one seed";
  Totals totals = run_seeds(5, 200001, env_or("PARTID_SIM_SEEDS", 2000) / 2, 3);
  expect_faults_exercised(totals);
  EXPECT_GT(totals.reconfigurations, 0u);
}

}  // namespace
}  // namespace parti::test
