// api: a page of a partition key's items as GET /items/{pk} answers it:
// what storage read (one item past the page, to tell whether the listing goes
// on), with the items of committed transactions not yet resolved laid over
// it. Pure: the handler does the reads.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "partid/storage/store_engine.h"

namespace partid::api {

// Range key -> the item a committed, unresolved transaction leaves there
// (nullopt: it deletes it).
using TxnView = std::map<std::string, std::optional<storage::Item>>;

// Items in descending range-key order; `goes_on` when items past them exist
// (the last one's range key is then the cursor of the next page).
struct ItemListing {
  std::vector<storage::Item> items;
  bool goes_on = false;
};

// `read` as a page of at most `limit`: more than that means it goes on.
ItemListing take_page(std::vector<storage::Item> read, size_t limit);

// Drops what `view` says about range keys not below `below`: a page after a
// cursor shows none of them.
void keep_below(TxnView* view, const std::optional<std::string>& below);

// The page `stored` becomes with `view` laid over it. `stored` must hold at
// least `limit + view.size()` items unless it is all there is (its goes_on
// false): the view removes at most that many, so the page's items all sort
// above every stored item not read, and it goes on when either says so.
ItemListing overlay_page(ItemListing stored, const TxnView& view, size_t limit);

}  // namespace partid::api
