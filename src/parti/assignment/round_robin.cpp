#include "parti/assignment/strategy.h"

namespace parti {
namespace {

class RoundRobin final : public Strategy {
 public:
  std::string name() const override { return "RoundRobin"; }
  Placement place(const StrategyInput& in) const override {
    Placement out(in.partitions.size());
    const size_t n = in.workers.size();
    if (n == 0) return out;
    const size_t want = std::min<size_t>(in.replication_factor, n);
    for (size_t p = 0; p < in.partitions.size(); ++p) {
      for (size_t k = 0; k < want; ++k) out[p].push_back(static_cast<uint32_t>((p + k) % n));
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<Strategy> make_round_robin() { return std::make_unique<RoundRobin>(); }

}  // namespace parti
