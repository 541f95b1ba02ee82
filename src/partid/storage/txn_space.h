// storage: where a partition keeps its part of transactions across
// partitions (partid/txn). They live among the partition's items, under
// partition keys that start with a NUL byte (the API refuses those in client
// keys), so they are replicated by the partition's log, travel in its
// snapshots and go when it is dropped, like its items:
//   "\0txn"/<id>       a TxnRecord: this partition's part of transaction <id>
//   "\0lock"/<item>    the id of the transaction that has locked <item>
//   "\0decision"/<id>  a TxnRecord with <id>'s outcome, in its home partition
// Removing one leaves a tombstone, as for items; none is counted as an item.
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

std::string txn_record_key(uint32_t partition, std::string_view txn);
std::string txn_decision_key(uint32_t partition, std::string_view txn);
std::string txn_lock_key(uint32_t partition, std::string_view partition_key,
                         std::string_view range_key);
// Every lock on an item of `partition_key`, and every record of the partition.
std::string txn_lock_prefix(uint32_t partition, std::string_view partition_key);
std::string txn_records_prefix(uint32_t partition);
// The item a lock's range key names; false on one that is not a lock's.
bool parse_txn_lock(std::string_view lock_range_key, std::string* partition_key,
                    std::string* range_key);

}  // namespace partid::storage
