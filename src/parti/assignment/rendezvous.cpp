#include <algorithm>

#include "parti/assignment/hashing.h"
#include "parti/assignment/strategy.h"

namespace parti {
namespace {

class Rendezvous final : public Strategy {
 public:
  explicit Rendezvous(uint64_t seed) : seed_(seed) {}
  std::string name() const override { return "Rendezvous"; }

  Placement place(const StrategyInput& in) const override {
    Placement out(in.partitions.size());
    const size_t n = in.workers.size();
    if (n == 0) return out;
    const size_t want = std::min<size_t>(in.replication_factor, n);
    std::vector<uint64_t> worker_hash(n);
    for (size_t w = 0; w < n; ++w) worker_hash[w] = hash64(in.workers[w].id, seed_);
    std::vector<std::pair<uint64_t, uint32_t>> top;  // (score, worker), best first
    for (size_t p = 0; p < in.partitions.size(); ++p) {
      const uint64_t ph = hash64(in.partitions[p].id, seed_ ^ 0x9e3779b97f4a7c15ULL);
      top.clear();
      for (uint32_t w = 0; w < n; ++w) {
        const uint64_t score = mix64(ph ^ worker_hash[w]);
        if (top.size() == want && score <= top.back().first) continue;
        auto pos = std::upper_bound(top.begin(), top.end(), score,
                                    [](uint64_t s, const auto& e) { return s > e.first; });
        top.insert(pos, {score, w});
        if (top.size() > want) top.pop_back();
      }
      for (const auto& [score, w] : top) out[p].push_back(w);
    }
    return out;
  }

 private:
  uint64_t seed_;
};

}  // namespace

std::unique_ptr<Strategy> make_rendezvous(uint64_t seed) {
  return std::make_unique<Rendezvous>(seed);
}

}  // namespace parti
