// partid_bench: Google Benchmark cases for partid's in-process costs that
// scale with a partition's size, each beside a same-run baseline to divide
// by (the machine is shared and noisy: report ratios).
//  BM_SnapshotEncode/<items> and BM_SnapshotDecode/<items>: a partition's
//    snapshot (1-KiB items) encoded for a peer, and decoded on arrival; both
//    run on the disk pool, never on a node's event loop, because they take
//    as long as the partition is large.
//  BM_Baseline_CopyBytes/<items>: copying as many bytes as that encoding
//    holds, the floor any encoding pays.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "partid/replication/wire.h"
#include "partid/storage/store_engine.h"

namespace partid {
namespace {

std::vector<storage::Item> items_of(int64_t n) {
  std::vector<storage::Item> items;
  items.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const auto k = static_cast<uint64_t>(i);
    items.push_back(
        {"key-" + std::to_string(i), "r", std::string(1024, 'x'), {k << 16, k, 1}, false});
  }
  return items;
}

void BM_Baseline_CopyBytes(benchmark::State& state) {
  const std::string encoded = replication::encode_snapshot(items_of(state.range(0)));
  for (auto _ : state) {
    std::string copy = encoded;
    benchmark::DoNotOptimize(copy.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(encoded.size()));
}

void BM_SnapshotEncode(benchmark::State& state) {
  const auto items = items_of(state.range(0));
  size_t bytes = 0;
  for (auto _ : state) {
    std::string encoded = replication::encode_snapshot(items);
    bytes = encoded.size();
    benchmark::DoNotOptimize(encoded.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
}

void BM_SnapshotDecode(benchmark::State& state) {
  const std::string encoded = replication::encode_snapshot(items_of(state.range(0)));
  for (auto _ : state) {
    auto items = replication::decode_snapshot(encoded);
    benchmark::DoNotOptimize(items);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(encoded.size()));
}

BENCHMARK(BM_Baseline_CopyBytes)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SnapshotEncode)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SnapshotDecode)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace partid

BENCHMARK_MAIN();
