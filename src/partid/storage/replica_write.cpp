// storage: the replication write path (write_replica, load_replica) and the
// unreplicated commit() built on the same BatchWriter.
#include <algorithm>

#include "partid/overloaded.h"
#include "partid/storage/batch_writer.h"
#include "partid/storage/codec.h"
#include "partid/storage/keys.h"
#include "partid/storage/meta_updates.h"

namespace partid::storage {
namespace {

// Where a step's snapshot install ends: after its ReplaceState and the hard
// state saved at the snapshot's watermark right behind it; changes.size()
// when the step installs nothing.
size_t install_end(const std::vector<ReplicaChange>& changes) {
  auto it = std::find_if(changes.begin(), changes.end(), [](const ReplicaChange& c) {
    return std::holds_alternative<change::ReplaceState>(c);
  });
  if (it == changes.end()) return changes.size();
  const auto& replace = std::get<change::ReplaceState>(*it);
  for (++it; it != changes.end(); ++it) {
    const auto* save = std::get_if<change::SaveState>(&*it);
    if (!save || save->partition != replace.partition || save->watermark > replace.through) break;
  }
  return static_cast<size_t>(it - changes.begin());
}

}  // namespace

StoreStatus StoreEngine::write_replica(const std::vector<ReplicaChange>& changes) {
  // An install reads its items while it writes them (ItemSource). One that
  // cannot (a source that throws: bytes that do not decode, memory that runs
  // out) fails the write, which stops the node as a failed disk write does,
  // instead of ending the process from a disk-pool thread; what it was
  // writing when it threw (a batch, or files not yet ingested) is not applied.
  try {
    return write_replica_parts(changes);
  } catch (const std::exception& e) {
    return StoreStatus::error(std::string("a write could not be made: ") + e.what());
  }
}

StoreStatus StoreEngine::write_replica_parts(const std::vector<ReplicaChange>& changes) {
  if (auto ingested = ingest_install(changes)) return *ingested;
  // An install that came with entries behind it (buffered while the snapshot
  // was on its way, then appended, committed and applied in the same step)
  // is ingested on its own, then the rest is written as one batch: a
  // replica stopped between the two holds the snapshot at its watermark, a
  // state it may be in. Written as one batch, a snapshot of hundreds of
  // megabytes would be copied into the WriteBatch and then a memtable.
  const auto cut = static_cast<std::ptrdiff_t>(install_end(changes));
  if (cut < static_cast<std::ptrdiff_t>(changes.size()) &&
      ingest_install({changes.begin(), changes.begin() + cut})) {
    return write_batch({changes.begin() + cut, changes.end()});
  }
  return write_batch(changes);
}

StoreStatus StoreEngine::write_batch(const std::vector<ReplicaChange>& changes) {
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
