// storage: the replication write path (write_replica, load_replica) and the
// unreplicated commit() built on the same BatchWriter.
#include <algorithm>

#include "partid/overloaded.h"
#include "partid/storage/batch_writer.h"
#include "partid/storage/codec.h"
#include "partid/storage/keys.h"
#include "partid/storage/meta_updates.h"

namespace partid::storage {
StoreStatus StoreEngine::write_replica(const std::vector<ReplicaChange>& changes) {
  if (auto ingested = ingest_install(changes)) return *ingested;
  BatchWriter batch(*this);
  std::vector<Refusal> refused;
  auto apply = [&](const WriteOp& op) {
    if (auto r = batch.apply(op)) {
      refused.push_back(
          {op.partition, op.version.sequence, std::move(r->code), std::move(r->message)});
    }
  };
  for (const auto& c : changes) {
    std::visit(Overloaded{
                   [&](const change::TruncateLog& t) { batch.truncate_log(t.partition, t.after); },
                   [&](const change::AppendLog& a) {
                     for (const auto& r : a.records) batch.append_log(a.partition, r);
                   },
                   [&](const change::SaveState& s) { save_meta(batch.meta(s.partition), s); },
                   [&](const change::Apply& a) {
                     for (const auto& op : a.ops) apply(op);
                     batch.meta(a.partition).applied_epoch = a.through_epoch;
                   },
                   [&](const change::TrimLog& t) {
                     batch.trim_log(t.partition, t.through, t.through_epoch);
                   },
                   [&](const change::ReplaceState& r) { batch.replace_state(r); },
                   [&](const change::DropPartition& d) { batch.drop_partition(d.partition); },
               },
               c);
  }
  StoreStatus status = batch.write();
  if (status.ok) status.refused = std::move(refused);
  return status;
}

ReplicaRecord StoreEngine::load_replica(uint32_t partition) const {
  ReplicaRecord out;
  out.meta = partition_meta(partition);
  out.log = read_log(partition, out.meta.base_sequence + 1, UINT64_MAX);
  return out;
}

StoreStatus StoreEngine::commit(const std::vector<WriteOp>& ops) {
  BatchWriter batch(*this);
  for (const WriteOp& op : ops) {
    batch.append_log(op.partition,
                     {op.version.sequence, op.version.epoch, false, encode_item_op(op)});
    batch.apply(op);
    PartitionMeta& m = batch.meta(op.partition);
    m.watermark = std::max(m.watermark, op.version.sequence);
    m.epoch = std::max(m.epoch, op.version.epoch);
    m.applied_epoch = std::max(m.applied_epoch, op.version.epoch);
  }
  return batch.write();
}

std::vector<LogRecord> StoreEngine::read_log(uint32_t partition, uint64_t from, uint64_t to) const {
  from = std::max(from, partition_meta(partition).base_sequence + 1);  // see BatchWriter::trim_log
  const std::string end = partition_end(partition);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, log_));
  std::vector<LogRecord> out;
  for (it->Seek(log_key(partition, from)); it->Valid(); it->Next()) {
    auto record = decode_log_record(it->value().ToStringView());
    if (!record || record->sequence > to) break;
    out.push_back(std::move(*record));
  }
  return out;
}

}  // namespace partid::storage
