#include "parti/core/types.h"

#include <fmt/format.h>

#include <random>

namespace parti {

int64_t wall_clock_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string random_instance_id() {
  std::random_device rd;
  std::mt19937_64 gen((uint64_t(rd()) << 32) ^ rd());
  return fmt::format("{:016x}", gen());
}

}  // namespace parti
