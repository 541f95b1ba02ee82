// storage: how BatchWriter applies the steps of a split (split_space.h).
#include "partid/storage/batch_writer.h"
#include "partid/storage/codec.h"
#include "partid/storage/keys.h"
#include "partid/storage/split_space.h"
#include "partid/storage/txn_space.h"

namespace partid::storage {

std::string split_rule_key(uint32_t partition) { return item_key(partition, kSplitKey, ""); }

std::optional<BatchWriter::Refused> BatchWriter::split_refusal(uint32_t partition,
                                                               const std::string& partition_key) {
  const SplitRule& rule = meta(partition).split;
  if (!rule.excludes(partition, partition_key)) return std::nullopt;
  if (rule.merging(partition)) return merge_refusal(partition);
  if (rule.moved) {
    return Refused{"partition_moved", "the partition key moved to partition " +
                                          std::to_string(rule.after.partition_of(partition_key)) +
                                          " in a split; the sender's layout is out of date"};
  }
  return Refused{"partition_splitting",
                 "the partition key is moving to partition " + std::to_string(rule.target) +
                     " in a split of partition " + std::to_string(partition)};
}

BatchWriter::Refused BatchWriter::merge_refusal(uint32_t partition) {
  return Refused{"partition_merging", "partition " + std::to_string(partition) +
                                          " is merging into partition " +
                                          std::to_string(meta(partition).split.target)};
}

void BatchWriter::set_split_rule(uint32_t partition, const SplitRule& rule,
                                 const ItemVersion& version) {
  meta(partition).split = rule;
  put_reserved(partition, split_rule_key(partition), encode_split_rule(rule), version);
}

std::optional<BatchWriter::Refused> BatchWriter::split_freeze(const WriteOp& op) {
  const uint32_t p = op.partition;
  const SplitRule& current = meta(p).split;
  const bool same = current.after == op.split_rule.after && current.target == op.split_rule.target;
  // A repeat, also one that comes after the split finished (a driver acting
  // on an old record): the keys stay moved.
  if (current.active() && same) return std::nullopt;
  if (current.active() && !current.moved) {
    return Refused{"split_in_progress", "partition " + std::to_string(p) +
                                            " is already splitting into partition " +
                                            std::to_string(current.target)};
  }
  if (meta(p).pending_txns > 0) {
    return Refused{"txn_in_progress",
                   "partition " + std::to_string(p) +
                       " has prepared transactions; it splits once they are resolved"};
  }
  set_split_rule(p, {op.split_rule.after, op.split_rule.target, false}, op.version);
  return std::nullopt;
}

void BatchWriter::split_import(const WriteOp& op) {
  Item next{{}, {}, op.message, op.import_version, false};
  // A merge copies the source's transaction records too; like any reserved
  // item they are not counted.
  const bool counted = !is_reserved_key(op.partition_key);
  put_item(op.partition, item_key(op.partition, op.partition_key, op.range_key), std::move(next),
           counted);
}

void BatchWriter::merge_adopt(const WriteOp& op) {
  // The rule of the merged layout, moved: the keys it sends elsewhere stay
  // refused here; the merged partition's keys are now this partition's.
  set_split_rule(op.partition, op.split_rule, op.version);
}

std::optional<BatchWriter::Refused> BatchWriter::split_cleanup(const WriteOp& op) {
  const uint32_t p = op.partition;
  SplitRule rule = meta(p).split;
  if (!rule.active())
    return Refused{"no_split", "partition " + std::to_string(p) + " is not splitting"};
  if (rule.moved) return std::nullopt;
  PartitionMeta& m = meta(p);
  for (const auto& key : keys_under(p, partition_prefix(p))) {
    uint32_t partition = 0;
    std::string partition_key, range_key;
    if (!parse_item_key(key, &partition, &partition_key, &range_key)) continue;
    if (is_reserved_key(partition_key) || !rule.excludes(p, partition_key)) continue;
    auto existing = current(p, key);
    if (existing && !existing->tombstone) m.item_count -= 1;
    erase_reserved(key);
  }
  rule.moved = true;
  set_split_rule(p, rule, op.version);
  return std::nullopt;
}

}  // namespace partid::storage
