#include "partid/api/item_requests.h"

#include <nlohmann/json.hpp>

namespace partid::api {
namespace {

using nlohmann::json;

std::variant<ItemWrite, WebError> item_from(const json& j, const Limits& limits,
                                            const std::string& where) {
  if (!j.is_object()) return WebError::bad_request("bad_item", where + "must be a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (key != "partition_key" && key != "range_key" && key != "message") {
      return WebError::bad_request("unknown_field", where + "unknown field '" + key + "'");
    }
    if (!value.is_string()) {
      return WebError::bad_request("wrong_type", where + "'" + key + "' must be a string");
    }
  }
  for (const char* required : {"partition_key", "message"}) {
    if (!j.contains(required)) {
      return WebError::bad_request("missing_field",
                                   where + "'" + std::string(required) + "' is required");
    }
  }
  ItemWrite w{j["partition_key"].get<std::string>(), j.value("range_key", std::string()),
              j["message"].get<std::string>()};
  if (auto e = check_item(w.partition_key, w.range_key, w.message, limits, where)) return *e;
  return w;
}

std::variant<json, WebError> parse_json(std::string_view body, const Limits& limits) {
  if (body.size() > limits.max_body_bytes) return WebError::too_large("request body too large");
  if (body.empty()) return WebError::bad_request("empty_body", "a JSON body is required");
  // nlohmann rejects malformed JSON and ill-formed UTF-8 inside strings alike.
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return WebError::bad_request("malformed_json", "body is not valid JSON");
  return j;
}

}  // namespace

std::optional<WebError> check_item(std::string_view partition_key, std::string_view range_key,
                                   std::string_view message, const Limits& limits,
                                   const std::string& where) {
  auto keys = check_keys(partition_key, range_key, limits);
  if (auto* e = std::get_if<WebError>(&keys)) {
    e->message = where + e->message;
    return *e;
  }
  if (message.size() > limits.max_message_bytes) {
    return WebError::too_large(where + "message is larger than " +
                               std::to_string(limits.max_message_bytes) + " bytes");
  }
  return std::nullopt;
}

std::variant<std::monostate, WebError> check_keys(std::string_view partition_key,
                                                  std::string_view range_key,
                                                  const Limits& limits) {
  if (partition_key.empty()) {
    return WebError::bad_request("empty_key", "'partition_key' must not be empty");
  }
  if (partition_key.front() == '\0') {
    // The partition's transaction records live under such keys (storage/txn_space.h).
    return WebError::bad_request("reserved_key",
                                 "partition keys that start with a NUL byte are reserved");
  }
  if (partition_key.size() > limits.max_key_bytes || range_key.size() > limits.max_key_bytes) {
    return WebError::too_large("keys are limited to " + std::to_string(limits.max_key_bytes) +
                               " bytes");
  }
  return std::monostate{};
}

std::variant<ItemWrite, WebError> parse_item_write(std::string_view body, const Limits& limits) {
  auto j = parse_json(body, limits);
  if (auto* e = std::get_if<WebError>(&j)) return *e;
  return item_from(std::get<json>(j), limits, "");
}

std::variant<std::vector<ItemWrite>, WebError> parse_batch(std::string_view body,
                                                           const Limits& limits) {
  auto parsed = parse_json(body, limits);
  if (auto* e = std::get_if<WebError>(&parsed)) return *e;
  const json& j = std::get<json>(parsed);
  if (!j.is_object() || j.size() != 1 || !j.contains("items") || !j["items"].is_array()) {
    return WebError::bad_request("bad_batch", "body must be {\"items\": [...]}");
  }
  const json& items = j["items"];
  if (items.empty()) return WebError::bad_request("empty_batch", "'items' must not be empty");
  if (items.size() > limits.max_batch_items) {
    return WebError::too_large("a batch holds at most " + std::to_string(limits.max_batch_items) +
                               " items");
  }
  std::vector<ItemWrite> out;
  out.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    auto w = item_from(items[i], limits, "items[" + std::to_string(i) + "]: ");
    if (auto* e = std::get_if<WebError>(&w)) return *e;
    out.push_back(std::move(std::get<ItemWrite>(w)));
  }
  return out;
}

}  // namespace partid::api
