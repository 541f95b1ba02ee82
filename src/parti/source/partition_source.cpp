#include "parti/source/partition_source.h"

namespace parti {

std::vector<Partition> numbered_partitions(uint32_t count, const std::string& prefix) {
  std::vector<Partition> out;
  out.reserve(count);
  for (uint32_t i = 0; i < count; ++i) out.push_back({prefix + std::to_string(i), 1});
  return out;
}

}  // namespace parti
