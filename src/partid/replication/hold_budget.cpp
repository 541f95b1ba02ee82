#include "partid/replication/hold_budget.h"

#include <algorithm>
#include <numeric>

namespace partid::replication {

std::vector<uint32_t> holds_past_budget(std::vector<HeldLog> held, uint64_t budget) {
  uint64_t total = std::accumulate(held.begin(), held.end(), uint64_t{0},
                                   [](uint64_t sum, const HeldLog& h) { return sum + h.bytes; });
  std::sort(held.begin(), held.end(), [](const HeldLog& a, const HeldLog& b) {
    return a.bytes != b.bytes ? a.bytes > b.bytes : a.partition < b.partition;
  });
  std::vector<uint32_t> ended;
  for (const auto& h : held) {
    if (total <= budget) break;
    ended.push_back(h.partition);
    total -= h.bytes;
  }
  return ended;
}

}  // namespace partid::replication
