// partid_bench: Google Benchmark cases for partid's in-process costs that
// scale with a partition's size, each beside a same-run baseline to divide
// by (the machine is shared and noisy: report ratios).
//  BM_SnapshotEncode/<items> and BM_SnapshotDecode/<items>: a partition's
//    snapshot (1-KiB items) encoded for a peer, and decoded into a vector
//    (what an install did before it read the items from the bytes).
//  BM_SnapshotCheck/<items>: the pass on arrival that checks a snapshot and
//    tallies its items (snapshot_items), nothing kept; and
//    BM_SnapshotReadFromBytes/<items>: the install's reading of the items
//    from the bytes. Check plus read is what a node now spends where it
//    decoded once. All run on the snapshot or disk pool, never on a node's
//    event loop, because they take as long as the partition is large.
//  BM_TransferParseWhole/<items> and BM_TransferParseInPlace/<items>: the
//    assembled transfer carrying that snapshot parsed by protobuf whole
//    (copying the snapshot's bytes out) and by parse_transfer (the head
//    alone, the bytes left in the buffer); each iteration copies the
//    transfer first, as both consume one.
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

replication::core::SnapshotBytes core_bytes(int64_t n) {
  return replication::core::snapshot_bytes(replication::encode_snapshot(items_of(n)));
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

void BM_SnapshotCheck(benchmark::State& state) {
  const auto bytes = core_bytes(state.range(0));
  for (auto _ : state) {
    auto source = replication::snapshot_items(bytes);
    benchmark::DoNotOptimize(source);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes->size()));
}

void BM_SnapshotReadFromBytes(benchmark::State& state) {
  const auto bytes = core_bytes(state.range(0));
  const auto source = replication::snapshot_items(bytes);
  for (auto _ : state) {
    size_t read = 0;
    source->for_each([&](storage::Item& item) {
      read += item.message.size();
      return true;
    });
    benchmark::DoNotOptimize(read);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes->size()));
}

std::string transfer_of(int64_t n) {
  const replication::core::Message install =
      replication::core::InstallSnapshot{4, {{3, 90}, core_bytes(n)}, 95, 99};
  return replication::serialize_transfer("node-1", 7, install).slice(0, SIZE_MAX);
}

void BM_TransferParseWhole(benchmark::State& state) {
  const std::string transfer = transfer_of(state.range(0));
  for (auto _ : state) {
    std::string copy = transfer;
    pb::ReplicationBatch batch;
    benchmark::DoNotOptimize(batch.ParseFromString(copy));
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(transfer.size()));
}

void BM_TransferParseInPlace(benchmark::State& state) {
  const std::string transfer = transfer_of(state.range(0));
  for (auto _ : state) {
    std::string copy = transfer;
    auto messages = replication::parse_transfer(std::move(copy), "node-1");
    benchmark::DoNotOptimize(messages);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(transfer.size()));
}

BENCHMARK(BM_Baseline_CopyBytes)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SnapshotEncode)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SnapshotDecode)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SnapshotCheck)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SnapshotReadFromBytes)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TransferParseWhole)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TransferParseInPlace)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace partid

BENCHMARK_MAIN();
