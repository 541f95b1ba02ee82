#include "partid/api/item_page.h"

#include "partid/api/json_out.h"

#include <algorithm>
#include <functional>

namespace partid::api {

size_t bytes_of(const std::vector<storage::Item>& items) {
  size_t bytes = 0;
  for (const auto& item : items) bytes += storage::listed_bytes(item);
  return bytes;
}

bool answered_inline(const std::vector<storage::Item>& items) {
  return items.size() <= kInlineAnswerItems && bytes_of(items) <= kInlineAnswerBytes;
}

storage::ItemPage inline_head(const storage::ItemPage& page) {
  storage::ItemPage head = page;
  head.limit = std::min(page.limit, kInlineAnswerItems + 1);
  head.max_bytes = std::min(page.max_bytes, kInlineAnswerBytes);
  return head;
}

bool head_is_whole(const std::vector<storage::Item>& read, const storage::ItemPage& head,
                   const storage::ItemPage& page) {
  // A read holds the item that took it past its bytes, and stops at its limit.
  const bool all_counted = head.limit == page.limit || read.size() < head.limit;
  const bool all_bytes = head.max_bytes == page.max_bytes || bytes_of(read) <= head.max_bytes;
  return all_counted && all_bytes;
}

std::string page_json(const std::string& partition_key, uint32_t partition,
                      const ItemListing& page) {
  // One string, keys in the order dump() sorts them.
  std::string out;
  out.reserve(bytes_of(page.items) + 96 * page.items.size() + partition_key.size() + 64);
  out.append("{\"items\":[");
  bool first = true;
  for (const auto& item : page.items) {
    if (!first) out.push_back(',');
    first = false;
    out.append("{\"hlc\":").append(std::to_string(item.version.hlc));
    out.append(",\"message\":");
    append_json_string(out, item.message);
    out.append(",\"range_key\":");
    append_json_string(out, item.range_key);
    out.append(",\"sequence\":").append(std::to_string(item.version.sequence)).push_back('}');
  }
  out.push_back(']');
  if (page.next) {
    out.append(",\"next\":");
    append_json_string(out, *page.next);
  }
  out.append(",\"partition\":").append(std::to_string(partition));
  out.append(",\"partition_key\":");
  append_json_string(out, partition_key);
  out.push_back('}');
  return out;
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
