// assignment: the hash functions strategies share (xxh3 from libxxhash).
#pragma once

#include <xxhash.h>

#include <cstdint>
#include <string_view>

namespace parti {

inline uint64_t hash64(std::string_view s, uint64_t seed) {
  return XXH3_64bits_withSeed(s.data(), s.size(), seed);
}

// One-multiply mixer for rendezvous scores: both inputs are already xxh3
// outputs, so a single multiply-xorshift spreads their XOR well enough, and it
// is the inner loop of P x W scoring.
inline uint64_t score64(uint64_t partition_hash, uint64_t worker_hash) {
  uint64_t x = partition_hash ^ worker_hash;
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ULL;
  x ^= x >> 32;
  return x;
}

}  // namespace parti
