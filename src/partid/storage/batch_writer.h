// storage: BatchWriter builds one atomic RocksDB write out of log changes,
// item changes and partition metadata. It reads before it writes (exact item
// counts; an older version never replaces a newer one), so each batch sees its
// own earlier writes through an overlay, including a partition it has just
// replaced wholesale. Used by StoreEngine's write paths only; one at a time.
// Transaction steps and the locks they hold are applied here too
// (txn_apply.cpp): whether an op takes effect depends only on the partition's
// state before it, so every replica decides the same.
#pragma once

#include <rocksdb/db.h>

#include <map>
#include <set>

#include "partid/storage/store_engine.h"

namespace partid::storage {

class BatchWriter {
 public:
  explicit BatchWriter(StoreEngine& engine) : engine_(engine) {}

  void append_log(uint32_t partition, const LogRecord& record);
  void truncate_log(uint32_t partition, uint64_t after);
  void trim_log(uint32_t partition, uint64_t through, uint64_t through_epoch);
  // Why the op had no effect (every replica decides alike), or nullopt.
  struct Refused {
    std::string code;
    std::string message;
  };
  std::optional<Refused> apply(const WriteOp& op);
  void replace_state(const change::ReplaceState& replace);
  void drop_partition(uint32_t partition);
  PartitionMeta& meta(uint32_t partition);
  // Writes everything (one fsync when the engine syncs) and updates the
  // engine's metadata cache.
  StoreStatus write();

 private:
  std::optional<Item> current(uint32_t partition, const std::string& key) const;
  bool gone(uint32_t partition, const PartitionMeta& meta) const;
  // `counted`: a client's item (the partition's item count follows it), not
  // a transaction's record or lock.
  void put_item(uint32_t partition, const std::string& key, Item next, bool counted = true);
  std::set<std::string> keys_under(uint32_t partition, const std::string& prefix) const;
  // txn_apply.cpp
  std::optional<Refused> apply_item_op(const WriteOp& op);
  std::optional<Refused> prepare(const WriteOp& op);
  // Why a prepare must be refused: an item locked, or a condition that does not hold.
  std::optional<Refused> prepare_refusal(const WriteOp& op);
  std::optional<Refused> decide(const WriteOp& op);
  std::optional<Refused> settle(const WriteOp& op, std::optional<TxnRecord> decision);
  void resolve(const WriteOp& op);
  void commit_single(const WriteOp& op);
  void apply_write(uint32_t partition, const TxnWrite& write, const ItemVersion& version);
  std::optional<std::string> lock_holder(uint32_t partition, const std::string& partition_key,
                                         const std::string& range_key);
  std::optional<std::string> any_lock_on(uint32_t partition, const std::string& partition_key);
  std::optional<TxnRecord> record_at(uint32_t partition, const std::string& key) const;
  void put_reserved(uint32_t partition, const std::string& key, std::string value,
                    const ItemVersion& version, bool removed = false);
  // Erases a key outright: no tombstone, as nothing can arrive later that it
  // would have to outrank (forget(), split_cleanup()).
  void erase_reserved(const std::string& key);
  void forget(const WriteOp& op);
  // split_apply.cpp
  std::optional<Refused> split_refusal(uint32_t partition, const std::string& partition_key);
  void set_split_rule(uint32_t partition, const SplitRule& rule, const ItemVersion& version);
  std::optional<Refused> split_freeze(const WriteOp& op);
  void split_import(const WriteOp& op);
  void merge_adopt(const WriteOp& op);
  // Partition `partition` is merging away: nothing may be written to it
  // that its copy could miss (storage/split_space.h).
  Refused merge_refusal(uint32_t partition);
  std::optional<Refused> split_cleanup(const WriteOp& op);

  StoreEngine& engine_;
  rocksdb::WriteBatch writes_;
  // item key -> what this batch wrote there (nullopt: erased)
  std::map<std::string, std::optional<Item>> written_;
  std::set<uint32_t> replaced_;  // partitions whose old items are gone
  // Partitions dropped: their metadata is deleted unless a later change
  // in the batch started them again.
  std::set<uint32_t> dropped_;
  std::map<uint32_t, PartitionMeta> metas_;
};

}  // namespace partid::storage
