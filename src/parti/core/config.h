// core: every libparti knob in one place, with the rules that make a
// configuration coherent. A Manager refuses to start on an invalid Config.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace parti {

using std::chrono::milliseconds;

struct Timings {
  milliseconds heartbeat_interval{2000};
  milliseconds heartbeat_ttl{6000};       // no Put for this long = Disconnected
  milliseconds id_ttl{30000};             // stable ID claim lifetime; renewed every ttl/3
  milliseconds election_ttl{6000};        // leader lease; renewed every ttl/3
  milliseconds cold_start_window{30000};  // 0 -> N workers, or restart
  milliseconds planned_scale_window{10000};
  milliseconds emergency_grace{1500};      // absence shorter than this never rebalances
  milliseconds rebalance_cooldown{10000};  // min time between two rebalances
  // The resize guard: a planned rebalance (a join, a clean leave, leader
  // balance, a partition set change without refresh) waits while any worker
  // reports data still moving for the last one, at most this long (0: no
  // guard). Emergencies, restarts and refreshes never wait.
  milliseconds resize_hold_max{60000};
  milliseconds poll_interval{1000};     // fallback polling while a watch is broken
  milliseconds watch_debounce{100};     // coalesces bursts of membership events
  milliseconds kv_timeout{2000};        // one KV request
  milliseconds startup_timeout{60000};  // start() gives up after this
};

struct Config {
  std::string bucket_prefix = "parti-";
  std::string worker_id_prefix = "node";
  uint32_t max_workers = 1024;
  uint32_t replication_factor = 1;
  uint32_t capacity_weight = 1;
  uint32_t kv_replicas =
      1;  // JetStream replicas of the control-plane buckets (3 on a 3-server cluster)
  double restart_ratio = 0.5;  // losing >= this fraction at once is a restart
  std::string instance_id;     // empty: a random one is generated
  std::string preferred_id;    // claimed first if free (a restarted node's old ID)
  // Waits up to timings.id_ttl for preferred_id to lapse before taking
  // another: a crashed node's own claim outlives it by up to id_ttl, and a
  // worker whose stored data follows its ID (partid) must come back as itself.
  bool wait_for_preferred_id = false;
  // Never give a worker an ID another process held before, unless it names
  // it as preferred_id (StableIdClaimer::never_reuse; used IDs are recorded
  // in the cluster bucket). For workers whose data follows their ID: a new
  // process with an empty disk then cannot pose as a dead worker. IDs grow
  // with every new disk, so max_workers bounds the IDs ever used.
  bool never_reuse_ids = false;
  // The instance_id of this worker's previous process, given only when the
  // caller knows that process is gone (partid: it held the data directory's
  // lock, which this process now holds). A preferred_id still held by that
  // instance is taken over at once (compare-and-set on the claim read)
  // instead of waited out: a node restarted after a crash is back in
  // seconds, not after id_ttl.
  std::string previous_instance;
  // Fixed for the cluster's life, written once and compared at every start
  // (a mismatch fails start()): partid puts its partition count here.
  std::map<std::string, std::string> cluster_settings;
  std::string api_address;  // published in the node record
  std::string peer_address;
  uint32_t data_format = 0;  // published in the node record (NodeRecord::format)
  // Planned moves that would replace a majority of a partition's replicas (or
  // give it a leader without its data) go in steps that each keep a quorum of
  // the set (assignment/staging.h). Matters for RF >= 3 only.
  bool staged_moves = true;
  Timings timings;
};

// Returns one message per broken rule; empty means valid.
std::vector<std::string> validate(const Config& c);

// Short timings for tests and demos: seconds, not tens of seconds.
Timings fast_timings();

}  // namespace parti
