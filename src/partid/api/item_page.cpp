#include "partid/api/item_page.h"

#include <functional>

namespace partid::api {

size_t bytes_of(const std::vector<storage::Item>& items) {
  size_t bytes = 0;
  for (const auto& item : items) bytes += storage::listed_bytes(item);
  return bytes;
}

ItemListing take_page(std::vector<storage::Item> read, size_t limit) {
  ItemListing page{std::move(read), std::nullopt};
  if (page.items.size() > limit) {
    page.items.resize(limit);
    if (!page.items.empty()) page.next = page.items.back().range_key;
  }
  return page;
}

bool fit_to_bytes(ItemListing* page, size_t max_bytes) {
  size_t bytes = 0;
  for (size_t i = 0; i < page->items.size(); ++i) {
    bytes += storage::listed_bytes(page->items[i]);
    if (bytes <= max_bytes) continue;
    if (i == 0) return false;
    page->items.resize(i);
    page->next = page->items.back().range_key;
    return true;
  }
  return true;
}

void keep_below(TxnView* view, const std::optional<std::string>& below) {
  if (!below) return;
  view->erase(view->lower_bound(*below), view->end());
}

ItemListing overlay_page(ItemListing stored, const TxnView& view, size_t limit) {
  std::map<std::string, storage::Item, std::greater<>> merged;
  for (auto& item : stored.items) merged.emplace(item.range_key, std::move(item));
  for (const auto& [rk, item] : view) {
    if (item) {
      merged.insert_or_assign(rk, *item);
    } else {
      merged.erase(rk);
    }
  }
  // Stored items below the cursor were not read: what the view adds there
  // waits for the page that reads them.
  if (stored.next) merged.erase(merged.upper_bound(*stored.next), merged.end());
  std::vector<storage::Item> items;
  items.reserve(merged.size());
  for (auto& [rk, item] : merged) items.push_back(std::move(item));
  ItemListing page = take_page(std::move(items), limit);
  if (!page.next) page.next = std::move(stored.next);
  return page;
}

}  // namespace partid::api
