#include "partid/storage/item_source.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "partid/storage/codec.h"
#include "partid/storage/split_space.h"
#include "partid/storage/txn_space.h"

namespace partid::storage {

void ItemTally::add(const Item& item) {
  if (!is_reserved_key(item.partition_key)) {
    item_count += item.tombstone ? 0 : 1;
  } else if (item.partition_key == kTxnRecordKey && !item.tombstone) {
    auto record = decode_txn_record(item.message);
    pending_txns += record && record->state == TxnRecord::State::Prepared ? 1 : 0;
  } else if (item.partition_key == kSplitKey && !item.tombstone) {
    split = decode_split_rule(item.message).value_or(SplitRule{});
  }
  newest_hlc = std::max(newest_hlc, item.version.hlc);
}

namespace {
class VectorItems final : public ItemSource {
 public:
  explicit VectorItems(std::vector<Item> items) : items_(std::move(items)) {
    for (const Item& item : items_) tally_.add(item);
    bytes_ =
        std::accumulate(items_.begin(), items_.end(), uint64_t{0}, [](uint64_t sum, const Item& i) {
          return sum + i.partition_key.size() + i.range_key.size() + i.message.size();
        });
  }
  void for_each(const std::function<bool(Item&)>& each) const override {
    for (Item item : items_) {
      if (!each(item)) return;
    }
  }
  const ItemTally& tally() const override { return tally_; }
  uint64_t encoded_bytes() const override { return bytes_; }

 private:
  std::vector<Item> items_;
  ItemTally tally_;
  uint64_t bytes_ = 0;
};
}  // namespace

std::shared_ptr<const ItemSource> items_of(std::vector<Item> items) {
  return std::make_shared<const VectorItems>(std::move(items));
}

}  // namespace partid::storage
