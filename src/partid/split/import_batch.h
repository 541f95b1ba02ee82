// split: the items a split copies into its new partition, as they travel
// from the source's leader to the target's (the body of POST
// /split/{p}/import): each with the version it had in the source.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "partid/storage/store_engine.h"

namespace partid::split {

std::string encode_import_batch(const std::vector<storage::Item>& items);
// nullopt when `json` is not such a batch.
std::optional<std::vector<storage::Item>> decode_import_batch(std::string_view json);

}  // namespace partid::split
