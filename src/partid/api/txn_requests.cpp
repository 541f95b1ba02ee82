#include "partid/api/txn_requests.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <set>

#include "partid/api/route.h"
#include "partid/storage/txn_space.h"

namespace partid::api {
namespace {

using nlohmann::json;

std::variant<storage::TxnWrite, WebError> write_from(const json& j, const Limits& limits,
                                                     const std::string& where) {
  if (!j.is_object()) return WebError::bad_request("bad_item", where + "must be a JSON object");
  for (const auto& [key, value] : j.items()) {
    const bool text = key == "partition_key" || key == "range_key" || key == "message";
    if (key == "if_sequence") {
      if (!value.is_number_unsigned()) {
        return WebError::bad_request(
            "wrong_type", where + "'if_sequence' must be an unsigned integer (0: absent)");
      }
      continue;
    }
    if (!text && key != "delete") {
      return WebError::bad_request("unknown_field", where + "unknown field '" + key + "'");
    }
    if (text ? !value.is_string() : !value.is_boolean()) {
      return WebError::bad_request(
          "wrong_type", where + "'" + key + "' must be a " + (text ? "string" : "boolean"));
    }
  }
  storage::TxnWrite w;
  w.remove = j.value("delete", false);
  if (!j.contains("partition_key")) {
    return WebError::bad_request("missing_field", where + "'partition_key' is required");
  }
  if (w.remove == j.contains("message")) {
    return WebError::bad_request("bad_item",
                                 where + "a write has a 'message' or is a \"delete\": true");
  }
  w.partition_key = j["partition_key"].get<std::string>();
  w.range_key = j.value("range_key", std::string());
  w.message = j.value("message", std::string());
  if (j.contains("if_sequence")) w.if_sequence = j["if_sequence"].get<uint64_t>();
  if (auto e = check_item(w.partition_key, w.range_key, w.message, limits, where)) return *e;
  return w;
}

std::variant<std::vector<storage::TxnWrite>, WebError> writes_from(const json& writes,
                                                                   const Limits& limits) {
  if (!writes.is_array() || writes.empty()) {
    return WebError::bad_request("bad_txn", "'writes' must be a non-empty array");
  }
  if (writes.size() > limits.max_batch_items) {
    return WebError::too_large("a transaction holds at most " +
                               std::to_string(limits.max_batch_items) + " writes");
  }
  std::vector<storage::TxnWrite> out;
  std::set<std::pair<std::string, std::string>> seen;
  for (size_t i = 0; i < writes.size(); ++i) {
    const std::string where = "writes[" + std::to_string(i) + "]: ";
    auto w = write_from(writes[i], limits, where);
    if (auto* e = std::get_if<WebError>(&w)) return *e;
    auto& write = std::get<storage::TxnWrite>(w);
    if (!seen.emplace(write.partition_key, write.range_key).second) {
      return WebError::bad_request("duplicate_item",
                                   where + "the transaction writes this item already");
    }
    out.push_back(std::move(write));
  }
  return out;
}

std::variant<json, WebError> object_body(std::string_view body, const Limits& limits) {
  if (body.size() > limits.max_body_bytes) return WebError::too_large("request body too large");
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return WebError::bad_request("malformed_json", "body is not valid JSON");
  if (!j.is_object()) return WebError::bad_request("bad_txn", "body must be a JSON object");
  return j;
}

json writes_json(const std::vector<storage::TxnWrite>& writes) {
  json out = json::array();
  for (const auto& w : writes) {
    json item = {{"partition_key", w.partition_key}, {"range_key", w.range_key}};
    if (w.remove) {
      item["delete"] = true;
    } else {
      item["message"] = w.message;
    }
    if (w.if_sequence) item["if_sequence"] = *w.if_sequence;
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace

std::variant<TxnRequest, WebError> parse_txn(std::string_view body, const Limits& limits) {
  if (body.empty()) return WebError::bad_request("empty_body", "a JSON body is required");
  auto parsed = object_body(body, limits);
  if (auto* e = std::get_if<WebError>(&parsed)) return *e;
  const json& j = std::get<json>(parsed);
  const bool retry = j.contains("retry_of");
  if (!j.contains("writes") || j.size() != (retry ? 2u : 1u)) {
    return WebError::bad_request("bad_txn", "body must be {\"writes\": [...], \"retry_of\"?: id}");
  }
  TxnRequest out;
  if (retry) {
    const auto id = j["retry_of"].is_string()
                        ? storage::parse_txn_id(j["retry_of"].get<std::string>())
                        : std::nullopt;
    if (!id || !id->deadline_ms) {
      return WebError::bad_request("bad_retry_of",
                                   "retry_of must be the id of an earlier attempt (\"txn\" in "
                                   "its answer)");
    }
    out.retry_deadline_ms = id->deadline_ms;
  }
  auto writes = writes_from(j["writes"], limits);
  if (auto* e = std::get_if<WebError>(&writes)) return *e;
  out.writes = std::move(std::get<std::vector<storage::TxnWrite>>(writes));
  return out;
}

std::variant<TxnStepBody, WebError> parse_txn_step(std::string_view step, std::string_view body,
                                                   const Limits& limits) {
  auto parsed = object_body(body, limits);
  if (auto* e = std::get_if<WebError>(&parsed)) return *e;
  const json& j = std::get<json>(parsed);
  TxnStepBody out;
  if (step == "prepare" || step == "commit") {
    if (!j.contains("home") || !j["home"].is_number_unsigned() || !j.contains("writes")) {
      return WebError::bad_request("bad_txn", "a prepare is {\"home\": n, \"writes\": [...]}");
    }
    out.home = j["home"].get<uint32_t>();
    auto writes = writes_from(j["writes"], limits);
    if (auto* e = std::get_if<WebError>(&writes)) return *e;
    out.writes = std::move(std::get<std::vector<storage::TxnWrite>>(writes));
    return out;
  }
  if (!j.contains("commit") || !j["commit"].is_boolean()) {
    return WebError::bad_request(
        "bad_txn", "a decision is {\"commit\": true|false, \"partitions\"?: [n, ...]}");
  }
  out.commit = j["commit"].get<bool>();
  if (j.contains("partitions")) {
    const json& parts = j["partitions"];
    if (!parts.is_array() || parts.size() > limits.max_batch_items) {
      return WebError::bad_request("bad_txn", "partitions must be an array of partitions");
    }
    for (const auto& p : parts) {
      if (!p.is_number_unsigned() || p.get<uint64_t>() > UINT32_MAX) {
        return WebError::bad_request("bad_txn", "partitions must be an array of partitions");
      }
      out.partitions.push_back(p.get<uint32_t>());
    }
  }
  return out;
}

std::string txn_prepare_body(uint32_t home, const std::vector<storage::TxnWrite>& writes) {
  return json{{"home", home}, {"writes", writes_json(writes)}}.dump();
}

std::string txn_outcome_body(bool commit, const std::vector<uint32_t>& partitions) {
  json out = {{"commit", commit}};
  if (!partitions.empty()) out["partitions"] = partitions;
  return out.dump();
}

}  // namespace partid::api
