#include <algorithm>
#include <thread>

#include "parti/assignment/hashing.h"
#include "parti/assignment/strategy.h"

namespace parti {
namespace {

// Below this many (partition, worker) pairs a placement is too quick to split.
constexpr size_t kParallelPairs = 4'000'000;

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
    // Each partition is scored independently, so a large placement splits the
    // partitions across cores; the output is the same as a serial run.
    auto place_range = [&](size_t begin, size_t end) {
      for (size_t p = begin; p < end; ++p) {
        const uint64_t ph = hash64(in.partitions[p].id, seed_ ^ 0x9e3779b97f4a7c15ULL);
        out[p] = want == 1 ? std::vector<uint32_t>{best_one(ph, worker_hash)}
                           : best_many(ph, worker_hash, want);
      }
    };
    const size_t parts = in.partitions.size();
    const size_t threads = parts * n >= kParallelPairs
                               ? std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8)
                               : 1;
    std::vector<std::thread> helpers;
    const size_t chunk = (parts + threads - 1) / threads;
    for (size_t t = 1; t < threads; ++t) {
      helpers.emplace_back(place_range, std::min(parts, t * chunk),
                           std::min(parts, (t + 1) * chunk));
    }
    place_range(0, std::min(parts, chunk));
    for (auto& h : helpers) h.join();
    return out;
  }

 private:
  static uint32_t best_one(uint64_t ph, const std::vector<uint64_t>& worker_hash) {
    uint64_t best = 0;
    uint32_t winner = 0;
    for (uint32_t w = 0; w < worker_hash.size(); ++w) {
      const uint64_t score = score64(ph, worker_hash[w]);
      if (score > best) {
        best = score;
        winner = w;
      }
    }
    return winner;
  }

  static std::vector<uint32_t> best_many(uint64_t ph, const std::vector<uint64_t>& worker_hash,
                                         size_t want) {
    std::vector<std::pair<uint64_t, uint32_t>> top;  // (score, worker), best first
    for (uint32_t w = 0; w < worker_hash.size(); ++w) {
      const uint64_t score = score64(ph, worker_hash[w]);
      if (top.size() == want && score <= top.back().first) continue;
      auto pos = std::upper_bound(top.begin(), top.end(), score,
                                  [](uint64_t s, const auto& e) { return s > e.first; });
      top.insert(pos, {score, w});
      if (top.size() > want) top.pop_back();
    }
    std::vector<uint32_t> out;
    for (const auto& [score, w] : top) out.push_back(w);
    return out;
  }

  uint64_t seed_;
};

}  // namespace

std::unique_ptr<Strategy> make_rendezvous(uint64_t seed) {
  return std::make_unique<Rendezvous>(seed);
}

}  // namespace parti
