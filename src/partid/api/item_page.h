// api: a page of a partition key's items as GET /items/{pk} answers it:
// what storage read (one item past the page, to tell whether the listing goes
// on), ended where its bytes pass the answer's bound, with the items of
// committed transactions not yet resolved laid over it. Pure: the handler
// does the reads.
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

// Items in descending range-key order; `next`, when items may follow them,
// is the cursor of the page after (only range keys below it are left).
struct ItemListing {
  std::vector<storage::Item> items;
  std::optional<std::string> next;
};

// Past this many bytes of range keys and messages, or this many items, a
// page is read and its answer built off the loop: 50 MB built on it (~0.6 s)
// took the p99 of other clients' reads from 0.6 to 446 ms, and 10,000 items
// of 10 bytes (~50 ms each) to 39 ms (MEASUREMENTS). The default page (100
// items) stays on the loop.
inline constexpr size_t kInlineAnswerBytes = size_t{256} << 10;
inline constexpr size_t kInlineAnswerItems = 256;

// The bytes of range keys and messages in `items`.
size_t bytes_of(const std::vector<storage::Item>& items);

// Whether a page of `items` is answered on the loop (within both bounds).
bool answered_inline(const std::vector<storage::Item>& items);

// What of `page` is read on the loop (or the disk pool): at most the inline
// bounds. And whether `read`, read with that head, is the whole of `page`
// (it stopped short of both of the head's bounds, or they are the page's).
storage::ItemPage inline_head(const storage::ItemPage& page);
bool head_is_whole(const std::vector<storage::Item>& read, const storage::ItemPage& head,
                   const storage::ItemPage& page);

// The answer to GET /items/{pk}: the page's items, newest first, and `next`
// (the cursor for ?after=) only when items may follow. Written straight into
// one string, byte for byte what api::dump() makes of the same object (a
// 10,000-item listing took 54-63 ms with the tree, 35 ms this way).
std::string page_json(const std::string& partition_key, uint32_t partition,
                      const ItemListing& page);

// `read` as a page of at most `limit`: more than that means it goes on.
ItemListing take_page(std::vector<storage::Item> read, size_t limit);

// Ends `page` before the item whose range key and message take its bytes
// past `max_bytes` (that item and those after it are the next page's).
// False, leaving `page` alone, when not even its first item fits.
bool fit_to_bytes(ItemListing* page, size_t max_bytes);

// Drops what `view` says about range keys not below `below`: a page after a
// cursor shows none of them.
void keep_below(TxnView* view, const std::optional<std::string>& below);

// The page `stored` becomes with `view` laid over it, at most `limit` items.
// When stored items were left unread (`stored.next`), nothing the view adds
// below them shows: the page ends at the cursor, which the next page reads
// on from. So a page is never cut above an unread stored item.
ItemListing overlay_page(ItemListing stored, const TxnView& view, size_t limit);

}  // namespace partid::api
