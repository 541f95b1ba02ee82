// storage: how a partition's metadata follows a snapshot install, a saved
// hard state and a log trim. Pure: BatchWriter applies them inside a write
// batch, and an ingested install (snapshot_ingest.h) computes the metadata it
// writes with the same rules, so both leave the same partition behind.
#pragma once

#include <cstdint>

#include "partid/storage/store_engine.h"

namespace partid::storage {

// After `replace`: its items counted (live items, prepared transactions, the
// split rule, the newest HLC as the floor), the log's bounds at its point
// (the log is kept past it only with keep_tail) and its epoch applied.
void replace_meta(PartitionMeta& m, const change::ReplaceState& replace);
void save_meta(PartitionMeta& m, const change::SaveState& save);
// Entries through `through` are gone: the base moves up, never down.
void trim_meta(PartitionMeta& m, uint64_t through, uint64_t through_epoch);
// An entry appended at `sequence`.
void append_meta(PartitionMeta& m, uint64_t sequence);
// Entries after `after` are gone.
void truncate_meta(PartitionMeta& m, uint64_t after);

}  // namespace partid::storage
