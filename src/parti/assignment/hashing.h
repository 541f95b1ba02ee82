// assignment: the hash functions strategies share (xxh3 from libxxhash).
#pragma once

#include <xxhash.h>

#include <cstdint>
#include <string_view>

namespace parti {

inline uint64_t hash64(std::string_view s, uint64_t seed) {
  return XXH3_64bits_withSeed(s.data(), s.size(), seed);
}

// Cheap bijective mixer (the murmur3 finalizer) to combine two hashes that are
// already uniform; lets rendezvous score P x W pairs without rehashing strings.
inline uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

}  // namespace parti
