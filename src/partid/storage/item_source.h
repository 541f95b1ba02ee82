// storage: the items a snapshot install writes, as a source read one item at
// a time. A snapshot can be as large as its partition; read from its encoded
// bytes (replication's SnapshotItemSource) an install needs no decoded copy
// of it beside them, which used to double what a node being rebuilt held.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "partid/storage/types.h"

namespace partid::storage {

// What a partition's metadata takes from its items when they replace all it
// had (replace_meta), gathered in one pass so an install need not read the
// items again for it.
struct ItemTally {
  int64_t item_count = 0;    // live items, outside the reserved keys
  int64_t pending_txns = 0;  // transaction records still prepared
  SplitRule split;           // the "\0split" item's rule
  uint64_t newest_hlc = 0;   // the newest version's HLC, tombstones included
  void add(const Item& item);
  friend bool operator==(const ItemTally&, const ItemTally&) = default;
};

// Guarantees: every call of for_each() visits the same items in the same
// order, and tally() is theirs. The order is the source's (a snapshot's is
// its partition's key order, as scanned); readers that need key order check
// it. Threading: const, read from any thread.
class ItemSource {
 public:
  virtual ~ItemSource() = default;
  // Calls `each` for every item, in order, until it returns false.
  virtual void for_each(const std::function<bool(Item&)>& each) const = 0;
  virtual const ItemTally& tally() const = 0;
  // About what the items take encoded: picks an install's way of writing.
  virtual uint64_t encoded_bytes() const = 0;
};

// Items already in memory (a split's image, tests).
std::shared_ptr<const ItemSource> items_of(std::vector<Item> items);

}  // namespace partid::storage
