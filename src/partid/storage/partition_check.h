// storage: PartitionCheck, an integrity check of one replica of one partition
// as it is on disk — the operator's "validate the confirmation state against
// the actual events" (seed 004). It reads the log, the items and the metadata
// from one RocksDB snapshot, so a check during writes sees one moment.
//
// What it guarantees to catch on this replica: a log that is not gapless from
// its base to its last entry, a log entry that does not decode, epochs that
// go backwards along the log, a watermark outside [base, last], an item whose
// version is beyond the watermark (applied but never committed), and an item
// count that differs from the items actually stored. Digests make replicas
// comparable (see ApiService::validate): the committed log range every
// replica holds must be identical, and replicas at the same watermark must
// hold identical state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "partid/storage/store_engine.h"

namespace partid::storage {

struct PartitionCheck {
  uint32_t partition = 0;
  PartitionMeta meta;
  uint64_t log_entries = 0;
  int64_t counted_items = 0;  // live items actually stored
  // Transactions' records and decisions stored (txn_space.h): until they are
  // forgotten, a transaction leaves these behind.
  uint64_t txn_records = 0;
  uint64_t txn_decisions = 0;
  // xxh3 over every item (tombstones included) in key order: key, message,
  // version (sequence, epoch, hlc), tombstone.
  uint64_t state_digest = 0;
  // xxh3 over the log entries [from, to] (sequence, epoch, barrier, payload)
  // when asked for and all held here; nullopt otherwise.
  std::optional<uint64_t> log_digest;
  std::vector<std::string> problems;  // empty (and none omitted): consistent
  size_t problems_omitted = 0;        // found beyond kMaxListedProblems

  bool consistent() const { return problems.empty() && problems_omitted == 0; }
  void problem(std::string what);
};

// At most this many problems are listed per check: a broken log could
// otherwise list every entry.
inline constexpr size_t kMaxListedProblems = 20;

}  // namespace partid::storage
