#include "partid/storage/meta_updates.h"

#include <algorithm>

#include "partid/storage/codec.h"
#include "partid/storage/split_space.h"
#include "partid/storage/txn_space.h"

namespace partid::storage {

void replace_meta(PartitionMeta& m, const change::ReplaceState& replace) {
  m.item_count = 0;
  m.pending_txns = 0;
  m.split = {};
  for (const Item& item : *replace.items) {
    if (!is_reserved_key(item.partition_key)) {
      m.item_count += item.tombstone ? 0 : 1;
    } else if (item.partition_key == kTxnRecordKey && !item.tombstone) {
      auto record = decode_txn_record(item.message);
      m.pending_txns += record && record->state == TxnRecord::State::Prepared ? 1 : 0;
    } else if (item.partition_key == kSplitKey && !item.tombstone) {
      m.split = decode_split_rule(item.message).value_or(SplitRule{});
    }
    m.hlc_floor = std::max(m.hlc_floor, item.version.hlc);
  }
  if (replace.keep_tail) {
    trim_meta(m, replace.through, replace.through_epoch);
  } else {
    m.last_sequence = replace.through;
    m.base_sequence = replace.through;
    m.base_epoch = replace.through_epoch;
  }
  m.applied_epoch = replace.through_epoch;
}

void save_meta(PartitionMeta& m, const change::SaveState& save) {
  m.epoch = save.promised_epoch;
  m.watermark = save.watermark;
  m.rebuilding = save.rebuilding;
}

void append_meta(PartitionMeta& m, uint64_t sequence) {
  m.last_sequence = std::max(m.last_sequence, sequence);
}

void truncate_meta(PartitionMeta& m, uint64_t after) {
  m.last_sequence = std::min(m.last_sequence, after);
}

void trim_meta(PartitionMeta& m, uint64_t through, uint64_t through_epoch) {
  if (through <= m.base_sequence) return;
  m.base_sequence = through;
  m.base_epoch = through_epoch;
}

}  // namespace partid::storage
