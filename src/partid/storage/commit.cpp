// storage: StoreEngine::commit, the one write path. It reads before it writes
// (to keep exact item counts and to refuse older versions), so it has a single
// caller at a time; ops within one batch see each other through an overlay.
#include <rocksdb/db.h>

#include "partid/storage/codec.h"
#include "partid/storage/keys.h"
#include "partid/storage/store_engine.h"

namespace partid::storage {

struct StoreEngine::Batch {
  rocksdb::WriteBatch writes;
  // Item key -> the version this batch has written there (overlay of the DB).
  std::map<std::string, Item> written;
  std::map<uint32_t, PartitionMeta> metas;
};

namespace {

bool is_newer(const ItemVersion& incoming, const Item& existing) {
  return incoming.sequence > existing.version.sequence ||
         (incoming.sequence == existing.version.sequence &&
          incoming.epoch > existing.version.epoch);
}

}  // namespace

StoreStatus StoreEngine::commit(const std::vector<WriteOp>& ops) {
  Batch batch;
  auto current = [&](const std::string& key) -> std::optional<Item> {
    if (auto it = batch.written.find(key); it != batch.written.end()) return it->second;
    return read_item(key, true);
  };
  auto meta_of = [&](uint32_t p) -> PartitionMeta& {
    auto it = batch.metas.find(p);
    if (it == batch.metas.end()) it = batch.metas.emplace(p, partition_meta(p)).first;
    return it->second;
  };
  // Writes one item version (or tombstone) unless a newer one is already there.
  auto apply = [&](uint32_t p, const std::string& key, Item next) {
    auto existing = current(key);
    if (existing && !is_newer(next.version, *existing)) return;
    const bool was_live = existing && !existing->tombstone;
    meta_of(p).item_count += (next.tombstone ? 0 : 1) - (was_live ? 1 : 0);
    batch.writes.Put(items_, key, encode_item(next));
    batch.written[key] = std::move(next);
  };
  for (const WriteOp& op : ops) {
    PartitionMeta& meta = meta_of(op.partition);
    batch.writes.Put(log_, log_key(op.partition, op.version.sequence), encode_log_entry(op));
    meta.last_sequence = std::max(meta.last_sequence, op.version.sequence);
    meta.watermark = std::max(meta.watermark, op.version.sequence);
    meta.epoch = std::max(meta.epoch, op.version.epoch);
    Item next{{}, {}, op.message, op.version, op.kind != WriteOp::Kind::Put};
    if (op.kind != WriteOp::Kind::DeleteAll) {
      apply(op.partition, item_key(op.partition, op.partition_key, op.range_key), next);
      continue;
    }
    // Every key under the partition key, on disk or written earlier in this batch.
    const std::string prefix = item_prefix(op.partition, op.partition_key);
    std::set<std::string> keys;
    const std::string end = prefix_successor(prefix);
    rocksdb::Slice upper(end);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, items_));
    for (it->Seek(prefix); it->Valid(); it->Next()) keys.insert(it->key().ToString());
    for (auto w = batch.written.lower_bound(prefix);
         w != batch.written.end() && w->first.starts_with(prefix); ++w) {
      keys.insert(w->first);
    }
    for (const auto& key : keys) {
      auto existing = current(key);
      if (existing && !existing->tombstone) apply(op.partition, key, next);
    }
  }
  for (const auto& [p, meta] : batch.metas) {
    batch.writes.Put(meta_, meta_partition_key(p), encode_partition_meta(meta));
  }
  return write(batch);
}

StoreStatus StoreEngine::write(Batch& batch) {
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  auto s = db_->Write(wo, &batch.writes);
  std::lock_guard lock(meta_mu_);
  for (const auto& [p, meta] : batch.metas) {
    // Cache only what is on disk: a failed write leaves the entries to be
    // re-read (they may be stale now).
    if (s.ok()) {
      meta_cache_[p] = meta;
    } else {
      meta_cache_.erase(p);
    }
  }
  return s.ok() ? StoreStatus{} : StoreStatus::error(s.ToString());
}

StoreStatus StoreEngine::insert(uint32_t partition, const Item& item) {
  WriteOp op;
  op.kind = WriteOp::Kind::Put;
  op.partition = partition;
  op.partition_key = item.partition_key;
  op.range_key = item.range_key;
  op.message = item.message;
  op.version = item.version;
  return commit({op});
}

StoreStatus StoreEngine::remove(uint32_t partition, std::string_view partition_key,
                                std::string_view range_key, const ItemVersion& version) {
  WriteOp op;
  op.kind = WriteOp::Kind::Delete;
  op.partition = partition;
  op.partition_key = partition_key;
  op.range_key = range_key;
  op.version = version;
  return commit({op});
}

}  // namespace partid::storage
