// storage: where a partition keeps the state of a split of it (partid/split).
// Like a transaction's records (txn_space.h), it is a reserved item, under
// the partition key "\0split", so it is replicated by the partition's log and
// travels in its snapshots: a replica rebuilt from a snapshot taken during a
// split freezes the same keys as the others. Its value is a SplitRule
// (storage.proto); PartitionMeta::split mirrors it. How the steps apply:
//  - SplitFreeze sets the rule: from that entry on, every write to a key the
//    rule excludes is refused (partition_splitting), a prepare too. It is
//    refused itself while a transaction is prepared here (txn_in_progress),
//    so nothing can resolve into a key after it left, and while another
//    split of this partition is unfinished (split_in_progress). Repeating
//    the same freeze changes nothing, also after that split finished (a
//    driver acting on an old record must not freeze moved keys again).
//  - SplitImport, in the new partition, writes one item with the version it
//    had in the old one; like any write it never replaces a newer version,
//    so a late or repeated copy cannot undo a later write.
//  - SplitCleanup erases the excluded keys (no tombstones: writes to them are
//    refused here for good) and marks the rule moved; from then on writes
//    to them are refused as partition_moved.
#pragma once

#include <string>
#include <string_view>

namespace partid::storage {

inline constexpr std::string_view kSplitKey{"\0split", 6};

std::string split_rule_key(uint32_t partition);

}  // namespace partid::storage
