// api: the JSON bodies of item writes, parsed and validated completely before
// anything is written (a batch with one bad item writes nothing). Pure.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "partid/api/web_error.h"

namespace partid::api {

struct Limits {
  size_t max_body_bytes = 1 << 20;
  size_t max_key_bytes = 1024;
  size_t max_message_bytes = 256 * 1024;
  size_t max_batch_items = 1000;
};

struct ItemWrite {
  std::string partition_key;
  std::string range_key;  // empty: the item has no range key
  std::string message;
  friend bool operator==(const ItemWrite&, const ItemWrite&) = default;
};

// {"partition_key": str, "range_key"?: str, "message": str}
std::variant<ItemWrite, WebError> parse_item_write(std::string_view body, const Limits& limits);
// {"items": [item, ...]}
std::variant<std::vector<ItemWrite>, WebError> parse_batch(std::string_view body,
                                                           const Limits& limits);
// Checks an item's keys and message size; `where` prefixes the message
// ("items[3]: ").
std::optional<WebError> check_item(std::string_view partition_key, std::string_view range_key,
                                   std::string_view message, const Limits& limits,
                                   const std::string& where);
// Checks a key taken from a path: non-empty partition key, sizes.
std::variant<std::monostate, WebError> check_keys(std::string_view partition_key,
                                                  std::string_view range_key, const Limits& limits);

}  // namespace partid::api
