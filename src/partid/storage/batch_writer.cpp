#include "partid/storage/batch_writer.h"

#include "partid/storage/codec.h"
#include "partid/storage/keys.h"
#include "partid/storage/meta_updates.h"
#include "partid/storage/split_space.h"
#include "partid/storage/txn_space.h"

namespace partid::storage {
namespace {

bool is_newer(const ItemVersion& incoming, const Item& existing) {
  return incoming.sequence > existing.version.sequence ||
         (incoming.sequence == existing.version.sequence &&
          incoming.epoch > existing.version.epoch);
}

// A trim moves the partition's base at once, but deletes the entries behind
// it only when the base crosses a multiple of this many sequences. Every
// range deletion stays in its memtable until the flush, and RocksDB (7.8)
// fragments all of a memtable's range deletions inside the write that
// switches it: a log trimmed a few entries at a time (a short retention)
// piled up tens of thousands of them, and that write held every other write
// of the node for seconds. The entries left behind the base are no longer
// part of the log: every reader starts after the base.
constexpr uint64_t kLogDeleteStride = 1024;

}  // namespace

PartitionMeta& BatchWriter::meta(uint32_t partition) {
  auto it = metas_.find(partition);
  if (it == metas_.end()) it = metas_.emplace(partition, engine_.partition_meta(partition)).first;
  return it->second;
}

void BatchWriter::append_log(uint32_t partition, const LogRecord& record) {
  writes_.Put(engine_.log_, log_key(partition, record.sequence), encode_log_record(record));
  append_meta(meta(partition), record.sequence);
}

void BatchWriter::truncate_log(uint32_t partition, uint64_t after) {
  writes_.DeleteRange(engine_.log_, log_key(partition, after + 1), partition_end(partition));
  truncate_meta(meta(partition), after);
}

void BatchWriter::trim_log(uint32_t partition, uint64_t through, uint64_t through_epoch) {
  PartitionMeta& m = meta(partition);
  const uint64_t before = m.base_sequence;
  trim_meta(m, through, through_epoch);
  if (through / kLogDeleteStride > before / kLogDeleteStride) {
    writes_.DeleteRange(engine_.log_, partition_prefix(partition), log_key(partition, through + 1));
  }
}

std::optional<Item> BatchWriter::current(uint32_t partition, const std::string& key) const {
  if (auto it = written_.find(key); it != written_.end()) return it->second;
  if (replaced_.contains(partition)) return std::nullopt;
  return engine_.read_item(key, true);
}

void BatchWriter::put_item(uint32_t partition, const std::string& key, Item next, bool counted) {
  auto existing = current(partition, key);
  if (existing && !is_newer(next.version, *existing)) return;
  const bool was_live = existing && !existing->tombstone;
  if (counted) meta(partition).item_count += (next.tombstone ? 0 : 1) - (was_live ? 1 : 0);
  writes_.Put(engine_.items_, key, encode_item(next));
  written_[key] = std::move(next);
}

void BatchWriter::erase_reserved(const std::string& key) {
  writes_.Delete(engine_.items_, key);
  written_[key] = std::nullopt;
}

std::set<std::string> BatchWriter::keys_under(uint32_t partition, const std::string& prefix) const {
  std::set<std::string> keys;
  if (!replaced_.contains(partition)) {
    const std::string end = prefix_successor(prefix);
    rocksdb::Slice upper(end);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(engine_.db_->NewIterator(ro, engine_.items_));
    for (it->Seek(prefix); it->Valid(); it->Next()) keys.insert(it->key().ToString());
  }
  for (auto w = written_.lower_bound(prefix); w != written_.end() && w->first.starts_with(prefix);
       ++w) {
    keys.insert(w->first);
  }
  return keys;
}

std::optional<BatchWriter::Refused> BatchWriter::apply(const WriteOp& op) {
  // A merging partition takes no transaction's prepare or decision: its
  // copy might miss it. Unrecorded, so the step is retried in the partition
  // that takes its keys over.
  const bool txn_step = op.kind == WriteOp::Kind::TxnPrepare || op.kind == WriteOp::Kind::TxnDecide;
  if (txn_step && meta(op.partition).split.merging(op.partition)) {
    return merge_refusal(op.partition);
  }
  switch (op.kind) {
    case WriteOp::Kind::TxnPrepare:
      return prepare(op);
    case WriteOp::Kind::TxnDecide:
      return decide(op);
    case WriteOp::Kind::TxnResolve:
      resolve(op);
      return std::nullopt;
    case WriteOp::Kind::TxnForget:
      forget(op);
      return std::nullopt;
    case WriteOp::Kind::SplitFreeze:
      return split_freeze(op);
    case WriteOp::Kind::SplitImport:
      split_import(op);
      return std::nullopt;
    case WriteOp::Kind::SplitCleanup:
      return split_cleanup(op);
    case WriteOp::Kind::MergePad:
      return std::nullopt;
    case WriteOp::Kind::MergeAdopt:
      merge_adopt(op);
      return std::nullopt;
    default:
      return apply_item_op(op);
  }
}

std::optional<BatchWriter::Refused> BatchWriter::apply_item_op(const WriteOp& op) {
  Item next{{}, {}, op.message, op.version, op.kind != WriteOp::Kind::Put};
  if (auto refused = split_refusal(op.partition, op.partition_key)) return refused;
  if (op.kind != WriteOp::Kind::DeleteAll) {
    if (auto holder = lock_holder(op.partition, op.partition_key, op.range_key)) {
      return Refused{"locked_by_transaction",
                     "the item is locked by transaction " + *holder + " until it is resolved"};
    }
    put_item(op.partition, item_key(op.partition, op.partition_key, op.range_key), next);
    return std::nullopt;
  }
  if (auto holder = any_lock_on(op.partition, op.partition_key)) {
    return Refused{"locked_by_transaction",
                   "an item of the partition key is locked by transaction " + *holder +
                       " until it is resolved"};
  }
  for (const auto& key : keys_under(op.partition, item_prefix(op.partition, op.partition_key))) {
    auto existing = current(op.partition, key);
    if (existing && !existing->tombstone) put_item(op.partition, key, next);
  }
  return std::nullopt;
}

void BatchWriter::replace_state(const change::ReplaceState& replace) {
  const uint32_t p = replace.partition;
  writes_.DeleteRange(engine_.items_, partition_prefix(p), partition_end(p));
  std::erase_if(written_,
                [&](const auto& kv) { return kv.first.starts_with(partition_prefix(p)); });
  replaced_.insert(p);
  replace.items->for_each([&](Item& item) {
    std::string key = item_key(p, item.partition_key, item.range_key);
    writes_.Put(engine_.items_, key, encode_item(item));
    written_[std::move(key)] = std::move(item);
    return true;
  });
  writes_.DeleteRange(engine_.log_, partition_prefix(p),
                      replace.keep_tail ? log_key(p, replace.through + 1) : partition_end(p));
  replace_meta(meta(p), replace);
}

void BatchWriter::drop_partition(uint32_t partition) {
  const std::string from = partition_prefix(partition), to = partition_end(partition);
  writes_.DeleteRange(engine_.items_, from, to);
  writes_.DeleteRange(engine_.log_, from, to);
  std::erase_if(written_, [&](const auto& kv) { return kv.first.starts_with(from); });
  replaced_.insert(partition);
  metas_[partition] = PartitionMeta{};
  dropped_.insert(partition);
}

bool BatchWriter::gone(uint32_t partition, const PartitionMeta& meta) const {
  return dropped_.contains(partition) && meta == PartitionMeta{};
}

StoreStatus BatchWriter::write() {
  for (const auto& [p, m] : metas_) {
    if (gone(p, m)) {
      writes_.Delete(engine_.meta_, meta_partition_key(p));
    } else {
      writes_.Put(engine_.meta_, meta_partition_key(p), encode_partition_meta(m));
    }
  }
  rocksdb::WriteOptions wo;
  wo.sync = engine_.options_.sync;
  auto s = engine_.db_->Write(wo, &writes_);
  std::lock_guard lock(engine_.meta_mu_);
  for (const auto& [p, m] : metas_) {
    // Cache only what is on disk: after a failed write the entries are
    // re-read (they may be stale now).
    if (s.ok() && !gone(p, m)) {
      engine_.meta_cache_[p] = m;
    } else {
      engine_.meta_cache_.erase(p);
    }
  }
  return s.ok() ? StoreStatus{} : StoreStatus::error(s.ToString());
}

}  // namespace partid::storage
