#include "partid/api/item_page.h"

#include <functional>

namespace partid::api {

ItemListing take_page(std::vector<storage::Item> read, size_t limit) {
  ItemListing page{std::move(read), false};
  if (page.items.size() > limit) {
    page.items.resize(limit);
    page.goes_on = true;
  }
  return page;
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
  std::vector<storage::Item> items;
  items.reserve(merged.size());
  for (auto& [rk, item] : merged) items.push_back(std::move(item));
  ItemListing page = take_page(std::move(items), limit);
  page.goes_on = page.goes_on || stored.goes_on;
  return page;
}

}  // namespace partid::api
