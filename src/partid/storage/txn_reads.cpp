// storage: StoreEngine's reads of the transaction space (txn_space.h).
#include <rocksdb/db.h>

#include <set>
#include <type_traits>

#include "partid/storage/codec.h"
#include "partid/storage/keys.h"
#include "partid/storage/store_engine.h"
#include "partid/storage/txn_space.h"

namespace partid::storage {
namespace {

// Visits the live (not removed) values under `prefix`: key, value, until
// `visit` returns false.
template <class Visit>
void scan_live(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const std::string& prefix,
               Visit visit) {
  const std::string end = prefix_successor(prefix);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf));
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    auto item = decode_item(it->value().ToStringView());
    if (!item || item->tombstone) continue;
    if constexpr (std::is_same_v<decltype(visit(it->key().ToStringView(), *item)), bool>) {
      if (!visit(it->key().ToStringView(), *item)) return;
    } else {
      visit(it->key().ToStringView(), *item);
    }
  }
}

// Visits the records (or decisions) under `prefix` of transactions whose
// deadline is before `before_ms`, oldest first (ids sort by deadline), until
// `visit` returns false. Ids made before deadlines are passed over: kept.
template <class Visit>
void scan_past_deadline(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const std::string& prefix,
                        uint64_t before_ms, Visit visit) {
  scan_live(db, cf, prefix, [&](std::string_view key, const Item& item) {
    std::string txn(key.substr(prefix.size()));
    const auto id = parse_txn_id(txn);
    if (!id || !id->deadline_ms) return true;
    if (*id->deadline_ms >= before_ms) return false;
    auto record = decode_txn_record(item.message);
    return !record || visit(std::move(txn), *record);
  });
}

}  // namespace

std::optional<std::string> StoreEngine::txn_lock(uint32_t partition, std::string_view partition_key,
                                                 std::string_view range_key) const {
  auto lock = read_item(txn_lock_key(partition, partition_key, range_key), false);
  if (!lock) return std::nullopt;
  return lock->message;
}

std::map<std::string, std::string> StoreEngine::txn_locks(uint32_t partition,
                                                          std::string_view partition_key) const {
  std::map<std::string, std::string> out;  // range key -> transaction
  const std::string lock_items = item_prefix(partition, kTxnLockKey);
  scan_live(db_.get(), items_, txn_lock_prefix(partition, partition_key),
            [&](std::string_view key, const Item& lock) {
              std::string pk, rk;
              if (parse_txn_lock(key.substr(lock_items.size()), &pk, &rk)) out[rk] = lock.message;
            });
  return out;
}

std::optional<TxnRecord> StoreEngine::txn_record(uint32_t partition, std::string_view txn) const {
  auto item = read_item(txn_record_key(partition, txn), false);
  return item ? decode_txn_record(item->message) : std::nullopt;
}

std::optional<TxnRecord> StoreEngine::txn_decision(uint32_t partition, std::string_view txn) const {
  auto item = read_item(txn_decision_key(partition, txn), false);
  return item ? decode_txn_record(item->message) : std::nullopt;
}

std::vector<std::pair<std::string, TxnRecord>> StoreEngine::prepared_txns(
    uint32_t partition) const {
  std::vector<std::pair<std::string, TxnRecord>> out;
  const std::string prefix = txn_records_prefix(partition);
  scan_live(db_.get(), items_, prefix, [&](std::string_view key, const Item& item) {
    auto record = decode_txn_record(item.message);
    if (record && record->state == TxnRecord::State::Prepared) {
      out.emplace_back(std::string(key.substr(prefix.size())), std::move(*record));
    }
  });
  return out;
}

std::vector<std::string> StoreEngine::forgettable_txns(uint32_t partition, uint64_t before_ms,
                                                       size_t limit) const {
  std::set<std::string> out;
  for (const bool decisions : {false, true}) {
    const std::string prefix =
        decisions ? txn_decisions_prefix(partition) : txn_records_prefix(partition);
    scan_past_deadline(db_.get(), items_, prefix, before_ms,
                       [&](std::string txn, const TxnRecord& record) {
                         if (out.size() >= limit) return false;
                         if (can_forget(record, decisions)) out.insert(std::move(txn));
                         return true;
                       });
  }
  return {out.begin(), out.end()};
}

std::vector<std::pair<std::string, std::vector<uint32_t>>> StoreEngine::unsettled_commits(
    uint32_t partition, uint64_t before_ms, size_t limit) const {
  std::vector<std::pair<std::string, std::vector<uint32_t>>> out;
  scan_past_deadline(db_.get(), items_, txn_decisions_prefix(partition), before_ms,
                     [&](std::string txn, const TxnRecord& decision) {
                       if (out.size() >= limit) return false;
                       if (decision.state == TxnRecord::State::Committed && !decision.settled) {
                         out.emplace_back(std::move(txn), decision.participants);
                       }
                       return true;
                     });
  return out;
}

}  // namespace partid::storage
