#include "partid/storage/txn_space.h"

#include <fmt/format.h>

#include <charconv>

#include "partid/storage/keys.h"

namespace partid::storage {
namespace {

// An item key without its partition: what a lock's range key holds.
std::string item_suffix(std::string_view partition_key, std::string_view range_key) {
  return item_key(0, partition_key, range_key).substr(kPartitionPrefixBytes);
}

bool is_lower_hex(std::string_view text, size_t digits) {
  if (text.size() != digits) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

template <class Number>
std::optional<Number> parse_number(std::string_view text, int base) {
  Number out = 0;
  const char* end = text.data() + text.size();
  auto [at, error] = std::from_chars(text.data(), end, out, base);
  if (text.empty() || error != std::errc() || at != end) return std::nullopt;
  return out;
}

constexpr size_t kDeadlineDigits = 12;
constexpr size_t kRandomDigits = 16;

}  // namespace

std::string make_txn_id(uint64_t deadline_ms, uint32_t home, uint64_t random) {
  return fmt::format("{:012x}-{}-{:016x}", deadline_ms, home, random);
}

std::optional<TxnId> parse_txn_id(std::string_view txn) {
  const auto last = txn.rfind('-');
  if (last == std::string_view::npos || !is_lower_hex(txn.substr(last + 1), kRandomDigits)) {
    return std::nullopt;
  }
  std::string_view head = txn.substr(0, last);
  TxnId id;
  if (const auto first = head.find('-'); first != std::string_view::npos) {
    if (!is_lower_hex(head.substr(0, first), kDeadlineDigits)) return std::nullopt;
    id.deadline_ms = parse_number<uint64_t>(head.substr(0, first), 16);
    head = head.substr(first + 1);
  }
  if (head.empty() || head.front() == '+' || head.front() == '-') return std::nullopt;
  auto home = parse_number<uint32_t>(head, 10);
  if (!home) return std::nullopt;
  id.home = *home;
  return id;
}

bool txn_older(std::string_view a, std::string_view b) {
  const auto ia = parse_txn_id(a), ib = parse_txn_id(b);
  if (!ia || !ib) return ia.has_value() && !ib.has_value();
  const uint64_t da = ia->deadline_ms.value_or(0), db = ib->deadline_ms.value_or(0);
  return da != db ? da < db : a < b;
}

bool can_forget(const TxnRecord& record, bool is_decision) {
  if (!is_decision) return record.state != TxnRecord::State::Prepared;
  return record.state == TxnRecord::State::Aborted || record.settled;
}

bool is_txn_record(const Item& item) {
  return item.partition_key == kTxnRecordKey || item.partition_key == kTxnDecisionKey;
}

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

std::string txn_decisions_prefix(uint32_t partition) {
  return item_prefix(partition, kTxnDecisionKey);
}

bool parse_txn_lock(std::string_view lock_range_key, std::string* partition_key,
                    std::string* range_key) {
  uint32_t partition = 0;
  return parse_item_key(partition_prefix(0) + std::string(lock_range_key), &partition,
                        partition_key, range_key);
}

}  // namespace partid::storage
