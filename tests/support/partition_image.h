// tests: a partition read whole from one moment (its metadata and every item,
// StoreEngine::visit_partition), for storage tests that compare two stores
// or copy a partition into another. Whole in memory: test sizes only.
#pragma once

#include <cstdint>
#include <vector>

#include "partid/storage/store_engine.h"

namespace parti::testing {

struct PartitionImage {
  partid::storage::PartitionMeta meta;
  std::vector<partid::storage::Item> items;
};

inline PartitionImage partition_image(const partid::storage::StoreEngine& engine,
                                      uint32_t partition) {
  PartitionImage image;
  image.meta = engine.visit_partition(partition, [&](partid::storage::Item& item) {
    image.items.push_back(std::move(item));
    return true;
  });
  return image;
}

}  // namespace parti::testing
