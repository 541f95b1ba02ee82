// storage: where a partition keeps its part of transactions across
// partitions (partid/txn). They live among the partition's items, under
// partition keys that start with a NUL byte (the API refuses those in client
// keys), so they are replicated by the partition's log, travel in its
// snapshots and go when it is dropped, like its items:
//   "\0txn"/<id>       a TxnRecord: this partition's part of transaction <id>
//   "\0lock"/<item>    the id of the transaction that has locked <item>
//   "\0decision"/<id>  a TxnRecord with <id>'s outcome, in its home partition
// Removing one leaves a tombstone, as for items; none is counted as an item.
// Records and decisions of a transaction whose deadline has passed are erased
// once they can matter no more (BatchWriter::forget): a transaction's id
// begins with its deadline, so they sort by it and the ones old enough to go
// are found without reading the others.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "partid/storage/store_engine.h"

namespace partid::storage {

bool is_reserved_key(std::string_view partition_key);

inline constexpr std::string_view kTxnRecordKey{"\0txn", 4};
inline constexpr std::string_view kTxnLockKey{"\0lock", 5};
inline constexpr std::string_view kTxnDecisionKey{"\0decision", 9};

// A transaction id: "<deadline>-<home>-<random>", the deadline in wall-clock
// milliseconds as 12 lowercase hex digits (so ids sort by it), the home
// partition (which holds the decision) in decimal, 16 lowercase hex digits.
// Ids made before deadlines existed, "<home>-<random>", are still read; they
// have no deadline.
struct TxnId {
  uint32_t home = 0;
  std::optional<uint64_t> deadline_ms;
};
std::string make_txn_id(uint64_t deadline_ms, uint32_t home, uint64_t random);
std::optional<TxnId> parse_txn_id(std::string_view txn);

// Whether transaction `a` goes before `b` in the wait-die order (the older
// waits for a younger one's locks; a younger one meeting an older one's lock
// is refused at once, so no two transactions ever wait for each other): the
// earlier deadline first (an id without one, from before deadlines, first of
// all), then the lower id. A total order over well-formed ids; an id that
// does not parse goes last.
bool txn_older(std::string_view a, std::string_view b);

// Whether a record (or a decision) of a transaction past its deadline can be
// erased: a record once resolved; a decision once an abort, or a commit every
// partition resolved (settled).
bool can_forget(const TxnRecord& record, bool is_decision);
// A partition's record of a transaction, or a decision (not a lock).
bool is_txn_record(const Item& item);

std::string txn_record_key(uint32_t partition, std::string_view txn);
std::string txn_decision_key(uint32_t partition, std::string_view txn);
std::string txn_lock_key(uint32_t partition, std::string_view partition_key,
                         std::string_view range_key);
// Every lock on an item of `partition_key`, and every record of the partition.
std::string txn_lock_prefix(uint32_t partition, std::string_view partition_key);
std::string txn_records_prefix(uint32_t partition);
std::string txn_decisions_prefix(uint32_t partition);
// The item a lock's range key names; false on one that is not a lock's.
bool parse_txn_lock(std::string_view lock_range_key, std::string* partition_key,
                    std::string* range_key);

}  // namespace partid::storage
