// manager: counters of a worker's coordination, for monitoring. Each counts
// from the Manager's start and only grows. The library logs every event they
// count; the counters let an operator alert on a rate instead of reading logs
// (a watch made again by an audit, a worker whose heartbeats NATS stopped
// taking).
#pragma once

#include <cstdint>

namespace parti {

struct CoordinationStats {
  // Every error the Manager reported (each also goes to Hooks::on_error).
  uint64_t errors = 0;
  // Heartbeat puts NATS did not take.
  uint64_t heartbeats_failed = 0;
  // Times no heartbeat was taken for a whole heartbeat TTL (the others count
  // the worker gone; it is Degraded until one is taken).
  uint64_t heartbeat_lapses = 0;
  // Times the worker found its stable ID lost and claimed it again.
  uint64_t id_reclaims = 0;
  // Terms this worker won as the coordinator (the leader).
  uint64_t leaderships_won = 0;
  // KV watches (membership, assignment) an audit found stuck, delivering
  // nothing without an error, and made again. Follows the watches within one
  // heartbeat interval.
  uint64_t watch_renewals = 0;
};

}  // namespace parti
