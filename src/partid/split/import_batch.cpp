#include "partid/split/import_batch.h"

#include <nlohmann/json.hpp>

namespace partid::split {

std::string encode_import_batch(const std::vector<storage::Item>& items) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& item : items) {
    list.push_back({{"partition_key", item.partition_key},
                    {"range_key", item.range_key},
                    {"message", item.message},
                    {"hlc", item.version.hlc},
                    {"sequence", item.version.sequence},
                    {"epoch", item.version.epoch}});
  }
  return nlohmann::json{{"items", list}}.dump();
}

std::optional<std::vector<storage::Item>> decode_import_batch(std::string_view json) {
  try {
    const auto j = nlohmann::json::parse(json);
    std::vector<storage::Item> items;
    for (const auto& i : j.at("items")) {
      storage::Item item;
      item.partition_key = i.at("partition_key").get<std::string>();
      item.range_key = i.at("range_key").get<std::string>();
      item.message = i.at("message").get<std::string>();
      item.version = {i.at("hlc").get<uint64_t>(), i.at("sequence").get<uint64_t>(),
                      i.at("epoch").get<uint64_t>()};
      items.push_back(std::move(item));
    }
    return items;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace partid::split
