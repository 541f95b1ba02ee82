#include "partid/storage/keys.h"

namespace partid::storage {
namespace {

void put_be(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_be(std::string_view in, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

}  // namespace

std::string partition_prefix(uint32_t partition) {
  std::string out;
  put_be(out, partition, kPartitionPrefixBytes);
  return out;
}

std::string partition_end(uint32_t partition) {
  return prefix_successor(partition_prefix(partition));
}

std::string item_prefix(uint32_t partition, std::string_view partition_key) {
  std::string out = partition_prefix(partition);
  put_be(out, partition_key.size(), 2);
  out.append(partition_key);
  return out;
}

std::string item_key(uint32_t partition, std::string_view partition_key,
                     std::string_view range_key) {
  std::string out = item_prefix(partition, partition_key);
  out.append(range_key);
  return out;
}

bool parse_item_key(std::string_view key, uint32_t* partition, std::string* partition_key,
                    std::string* range_key) {
  if (key.size() < 6) return false;
  const size_t pk_len = get_be(key.substr(4), 2);
  if (key.size() < 6 + pk_len) return false;
  *partition = static_cast<uint32_t>(get_be(key, 4));
  partition_key->assign(key.substr(6, pk_len));
  range_key->assign(key.substr(6 + pk_len));
  return true;
}

std::string log_key(uint32_t partition, uint64_t sequence) {
  std::string out = partition_prefix(partition);
  put_be(out, sequence, 8);
  return out;
}

std::string meta_partition_key(uint32_t partition) { return "p" + partition_prefix(partition); }

std::string prefix_successor(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last != 0xff) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;  // every byte was 0xff: no successor, callers use "no bound"
}

}  // namespace partid::storage
