// routing: which partition a partition key belongs to, as the partition count
// grows one split at a time (linear hashing). A layout of `count` partitions
// over a `base` (base <= count < 2 x base) sends a key with hash h to
// h % base, unless that partition has split already (h % base < count -
// base), in which case to h % (2 x base). With count == base this is plain
// h % count, the mapping of a cluster that never split. Splitting the next
// partition, `count - base`, moves only the keys of that one partition whose
// h % (2 x base) is the new partition `count`; once every partition of a
// base has split, the base doubles. Pure: no I/O, unit tested.
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
  friend bool operator==(const Layout&, const Layout&) = default;
};

// The partition of a key in a cluster of `partitions` that never split:
// xxhash64(partition_key) % partitions.
inline uint32_t partition_of(std::string_view partition_key, uint32_t partitions) {
  return Layout::unsplit(partitions).partition_of(partition_key);
}

// A split under way (partid/split): the source's leader moves it through
// the phases in order, each recorded before the next begins, so whichever
// node leads the source next carries on from the last one recorded.
struct SplitPlan {
  enum class Phase {
    Freezing,  // the source's log is to freeze the moving keys
    Copying,   // frozen at `start`; the target exists, and gets their items
    Cleaning,  // the layout has changed: the source is to drop them
  };
  uint32_t source = 0;
  uint32_t target = 0;
  Phase phase = Phase::Freezing;
  uint64_t start = 0;  // the source's sequence of the freeze (from Copying on)
  friend bool operator==(const SplitPlan&, const SplitPlan&) = default;
};
const char* phase_name(SplitPlan::Phase phase);

// The cluster's layout as its record in NATS holds it.
struct LayoutRecord {
  Layout layout;
  std::optional<SplitPlan> split;
  // The partitions a split created: the sequence their log starts after
  // (the freeze in the source), above every sequence their copied items
  // carry, so an item's sequence still names one version in its partition.
  std::map<uint32_t, uint64_t> starts;
  uint64_t revision = 0;  // in the bucket; 0: not written yet

  // The partitions that exist: the layout's, and a split's target once it
  // is being copied into.
  uint32_t partitions() const;
  uint64_t start_of(uint32_t partition) const;
  // The record with a split of the next partition begun; *error when one is
  // under way already.
  std::optional<LayoutRecord> begin_split(std::string* error) const;
  friend bool operator==(const LayoutRecord&, const LayoutRecord&) = default;
};

std::string encode_layout_record(const LayoutRecord& record);
// nullopt when `json` is not a valid record.
std::optional<LayoutRecord> decode_layout_record(std::string_view json);

}  // namespace partid::routing
