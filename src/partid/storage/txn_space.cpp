#include "partid/storage/txn_space.h"

#include "partid/storage/keys.h"

namespace partid::storage {
namespace {

// An item key without its partition: what a lock's range key holds.
std::string item_suffix(std::string_view partition_key, std::string_view range_key) {
  return item_key(0, partition_key, range_key).substr(kPartitionPrefixBytes);
}

}  // namespace

bool is_reserved_key(std::string_view partition_key) {
  return !partition_key.empty() && partition_key.front() == '\0';
}

std::string txn_record_key(uint32_t partition, std::string_view txn) {
  return item_key(partition, kTxnRecordKey, txn);
}

std::string txn_decision_key(uint32_t partition, std::string_view txn) {
  return item_key(partition, kTxnDecisionKey, txn);
}

std::string txn_lock_key(uint32_t partition, std::string_view partition_key,
                         std::string_view range_key) {
  return item_key(partition, kTxnLockKey, item_suffix(partition_key, range_key));
}

std::string txn_lock_prefix(uint32_t partition, std::string_view partition_key) {
  return item_key(partition, kTxnLockKey, item_suffix(partition_key, ""));
}

std::string txn_records_prefix(uint32_t partition) { return item_prefix(partition, kTxnRecordKey); }

bool parse_txn_lock(std::string_view lock_range_key, std::string* partition_key,
                    std::string* range_key) {
  uint32_t partition = 0;
  return parse_item_key(partition_prefix(0) + std::string(lock_range_key), &partition,
                        partition_key, range_key);
}

}  // namespace partid::storage
