#include "partid/storage/meta_updates.h"

#include <algorithm>

#include "partid/storage/item_source.h"

namespace partid::storage {

void replace_meta(PartitionMeta& m, const change::ReplaceState& replace) {
  const ItemTally& tally = replace.items->tally();
  m.item_count = tally.item_count;
  m.pending_txns = tally.pending_txns;
  m.split = tally.split;
  m.hlc_floor = std::max(m.hlc_floor, tally.newest_hlc);
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
