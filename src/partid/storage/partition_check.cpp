#include "partid/storage/partition_check.h"

#include <fmt/format.h>
#include <rocksdb/db.h>
#include <xxhash.h>

#include <memory>

#include "partid/storage/codec.h"
#include "partid/storage/keys.h"
#include "partid/storage/txn_space.h"

namespace partid::storage {
namespace {

// One partition's key range of one column family, read through a snapshot.
std::unique_ptr<rocksdb::Iterator> range(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf,
                                         const rocksdb::Snapshot* snapshot, const std::string& from,
                                         const rocksdb::Slice* upper) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  ro.iterate_upper_bound = upper;
  ro.fill_cache = false;  // a whole-partition read must not evict the serving set
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(ro, cf));
  it->Seek(from);
  return it;
}

uint64_t sequence_of(const rocksdb::Slice& log_key) {
  uint64_t seq = 0;
  for (size_t i = 4; i < 12 && i < log_key.size(); ++i) {
    seq = (seq << 8) | static_cast<unsigned char>(log_key[i]);
  }
  return seq;
}

class Digest {
 public:
  Digest() : state_(XXH3_createState()) { XXH3_64bits_reset(state_.get()); }
  void add(std::string_view bytes) {
    add_number(bytes.size());  // length-prefixed: "a"+"bc" and "ab"+"c" differ
    XXH3_64bits_update(state_.get(), bytes.data(), bytes.size());
  }
  void add_number(uint64_t n) { XXH3_64bits_update(state_.get(), &n, sizeof n); }
  uint64_t value() const { return XXH3_64bits_digest(state_.get()); }

 private:
  struct Free {
    void operator()(XXH3_state_t* s) const { XXH3_freeState(s); }
  };
  std::unique_ptr<XXH3_state_t, Free> state_;
};

struct LogWalk {
  PartitionCheck& check;
  uint64_t digest_from, digest_to;
  uint64_t expected;  // the next sequence a gapless log holds
  uint64_t last_epoch;
  Digest digest;
  uint64_t digested = 0;

  void entry(uint64_t seq, std::string_view value) {
    if (seq != expected) {
      check.problem(seq > expected
                        ? fmt::format("log entries {}..{} are missing", expected, seq - 1)
                        : fmt::format("log entry {} is out of order", seq));
    }
    expected = seq + 1;
    auto record = decode_log_record(value);
    if (!record || record->sequence != seq) {
      check.problem(fmt::format("log entry {} does not decode", seq));
      return;
    }
    if (record->epoch < last_epoch) {
      check.problem(
          fmt::format("log entry {} has epoch {} after epoch {}", seq, record->epoch, last_epoch));
    }
    last_epoch = record->epoch;
    if (seq < digest_from || seq > digest_to) return;
    digest.add_number(seq);
    digest.add_number(record->epoch);
    digest.add_number(record->barrier ? 1 : 0);
    digest.add(record->payload);
    ++digested;
  }
};

// The items against the metadata and the watermark, and their digest.
void check_items(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* items,
                 const rocksdb::Snapshot* snapshot, uint32_t partition, const rocksdb::Slice* upper,
                 PartitionCheck& check) {
  const PartitionMeta& m = check.meta;
  Digest state;
  int64_t prepared = 0;
  for (auto it = range(db, items, snapshot, partition_prefix(partition), upper); it->Valid();
       it->Next()) {
    uint32_t p = 0;
    std::string pk, rk;
    auto item = decode_item(it->value().ToStringView());
    if (!item || !parse_item_key(it->key().ToStringView(), &p, &pk, &rk)) {
      check.problem("an item does not decode");
      continue;
    }
    if (item->version.sequence > m.watermark) {
      check.problem(fmt::format("item ({}, {}) has version {}, beyond the watermark {}", pk, rk,
                                item->version.sequence, m.watermark));
    }
    if (!is_reserved_key(pk)) {
      check.counted_items += item->tombstone ? 0 : 1;
    } else if (pk == kTxnRecordKey && !item->tombstone) {
      auto record = decode_txn_record(item->message);
      if (!record) check.problem("a transaction record does not decode");
      prepared += record && record->state == TxnRecord::State::Prepared ? 1 : 0;
      ++check.txn_records;
    } else if (pk == kTxnDecisionKey && !item->tombstone) {
      ++check.txn_decisions;
    }
    state.add(it->key().ToStringView());
    state.add(item->message);
    state.add_number(item->version.sequence);
    state.add_number(item->version.epoch);
    state.add_number(item->version.hlc);
    state.add_number(item->tombstone ? 1 : 0);
  }
  check.state_digest = state.value();
  if (prepared != m.pending_txns) {
    check.problem(fmt::format("{} transactions are prepared but the metadata counts {}", prepared,
                              m.pending_txns));
  }
  if (check.counted_items != m.item_count) {
    check.problem(fmt::format("{} live items are stored but the metadata counts {}",
                              check.counted_items, m.item_count));
  }
}

}  // namespace

void PartitionCheck::problem(std::string what) {
  if (problems.size() < kMaxListedProblems) {
    problems.push_back(std::move(what));
  } else {
    ++problems_omitted;
  }
}

PartitionCheck StoreEngine::check_partition(uint32_t partition, uint64_t digest_from,
                                            uint64_t digest_to, bool scan_items) const {
  PartitionCheck check;
  check.partition = partition;
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  const std::string end = partition_end(partition);
  const rocksdb::Slice upper(end);

  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  std::string value;
  if (db_->Get(ro, meta_, meta_partition_key(partition), &value).ok()) {
    if (auto meta = decode_partition_meta(value)) {
      check.meta = *meta;
    } else {
      check.problem("the partition's metadata does not decode");
    }
  }
  const PartitionMeta& m = check.meta;

  LogWalk log{check, digest_from, digest_to, m.base_sequence + 1, m.base_epoch, {}};
  // From after the base: a trim may leave entries behind it on disk
  // (BatchWriter::trim_log), which are no longer the log's.
  const std::string log_from = log_key(partition, m.base_sequence + 1);
  for (auto it = range(*db_, log_, snapshot, log_from, &upper); it->Valid(); it->Next()) {
    log.entry(sequence_of(it->key()), it->value().ToStringView());
    ++check.log_entries;
  }
  const uint64_t last = log.expected - 1;
  if (last != m.last_sequence) {
    check.problem(
        fmt::format("the log ends at {} but the metadata says {}", last, m.last_sequence));
  }
  if (m.watermark < m.base_sequence || m.watermark > m.last_sequence) {
    check.problem(fmt::format("watermark {} is outside the log [{}, {}]", m.watermark,
                              m.base_sequence, m.last_sequence));
  }
  const bool digestible = digest_from <= digest_to && digest_from > m.base_sequence &&
                          digest_to <= last && log.digested == digest_to - digest_from + 1;
  if (digestible) check.log_digest = log.digest.value();
  if (scan_items) check_items(*db_, items_, snapshot, partition, &upper, check);
  db_->ReleaseSnapshot(snapshot);
  return check;
}

}  // namespace partid::storage
