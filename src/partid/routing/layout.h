// routing: which partition a partition key belongs to, as the partition count
// grows one split at a time (linear hashing). A layout of `count` partitions
// over a `base` (base <= count < 2 x base) sends a key with hash h to
// h % base, unless that partition has split already (h % base < count -
// base), in which case to h % (2 x base). With count == base this is plain
// h % count, the mapping of a cluster that never split. Splitting the next
// partition, `count - base`, moves only the keys of that one partition whose
// h % (2 x base) is the new partition `count`; once every partition of a
// base has split, the base doubles. Merging undoes the last split: the last
// partition's keys go back to the partition it split from, and an unsplit
// layout of an even count halves its base first. Pure: no I/O, unit tested.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace partid::routing {

// xxhash64 of the partition key (seed 0): what every layout hashes.
uint64_t key_hash(std::string_view partition_key);

struct Layout {
  uint32_t base = 0;
  uint32_t count = 0;

  // A layout of `count` partitions that never split: base = count.
  static Layout unsplit(uint32_t count) { return {count, count}; }
  bool valid() const { return base > 0 && base <= count && count < 2 * base; }
  uint32_t partition_of(std::string_view partition_key) const;
  uint32_t partition_of_hash(uint64_t hash) const;
  // The partition the next split divides, and the partition it creates.
  uint32_t next_split_source() const { return count - base; }
  uint32_t next_split_target() const { return count; }
  // The layout once the next split is done (the base doubles when every
  // partition of this one has split).
  Layout after_split() const;
  // Whether the last split can be undone: there is one (count > base), or
  // the base can halve (an unsplit layout of an even count).
  bool can_merge() const { return count > base || (count == base && base % 2 == 0); }
  // The layout once the last partition has merged back (can_merge() only);
  // after_merge().after_split() is this layout again.
  Layout after_merge() const;
  uint32_t next_merge_source() const { return count - 1; }
  uint32_t next_merge_target() const { return after_merge().owner_of(count - 1); }
  // The partition that holds the keys of `partition` now: itself while it
  // exists, else the one it merged into (transitively), since a partition
  // number is also the hash residue its keys share.
  uint32_t owner_of(uint32_t partition) const { return partition_of_hash(partition); }
  friend bool operator==(const Layout&, const Layout&) = default;
};

// The partition of a key in a cluster of `partitions` that never split:
// xxhash64(partition_key) % partitions.
inline uint32_t partition_of(std::string_view partition_key, uint32_t partitions) {
  return Layout::unsplit(partitions).partition_of(partition_key);
}

// A split or a merge under way (partid/split): the source's leader moves it
// through the phases in order, each recorded before the next begins, so
// whichever node leads the source next carries on from the last one
// recorded. A split's source gives half its keys to a new target; a merge's
// source (the last partition) gives all of them to its target and goes.
struct SplitPlan {
  enum class Kind { Split, Merge };
  enum class Phase {
    // The source's log is to freeze the moving keys (a merge: all of them).
    Freezing,
    // Frozen at `start`; the target (a split's: new) gets their items, and,
    // in a merge, a sequence above `start` before it takes them over.
    Copying,
    // The layout has changed: a split's source is to drop the moved keys, a
    // merge's source is to go.
    Cleaning,
  };
  uint32_t source = 0;
  uint32_t target = 0;
  Phase phase = Phase::Freezing;
  uint64_t start = 0;  // the source's sequence of the freeze (from Copying on)
  Kind kind = Kind::Split;
  bool merge() const { return kind == Kind::Merge; }
  friend bool operator==(const SplitPlan&, const SplitPlan&) = default;
};
const char* phase_name(SplitPlan::Phase phase);
const char* kind_name(SplitPlan::Kind kind);

// The cluster's layout as its record in NATS holds it.
struct LayoutRecord {
  Layout layout;
  std::optional<SplitPlan> split;
  // The partitions a split created: the sequence their log starts after
  // (the freeze in the source), above every sequence their copied items
  // carry, so an item's sequence still names one version in its partition.
  std::map<uint32_t, uint64_t> starts;
  uint64_t revision = 0;  // in the bucket; 0: not written yet
  // The partitions a split made: an assignment version below which every
  // epoch is an earlier incarnation's (the partition merged away before).
  // A seal record below it says nothing about this incarnation
  // (replication::Replicator ignores it), and a replica whose log or promise
  // is below it starts afresh.
  std::map<uint32_t, uint64_t> seal_floors = {};
  // The most partitions the layout ever had (0: never more than `count`):
  // a partition number beyond it never existed, and owner_of() leaves it so.
  uint32_t peak = 0;

  // The partitions that exist: the layout's, a split's target once it is
  // being copied into, and a merge's source until it is cleared.
  uint32_t partitions() const;
  uint64_t start_of(uint32_t partition) const;
  // The record with a split of the next partition begun; *error when a split
  // or merge is under way already.
  std::optional<LayoutRecord> begin_split(std::string* error) const;
  // The record with a merge of the last partition begun; *error when a split
  // or merge is under way, or the layout cannot merge.
  std::optional<LayoutRecord> begin_merge(std::string* error) const;
  // Where what partition `partition` held is now: itself while the layout
  // has it (or it is a split's target being copied into) or when it never
  // existed, else the partition it merged into. A transaction names its
  // home partition for good; this finds it after a merge.
  uint32_t owner_of(uint32_t partition) const;
  // The copy is done: the layout becomes the one after the split or merge
  // under way, and its phase Cleaning.
  void finish_copy();
  friend bool operator==(const LayoutRecord&, const LayoutRecord&) = default;
};

std::string encode_layout_record(const LayoutRecord& record);
// nullopt when `json` is not a valid record.
std::optional<LayoutRecord> decode_layout_record(std::string_view json);

}  // namespace partid::routing
