// storage: how BatchWriter applies the steps of a transaction across
// partitions and keeps the locks they hold (txn_space.h for the layout).
//  - A prepare locks its writes' items unless one is locked already (the
//    transaction is then refused here); a second prepare of the same
//    transaction changes nothing.
//  - A decision is recorded once: the first one applied in the home
//    partition's log stands, a different one after it is refused.
//  - A resolve applies the locked writes with the prepare's version
//    (committed) or drops them (aborted), and unlocks; a resolve that finds no
//    prepare leaves the outcome behind, so a prepare arriving later is refused.
//  - A prepare of a transaction all in one partition (`txn_single`) is the
//    whole transaction: refused as above (or when an abort of it is recorded
//    already), or its writes applied at once, without locks, and both its
//    record and its decision say committed.
//  - A write may carry a condition: the sequence of the item's current
//    version (0: absent or deleted). A prepare whose condition does not hold
//    when it is applied is refused (after the lock check: a locked item is a
//    conflict whatever its version), so a client that read the items can
//    write them back only if nothing else wrote them in between.
//  - While an item is locked, a client's write to it is refused.
//  - A transaction's id carries its deadline. Past it, by the clock of the
//    entry that carries the step (so every replica decides alike), a prepare
//    is refused and a commit decision is recorded as an abort instead: from
//    then on the outcome can only be an abort. So once every partition has
//    resolved it, its records can go, and its decision too if it is an abort
//    or a settled commit. A commit decision lists the partitions it must be
//    resolved in; settles (from its coordinator, or the home partition's
//    leader having asked them) strike off those that confirmed, and the
//    decision is settled once none is left. A forget entry erases those whose deadline is
//    before the time it names; a retry of an old step that comes after that
//    is refused by the deadline, as the record would have refused it.
#include "partid/storage/batch_writer.h"
#include "partid/storage/codec.h"
#include "partid/storage/keys.h"
#include "partid/storage/txn_space.h"

