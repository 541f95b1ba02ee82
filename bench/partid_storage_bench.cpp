// partid_storage_bench: Google Benchmark cases for the storage choices of the
// replication write path, each next to its same-run baseline.
//  BM_LogAppend/<hints>: appending replication log entries the way a loaded
//    node does (256 partitions interleaved, sequential within each, 64 entries
//    per write batch, a memtable that keeps growing) into RocksDB, with the
//    per-partition memtable insert hint off (0, the baseline) and on (1, what
//    StoreEngine configures for its log column family).
#include <benchmark/benchmark.h>
#include <rocksdb/db.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/write_batch.h>

#include <filesystem>
#include <memory>
#include <random>

#include "partid/storage/keys.h"
#include "support/temp_dir.h"

namespace partid::storage {
namespace {

constexpr uint32_t kPartitions = 256;
constexpr int kEntriesPerBatch = 64;

std::unique_ptr<rocksdb::DB> open_log_db(const std::string& dir, bool hints) {
  rocksdb::Options o;
  o.create_if_missing = true;
  o.allow_concurrent_memtable_write = false;
  if (hints) {
    o.memtable_insert_with_hint_prefix_extractor.reset(
        rocksdb::NewFixedPrefixTransform(kPartitionPrefixBytes));
  }
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::Open(o, dir, &db).ok()) return nullptr;
  return std::unique_ptr<rocksdb::DB>(db);
}

void BM_LogAppend(benchmark::State& state) {
  parti::testing::TempDir dir;
  auto db = open_log_db(dir.path(), state.range(0) != 0);
  if (!db) {
    state.SkipWithError("cannot open RocksDB");
    return;
  }
  std::vector<uint64_t> next(kPartitions, 1);
  std::mt19937 rng(7);  // which partitions a batch touches: uneven, like client keys
  const std::string payload(48, 'x');
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;  // the memtable insert is what is measured
  for (auto _ : state) {
    rocksdb::WriteBatch batch;
    for (int i = 0; i < kEntriesPerBatch; ++i) {
      uint32_t p = rng() % kPartitions;
      batch.Put(log_key(p, next[p]++), payload);
    }
    db->Write(wo, &batch);
  }
  state.SetItemsProcessed(state.iterations() * kEntriesPerBatch);
}
BENCHMARK(BM_LogAppend)->Arg(0)->Arg(1)->Iterations(20000)->Repetitions(5)->ReportAggregatesOnly();

}  // namespace
}  // namespace partid::storage

BENCHMARK_MAIN();
