// storage: the byte layout of RocksDB keys. Every key starts with the
// partition (big-endian), so one partition is one contiguous key range: a scan
// is a prefix scan and dropping a partition is one range delete. Items are
// partition | len(partition_key) | partition_key | range_key; the length
// prefix keeps "a"+"bc" and "ab"+"c" apart, and range keys of one partition
// key sort together, bytewise.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace partid::storage {

inline constexpr size_t kPartitionPrefixBytes = 4;
std::string partition_prefix(uint32_t partition);
// The first key after every key of `partition` (exclusive upper bound).
std::string partition_end(uint32_t partition);

std::string item_prefix(uint32_t partition, std::string_view partition_key);
std::string item_key(uint32_t partition, std::string_view partition_key,
                     std::string_view range_key);
// Splits an item key; false on a key that is not one (corruption).
bool parse_item_key(std::string_view key, uint32_t* partition, std::string* partition_key,
                    std::string* range_key);

std::string log_key(uint32_t partition, uint64_t sequence);
inline constexpr size_t kMetaPartitionKeyBytes = 1 + kPartitionPrefixBytes;
std::string meta_partition_key(uint32_t partition);
inline constexpr std::string_view kNodeMetaKey = "node";

// The smallest string greater than every string starting with `prefix`.
std::string prefix_successor(std::string prefix);

}  // namespace partid::storage