namespace partid::storage {
namespace {

const char* outcome(bool commit) { return commit ? "committed" : "aborted"; }

bool past_deadline(const WriteOp& op) {
  const auto id = parse_txn_id(op.txn);
  return id && id->deadline_ms && hlc_physical_ms(op.version.hlc) > *id->deadline_ms;
}

}  // namespace

std::optional<std::string> BatchWriter::lock_holder(uint32_t partition,
                                                    const std::string& partition_key,
                                                    const std::string& range_key) {
  if (meta(partition).pending_txns <= 0) return std::nullopt;
  auto lock = current(partition, txn_lock_key(partition, partition_key, range_key));
  if (!lock || lock->tombstone) return std::nullopt;
  return lock->message;
}

std::optional<std::string> BatchWriter::any_lock_on(uint32_t partition,
                                                    const std::string& partition_key) {
  if (meta(partition).pending_txns <= 0) return std::nullopt;
  for (const auto& key : keys_under(partition, txn_lock_prefix(partition, partition_key))) {
    auto lock = current(partition, key);
    if (lock && !lock->tombstone) return lock->message;
  }
  return std::nullopt;
}

std::optional<TxnRecord> BatchWriter::record_at(uint32_t partition, const std::string& key) const {
  auto item = current(partition, key);
  if (!item || item->tombstone) return std::nullopt;
  return decode_txn_record(item->message);
}

void BatchWriter::put_reserved(uint32_t partition, const std::string& key, std::string value,
                               const ItemVersion& version, bool removed) {
  put_item(partition, key, Item{{}, {}, std::move(value), version, removed}, false);
}

std::optional<BatchWriter::Refused> BatchWriter::prepare(const WriteOp& op) {
  const uint32_t p = op.partition;
  const std::string key = txn_record_key(p, op.txn);
  if (op.txn_single) {
    // Its decision is recorded with it: a repeat of a commit changes nothing,
    // and one that comes after an abort was recorded is refused.
    if (auto decided = record_at(p, txn_decision_key(p, op.txn))) {
      if (decided->state == TxnRecord::State::Committed) return std::nullopt;
      return Refused{"txn_aborted", "transaction " + op.txn + " is already aborted"};
    }
  }
  if (auto existing = record_at(p, key)) {
    if (existing->state == TxnRecord::State::Prepared) return std::nullopt;
    return Refused{"txn_conflict",
                   "transaction " + op.txn + " is already " +
                       (existing->state == TxnRecord::State::Refused ? std::string("refused")
                                                                     : std::string("resolved")) +
                       " in partition " + std::to_string(p)};
  }
  if (past_deadline(op)) {
    return Refused{"txn_expired", "transaction " + op.txn +
                                      " reached its deadline before it was prepared in " +
                                      "partition " + std::to_string(p)};
  }
  if (auto refused = prepare_refusal(op)) {
    // Recorded, so a repeat of this prepare is refused alike.
    put_reserved(p, key,
                 encode_txn_record({TxnRecord::State::Refused, op.txn_home, {}, op.version}),
                 op.version);
    if (op.txn_single) {
      put_reserved(p, txn_decision_key(p, op.txn),
                   encode_txn_record({TxnRecord::State::Aborted, p, {}, op.version}), op.version);
    }
    return refused;
  }
  TxnRecord record{TxnRecord::State::Prepared, op.txn_home, op.txn_writes, op.version};
  if (op.txn_single) {
    commit_single(op);
    return std::nullopt;
  }
  put_reserved(p, key, encode_txn_record(record), op.version);
  for (const auto& w : op.txn_writes) {
    put_reserved(p, txn_lock_key(p, w.partition_key, w.range_key), op.txn, op.version);
  }
  meta(p).pending_txns += 1;
  return std::nullopt;
}

std::optional<BatchWriter::Refused> BatchWriter::prepare_refusal(const WriteOp& op) {
  const uint32_t p = op.partition;
  for (const auto& w : op.txn_writes) {
    if (auto refused = split_refusal(p, w.partition_key)) return refused;
  }
  for (const auto& w : op.txn_writes) {
    if (auto holder = lock_holder(p, w.partition_key, w.range_key)) {
      return Refused{"txn_conflict", "item (" + w.partition_key + ", " + w.range_key +
                                         ") is locked by transaction " + *holder};
    }
  }
  for (const auto& w : op.txn_writes) {
    if (!w.if_sequence) continue;
    auto item = current(p, item_key(p, w.partition_key, w.range_key));
    const uint64_t at = item && !item->tombstone ? item->version.sequence : 0;
    if (at != *w.if_sequence) {
      return Refused{"txn_condition_failed",
                     "item (" + w.partition_key + ", " + w.range_key + ") is " +
                         (at == 0 ? std::string("absent") : "at sequence " + std::to_string(at)) +
                         ", not " +
                         (*w.if_sequence == 0 ? std::string("absent")
                                              : "at sequence " + std::to_string(*w.if_sequence))};
    }
  }
  return std::nullopt;
}

void BatchWriter::commit_single(const WriteOp& op) {
  const uint32_t p = op.partition;
  for (const auto& w : op.txn_writes) apply_write(p, w, op.version);
  // Resolved where it was decided: settled at once.
  const TxnRecord done{TxnRecord::State::Committed, p, {}, op.version, true};
  put_reserved(p, txn_record_key(p, op.txn), encode_txn_record(done), op.version);
  put_reserved(p, txn_decision_key(p, op.txn), encode_txn_record(done), op.version);
}

void BatchWriter::apply_write(uint32_t partition, const TxnWrite& w, const ItemVersion& version) {
  put_item(partition, item_key(partition, w.partition_key, w.range_key),
           Item{{}, {}, w.remove ? std::string() : w.message, version, w.remove});
}

std::optional<BatchWriter::Refused> BatchWriter::decide(const WriteOp& op) {
  const uint32_t p = op.partition;
  const std::string key = txn_decision_key(p, op.txn);
  const auto wanted = op.txn_commit ? TxnRecord::State::Committed : TxnRecord::State::Aborted;
  auto existing = record_at(p, key);
  if (op.txn_settled) return settle(op, existing);
  if (existing) {
    if (existing->state == wanted) return std::nullopt;
    return Refused{"txn_decided", "transaction " + op.txn + " is already " +
                                      outcome(existing->state == TxnRecord::State::Committed)};
  }
  if (wanted == TxnRecord::State::Committed && past_deadline(op)) {
    put_reserved(p, key, encode_txn_record({TxnRecord::State::Aborted, p, {}, op.version}),
                 op.version);
    return Refused{"txn_decided",
                   "transaction " + op.txn +
                       " reached its deadline before its commit was recorded: " + "it is aborted"};
  }
  TxnRecord decision{wanted, p, {}, op.version};
  if (wanted == TxnRecord::State::Committed) decision.participants = op.txn_partitions;
  put_reserved(p, key, encode_txn_record(decision), op.version);
  return std::nullopt;
}

std::optional<BatchWriter::Refused> BatchWriter::settle(const WriteOp& op,
                                                        std::optional<TxnRecord> decision) {
  if (!decision)
    return Refused{"txn_unknown", "no outcome of transaction " + op.txn + " is recorded"};
  if (decision->state != TxnRecord::State::Committed) {
    return Refused{"txn_decided", "transaction " + op.txn + " is aborted"};
  }
  if (decision->settled) return std::nullopt;
  const size_t before = decision->participants.size();
  std::erase_if(decision->participants, [&](uint32_t p) {
    return std::find(op.txn_partitions.begin(), op.txn_partitions.end(), p) !=
           op.txn_partitions.end();
  });
  decision->settled = decision->participants.empty();
  if (!decision->settled && decision->participants.size() == before) return std::nullopt;
  put_reserved(op.partition, txn_decision_key(op.partition, op.txn), encode_txn_record(*decision),
               op.version);
  return std::nullopt;
}

void BatchWriter::resolve(const WriteOp& op) {
  const uint32_t p = op.partition;
  const std::string key = txn_record_key(p, op.txn);
  const auto done = op.txn_commit ? TxnRecord::State::Committed : TxnRecord::State::Aborted;
  auto record = record_at(p, key);
  if (record && record->state != TxnRecord::State::Prepared) return;
  if (record) {
    for (const auto& w : record->writes) {
      if (op.txn_commit) apply_write(p, w, record->version);
      put_reserved(p, txn_lock_key(p, w.partition_key, w.range_key), {}, op.version, true);
    }
    meta(p).pending_txns -= 1;
  }
  put_reserved(p, key,
               encode_txn_record({done, record ? record->home : op.txn_home, {}, op.version}),
               op.version);
}

void BatchWriter::forget(const WriteOp& op) {
  const uint32_t p = op.partition;
  const uint64_t before_ms = std::min(op.txn_forget_before_ms, hlc_physical_ms(op.version.hlc));
  for (const auto& txn : op.txn_forget) {
    const auto id = parse_txn_id(txn);
    if (!id || !id->deadline_ms || *id->deadline_ms >= before_ms) continue;
    const std::string record = txn_record_key(p, txn);
    const std::string decision = txn_decision_key(p, txn);
    if (auto r = record_at(p, record); r && can_forget(*r, false)) erase_reserved(record);
    if (auto d = record_at(p, decision); d && can_forget(*d, true)) erase_reserved(decision);
  }
}

}  // namespace partid::storage
