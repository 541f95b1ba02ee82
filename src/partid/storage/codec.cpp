#include "partid/storage/codec.h"

#include <algorithm>

#include "proto/storage.pb.h"

namespace partid::storage {
namespace {

template <class Msg>
std::optional<Msg> parse(std::string_view bytes) {
  Msg m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return std::nullopt;
  return m;
}

pb::ItemOp::Op to_pb(WriteOp::Kind k) {
  switch (k) {
    case WriteOp::Kind::Put:
      return pb::ItemOp::PUT;
    case WriteOp::Kind::Delete:
      return pb::ItemOp::DELETE;
    case WriteOp::Kind::DeleteAll:
      return pb::ItemOp::DELETE_ALL;
    case WriteOp::Kind::TxnPrepare:
      return pb::ItemOp::TXN_PREPARE;
    case WriteOp::Kind::TxnDecide:
      return pb::ItemOp::TXN_DECIDE;
    case WriteOp::Kind::TxnResolve:
      return pb::ItemOp::TXN_RESOLVE;
    case WriteOp::Kind::TxnForget:
      return pb::ItemOp::TXN_FORGET;
    case WriteOp::Kind::SplitFreeze:
      return pb::ItemOp::SPLIT_FREEZE;
    case WriteOp::Kind::SplitImport:
      return pb::ItemOp::SPLIT_IMPORT;
    case WriteOp::Kind::SplitCleanup:
      return pb::ItemOp::SPLIT_CLEANUP;
    case WriteOp::Kind::MergePad:
      return pb::ItemOp::MERGE_PAD;
    case WriteOp::Kind::MergeAdopt:
      return pb::ItemOp::MERGE_ADOPT;
  }
  return pb::ItemOp::PUT;
}

std::optional<WriteOp::Kind> from_pb(int op) {
  switch (op) {
    case pb::ItemOp::PUT:
      return WriteOp::Kind::Put;
    case pb::ItemOp::DELETE:
      return WriteOp::Kind::Delete;
    case pb::ItemOp::DELETE_ALL:
      return WriteOp::Kind::DeleteAll;
    case pb::ItemOp::TXN_PREPARE:
      return WriteOp::Kind::TxnPrepare;
    case pb::ItemOp::TXN_DECIDE:
      return WriteOp::Kind::TxnDecide;
    case pb::ItemOp::TXN_RESOLVE:
      return WriteOp::Kind::TxnResolve;
    case pb::ItemOp::TXN_FORGET:
      return WriteOp::Kind::TxnForget;
    case pb::ItemOp::SPLIT_FREEZE:
      return WriteOp::Kind::SplitFreeze;
    case pb::ItemOp::SPLIT_IMPORT:
      return WriteOp::Kind::SplitImport;
    case pb::ItemOp::SPLIT_CLEANUP:
      return WriteOp::Kind::SplitCleanup;
    case pb::ItemOp::MERGE_PAD:
      return WriteOp::Kind::MergePad;
    case pb::ItemOp::MERGE_ADOPT:
      return WriteOp::Kind::MergeAdopt;
    default:
      return std::nullopt;
  }
}

void to_pb(const TxnWrite& w, pb::TxnWrite* out) {
  out->set_partition_key(w.partition_key);
  out->set_range_key(w.range_key);
  out->set_message(w.message);
  out->set_remove(w.remove);
  if (w.if_sequence) out->set_if_sequence(*w.if_sequence);
}

TxnWrite from_pb(const pb::TxnWrite& w) {
  TxnWrite out{w.partition_key(), w.range_key(), w.message(), w.remove()};
  if (w.has_if_sequence()) out.if_sequence = w.if_sequence();
  return out;
}

}  // namespace

std::string encode_item(const Item& item) {
  pb::StoredItem m;
  m.set_message(item.message);
  m.set_hlc(item.version.hlc);
  m.set_sequence(item.version.sequence);
  m.set_epoch(item.version.epoch);
  m.set_tombstone(item.tombstone);
  return m.SerializeAsString();
}

std::optional<Item> decode_item(std::string_view bytes) {
  auto m = parse<pb::StoredItem>(bytes);
  if (!m) return std::nullopt;
  Item item;
  item.message = m->message();
  item.version = {m->hlc(), m->sequence(), m->epoch()};
  item.tombstone = m->tombstone();
  return item;
}

std::string encode_log_record(const LogRecord& record) {
  pb::LogEntry m;
  m.set_epoch(record.epoch);
  m.set_sequence(record.sequence);
  m.set_barrier(record.barrier);
  m.set_payload(record.payload);
  return m.SerializeAsString();
}

std::optional<LogRecord> decode_log_record(std::string_view bytes) {
  auto m = parse<pb::LogEntry>(bytes);
  if (!m) return std::nullopt;
  return LogRecord{m->sequence(), m->epoch(), m->barrier(), m->payload()};
}

std::string encode_item_op(const WriteOp& op) {
  pb::ItemOp m;
  m.set_op(to_pb(op.kind));
  m.set_partition_key(op.partition_key);
  m.set_range_key(op.range_key);
  m.set_message(op.message);
  m.set_hlc(op.version.hlc);
  if (!op.txn.empty()) {
    m.set_txn(op.txn);
    m.set_txn_home(op.txn_home);
    m.set_txn_commit(op.txn_commit);
    m.set_txn_single(op.txn_single);
    for (const auto& w : op.txn_writes) to_pb(w, m.add_txn_writes());
    m.set_txn_settled(op.txn_settled);
    for (uint32_t p : op.txn_partitions) m.add_txn_partitions(p);
  }
  for (const auto& t : op.txn_forget) m.add_txn_forget(t);
  m.set_txn_forget_before_ms(op.txn_forget_before_ms);
  if (op.kind == WriteOp::Kind::SplitFreeze || op.kind == WriteOp::Kind::MergeAdopt) {
    m.set_split_base(op.split_rule.after.base);
    m.set_split_count(op.split_rule.after.count);
    m.set_split_target(op.split_rule.target);
  }
  if (op.kind == WriteOp::Kind::SplitImport) {
    m.set_import_sequence(op.import_version.sequence);
    m.set_import_epoch(op.import_version.epoch);
    m.set_import_hlc(op.import_version.hlc);
  }
  return m.SerializeAsString();
}

std::optional<WriteOp> decode_item_op(uint32_t partition, const LogRecord& record) {
  auto m = parse<pb::ItemOp>(record.payload);
  if (!m) return std::nullopt;
  auto kind = from_pb(m->op());
  if (!kind) return std::nullopt;
  WriteOp op;
  op.kind = *kind;
  op.partition = partition;
  op.partition_key = m->partition_key();
  op.range_key = m->range_key();
  op.message = m->message();
  op.version = {m->hlc(), record.sequence, record.epoch};
  op.txn = m->txn();
  op.txn_home = m->txn_home();
  op.txn_commit = m->txn_commit();
  op.txn_single = m->txn_single();
  for (const auto& w : m->txn_writes()) op.txn_writes.push_back(from_pb(w));
  op.txn_settled = m->txn_settled();
  op.txn_partitions.assign(m->txn_partitions().begin(), m->txn_partitions().end());
  op.txn_forget.assign(m->txn_forget().begin(), m->txn_forget().end());
  op.txn_forget_before_ms = m->txn_forget_before_ms();
  // A transaction step names its transaction; only those steps do.
  const bool is_step = op.kind == WriteOp::Kind::TxnPrepare ||
                       op.kind == WriteOp::Kind::TxnDecide || op.kind == WriteOp::Kind::TxnResolve;
  if (is_step == op.txn.empty()) return std::nullopt;
  if ((op.kind == WriteOp::Kind::TxnForget) == op.txn_forget.empty()) return std::nullopt;
  if (op.kind == WriteOp::Kind::SplitFreeze) {
    op.split_rule = {{m->split_base(), m->split_count()}, m->split_target(), false};
    if (!op.split_rule.after.valid() || op.split_rule.target == partition) return std::nullopt;
  }
  if (op.kind == WriteOp::Kind::MergeAdopt) {
    op.split_rule = {{m->split_base(), m->split_count()}, partition, true};
    if (!op.split_rule.after.valid() || op.split_rule.after.count <= partition) return std::nullopt;
  }
  if (op.kind == WriteOp::Kind::SplitImport) {
    op.import_version = {m->import_hlc(), m->import_sequence(), m->import_epoch()};
  }
  return op;
}

std::string encode_txn_record(const TxnRecord& record) {
  pb::TxnRecord m;
  m.set_state(static_cast<pb::TxnRecord::State>(record.state));
  m.set_home(record.home);
  for (const auto& w : record.writes) to_pb(w, m.add_writes());
  m.set_hlc(record.version.hlc);
  m.set_sequence(record.version.sequence);
  m.set_epoch(record.version.epoch);
  m.set_settled(record.settled);
  for (uint32_t p : record.participants) m.add_participants(p);
  return m.SerializeAsString();
}

std::optional<TxnRecord> decode_txn_record(std::string_view bytes) {
  auto m = parse<pb::TxnRecord>(bytes);
  if (!m || !pb::TxnRecord::State_IsValid(m->state())) return std::nullopt;
  TxnRecord record;
  record.state = static_cast<TxnRecord::State>(m->state());
  record.home = m->home();
  for (const auto& w : m->writes()) record.writes.push_back(from_pb(w));
  record.version = {m->hlc(), m->sequence(), m->epoch()};
  record.settled = m->settled();
  record.participants.assign(m->participants().begin(), m->participants().end());
  return record;
}

namespace {

pb::SplitRule to_pb(const SplitRule& rule) {
  pb::SplitRule m;
  m.set_base(rule.after.base);
  m.set_count(rule.after.count);
  m.set_target(rule.target);
  m.set_moved(rule.moved);
  return m;
}

SplitRule from_pb(const pb::SplitRule& m) {
  SplitRule rule{{m.base(), m.count()}, m.target(), m.moved()};
  return rule.after.valid() ? rule : SplitRule{};
}

}  // namespace

std::string encode_split_rule(const SplitRule& rule) { return to_pb(rule).SerializeAsString(); }

std::optional<SplitRule> decode_split_rule(std::string_view bytes) {
  auto m = parse<pb::SplitRule>(bytes);
  if (!m) return std::nullopt;
  return from_pb(*m);
}

std::string encode_partition_meta(const PartitionMeta& meta) {
  pb::PartitionMeta m;
  m.set_epoch(meta.epoch);
  m.set_last_sequence(meta.last_sequence);
  m.set_watermark(meta.watermark);
  m.set_item_count(meta.item_count);
  m.set_applied_epoch(meta.applied_epoch);
  m.set_base_sequence(meta.base_sequence);
  m.set_base_epoch(meta.base_epoch);
  m.set_rebuilding(meta.rebuilding);
  m.set_pending_txns(meta.pending_txns);
  if (meta.split.active()) *m.mutable_split() = to_pb(meta.split);
  m.set_hlc_floor(meta.hlc_floor);
  return m.SerializeAsString();
}

std::optional<PartitionMeta> decode_partition_meta(std::string_view bytes) {
  auto m = parse<pb::PartitionMeta>(bytes);
  if (!m) return std::nullopt;
  PartitionMeta meta;
  meta.epoch = m->epoch();
  meta.last_sequence = m->last_sequence();
  meta.watermark = m->watermark();
  meta.item_count = m->item_count();
  meta.applied_epoch = m->applied_epoch();
  meta.base_sequence = m->base_sequence();
  meta.base_epoch = m->base_epoch();
  meta.rebuilding = m->rebuilding();
  meta.pending_txns = m->pending_txns();
  if (m->has_split()) meta.split = from_pb(m->split());
  meta.hlc_floor = m->hlc_floor();
  return meta;
}

std::string encode_node_metadata(const NodeMetadata& meta) {
  pb::NodeMetadata m;
  m.set_stable_id(meta.stable_id);
  m.set_cluster(meta.cluster);
  m.set_partitions(meta.partitions);
  m.set_replication_factor(meta.replication_factor);
  m.set_disk_id(meta.disk_id);
  m.set_instance(meta.instance);
  m.set_format(meta.format);
  return m.SerializeAsString();
}

std::optional<NodeMetadata> decode_node_metadata(std::string_view bytes) {
  auto m = parse<pb::NodeMetadata>(bytes);
  if (!m) return std::nullopt;
  NodeMetadata meta;
  meta.stable_id = m->stable_id();
  meta.cluster = m->cluster();
  meta.partitions = m->partitions();
  meta.replication_factor = m->replication_factor();
  meta.disk_id = m->disk_id();
  meta.instance = m->instance();
  meta.format = std::max<uint32_t>(m->format(), 1);
  return meta;
}

}  // namespace partid::storage
