// storage: BatchWriter builds one atomic RocksDB write out of log changes,
// item changes and partition metadata. It reads before it writes (exact item
// counts; an older version never replaces a newer one), so each batch sees its
// own earlier writes through an overlay, including a partition it has just
// replaced wholesale. Used by StoreEngine's write paths only; one at a time.
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
  void apply(const WriteOp& op);
  void replace_state(const change::ReplaceState& replace);
  PartitionMeta& meta(uint32_t partition);
  // Writes everything (one fsync when the engine syncs) and updates the
  // engine's metadata cache.
  StoreStatus write();

 private:
  std::optional<Item> current(uint32_t partition, const std::string& key) const;
  void put_item(uint32_t partition, const std::string& key, Item next);
  std::set<std::string> keys_under(uint32_t partition, const std::string& prefix) const;

  StoreEngine& engine_;
  rocksdb::WriteBatch writes_;
  std::map<std::string, Item> written_;  // item key -> what this batch wrote there
  std::set<uint32_t> replaced_;          // partitions whose old items are gone
  std::map<uint32_t, PartitionMeta> metas_;
};

}  // namespace partid::storage
