#include "partid/storage/store_engine.h"

#include <fmt/format.h>
#include <rocksdb/db.h>

#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/table_properties.h>
#include <rocksdb/utilities/options_util.h>
#include <algorithm>
#include <filesystem>

#include "partid/storage/codec.h"
#include "partid/storage/keys.h"
#include "partid/storage/rocksdb_log.h"

namespace partid::storage {
namespace {

rocksdb::Options db_options(const StoreOptions& options) {
  rocksdb::Options o;
  o.max_open_files = options.max_open_files;
  o.create_if_missing = true;
  o.create_missing_column_families = true;
  o.max_background_jobs = 2;
  o.info_log = rocksdb_to_node_log();
  o.info_log_level = o.info_log->GetInfoLogLevel();
  return o;
}

rocksdb::ColumnFamilyOptions items_options() {
  rocksdb::ColumnFamilyOptions o;
  rocksdb::BlockBasedTableOptions t;
  // Point reads dominate (GET /items/{pk}/{rk}); a bloom filter spares the
  // disk for keys that are absent.
  t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return o;
}

// A memtable insert is a skip-list search from the top, a cache miss per level
// once the memtable outgrows the cache. A partition's metadata key is
// rewritten with every batch that touches it, so a per-key insert hint
// starts each search where the previous version went. Not for the log: the
// RocksDB in Debian 12 (7.8) uses a column family's hints for its range
// deletions too, and the log is trimmed by range; that corrupted the
// memtable (later RocksDB releases use hints for point keys only).
rocksdb::ColumnFamilyOptions hinted_options(size_t prefix_bytes) {
  rocksdb::ColumnFamilyOptions o;
  o.memtable_insert_with_hint_prefix_extractor.reset(
      rocksdb::NewFixedPrefixTransform(prefix_bytes));
  return o;
}

}  // namespace

std::unique_ptr<StoreEngine> StoreEngine::open(const std::string& dir, StoreOptions options,
                                               std::string* error) {
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, {}},
      {"items", items_options()},
      {"log", {}},
      {"meta", hinted_options(kMetaPartitionKeyBytes)},
  };
  for (auto& cf : cfs) cf.options.write_buffer_size = size_t{options.memtable_mib} << 20;
  // Made first, or RocksDB reports a new database's missing directory as an
  // error in the node's log before it creates it (a failure here is left to
  // RocksDB to report).
  std::error_code ignored;
  std::filesystem::create_directories(dir, ignored);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(db_options(options), dir, cfs, &handles, &raw);
  if (!s.ok()) {
    *error = s.ToString();
    return nullptr;
  }
  std::unique_ptr<StoreEngine> engine(
      new StoreEngine(std::unique_ptr<rocksdb::DB>(raw), std::move(handles), options));
  if (auto meta = engine->load_node_metadata(); meta && meta->format > kStorageFormat) {
    *error = fmt::format(
        "written by a newer partid (storage format {}; this build reads formats up to {}): "
        "run that version or a later one",
        meta->format, kStorageFormat);
    return nullptr;
  }
  // Files of an install a crash cut short (snapshot_ingest.cpp): never
  // ingested (ingestion is all or none), so only space.
  std::filesystem::remove_all(std::filesystem::path(dir) / "ingest", ignored);
  // Every partition's metadata in memory from the start: the API checks a
  // key against a partition's split rule without a disk read.
  engine->meta_cache_ = engine->all_partition_meta();
  return engine;
}

StoreEngine::StoreEngine(std::unique_ptr<rocksdb::DB> db,
                         std::vector<rocksdb::ColumnFamilyHandle*> cfs, StoreOptions options)
    : db_(std::move(db)),
      items_(cfs[1]),
      log_(cfs[2]),
      meta_(cfs[3]),
      handles_(std::move(cfs)),
      options_(options) {}

StoreEngine::~StoreEngine() {
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  db_->Close();
}

std::optional<Item> StoreEngine::read_item(const std::string& key, bool keep_tombstone) const {
  std::string value;
  if (!db_->Get({}, items_, key, &value).ok()) return std::nullopt;
  auto item = decode_item(value);
  if (!item || (item->tombstone && !keep_tombstone)) return std::nullopt;
  return item;
}

std::optional<Item> StoreEngine::lookup(uint32_t partition, std::string_view partition_key,
                                        std::string_view range_key, bool in_memory_only,
                                        bool* would_block) const {
  rocksdb::ReadOptions ro;
  if (in_memory_only) ro.read_tier = rocksdb::kBlockCacheTier;
  std::string value;
  auto s = db_->Get(ro, items_, item_key(partition, partition_key, range_key), &value);
  if (s.IsIncomplete()) *would_block = true;
  if (!s.ok()) return std::nullopt;
  auto item = decode_item(value);
  if (!item || item->tombstone) return std::nullopt;
  item->partition_key = partition_key;
  item->range_key = range_key;
  return item;
}

std::vector<Item> StoreEngine::scan_key(uint32_t partition, std::string_view partition_key,
                                        const ItemPage& page, bool in_memory_only,
                                        bool* would_block) const {
  const std::string prefix = item_prefix(partition, partition_key);
  // The upper bound is exclusive: a cursor's own item is not read again.
  const std::string end = page.below ? prefix + *page.below : prefix_successor(prefix);
  rocksdb::Slice lower(prefix), upper(end);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower;
  ro.iterate_upper_bound = &upper;
  if (in_memory_only) ro.read_tier = rocksdb::kBlockCacheTier;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, items_));
  std::vector<Item> out;
  size_t bytes = 0;
  for (it->SeekToLast(); it->Valid() && out.size() < page.limit && bytes <= page.max_bytes;
       it->Prev()) {
    auto item = decode_item(it->value().ToStringView());
    if (!item || item->tombstone) continue;
    item->partition_key = partition_key;
    item->range_key = it->key().ToStringView().substr(prefix.size());
    bytes += listed_bytes(*item);
    out.push_back(std::move(*item));
  }
  if (it->status().IsIncomplete()) *would_block = true;
  return out;
}

std::optional<Item> StoreEngine::get(uint32_t partition, std::string_view partition_key,
                                     std::string_view range_key) const {
  bool would_block = false;
  return lookup(partition, partition_key, range_key, false, &would_block);
}

std::vector<Item> StoreEngine::get_many(uint32_t partition, std::string_view partition_key,
                                        const ItemPage& page) const {
  bool would_block = false;
  return scan_key(partition, partition_key, page, false, &would_block);
}

std::optional<std::optional<Item>> StoreEngine::get_cached(uint32_t partition,
                                                           std::string_view partition_key,
                                                           std::string_view range_key) const {
  bool would_block = false;
  auto item = lookup(partition, partition_key, range_key, true, &would_block);
  if (would_block) return std::nullopt;
  return item;
}

std::optional<std::vector<Item>> StoreEngine::get_many_cached(uint32_t partition,
                                                              std::string_view partition_key,
                                                              const ItemPage& page) const {
  bool would_block = false;
  auto items = scan_key(partition, partition_key, page, true, &would_block);
  if (would_block) return std::nullopt;
  return items;
}

PartitionMeta StoreEngine::partition_meta(uint32_t partition) const {
  {
    std::lock_guard lock(meta_mu_);
    if (auto it = meta_cache_.find(partition); it != meta_cache_.end()) return it->second;
  }
  std::string value;
  PartitionMeta meta;
  if (db_->Get({}, meta_, meta_partition_key(partition), &value).ok()) {
    meta = decode_partition_meta(value).value_or(PartitionMeta{});
  }
  std::lock_guard lock(meta_mu_);
  return meta_cache_.try_emplace(partition, meta).first->second;
}

std::optional<PartitionMeta> StoreEngine::cached_partition_meta(uint32_t partition) const {
  std::lock_guard lock(meta_mu_);
  if (auto it = meta_cache_.find(partition); it != meta_cache_.end()) return it->second;
  return std::nullopt;
}

std::map<uint32_t, PartitionMeta> StoreEngine::all_partition_meta() const {
  std::map<uint32_t, PartitionMeta> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, meta_));
  for (it->Seek("p"); it->Valid() && it->key().starts_with("p"); it->Next()) {
    auto key = it->key().ToStringView();
    if (key.size() != 5) continue;
    uint32_t p = 0;
    for (size_t i = 1; i < 5; ++i) p = (p << 8) | static_cast<unsigned char>(key[i]);
    if (auto meta = decode_partition_meta(it->value().ToStringView())) out[p] = *meta;
  }
  return out;
}

StoreMemory StoreEngine::memory() const {
  auto sum = [this](const std::string& property) {
    uint64_t value = 0;
    return db_->GetAggregatedIntProperty(property, &value) ? value : uint64_t{0};
  };
  return {sum(rocksdb::DB::Properties::kCurSizeAllMemTables),
          sum(rocksdb::DB::Properties::kBlockCacheUsage),
          sum(rocksdb::DB::Properties::kEstimateTableReadersMem)};
}

uint64_t StoreEngine::approximate_item_bytes(uint32_t partition) const {
  const std::string from = partition_prefix(partition), to = partition_end(partition);
  const rocksdb::Range range(from, to);
  uint64_t mem_count = 0, mem_bytes = 0;
  db_->GetApproximateMemTableStats(items_, range, &mem_count, &mem_bytes);
  rocksdb::SizeApproximationOptions files_only;
  files_only.include_memtables = false;
  files_only.include_files = true;
  uint64_t stored = 0;
  if (!db_->GetApproximateSizes(files_only, items_, &range, 1, &stored).ok() || stored == 0) {
    return mem_bytes;
  }
  // Files hold the items compressed; what a snapshot or a listing carries is
  // them uncompressed. Scaled by the ratio of the files the range touches.
  rocksdb::TablePropertiesCollection tables;
  uint64_t raw = 0, data = 0;
  if (db_->GetPropertiesOfTablesInRange(items_, &range, 1, &tables).ok()) {
    for (const auto& [file, props] : tables) {
      raw += props->raw_key_size + props->raw_value_size;
      data += props->data_size;
    }
  }
  const double ratio = data == 0 ? 1.0 : std::max(1.0, static_cast<double>(raw) / data);
  return mem_bytes + static_cast<uint64_t>(static_cast<double>(stored) * ratio);
}

PartitionScan StoreEngine::scan_partition(uint32_t partition, const Item* after) const {
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  auto upper = std::make_unique<std::string>(partition_end(partition));
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  // The bound must outlive the iterator: PartitionScan owns it.
  auto* bound = new rocksdb::Slice(*upper);
  ro.iterate_upper_bound = bound;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, items_));
  // The smallest key after `after`'s is its key with a NUL byte appended.
  it->Seek(after ? item_key(partition, after->partition_key, after->range_key) + '\0'
                 : partition_prefix(partition));
  PartitionScan scan(db_.get(), snapshot, std::move(it));
  scan.upper_bound_ = std::move(upper);
  scan.bound_slice_.reset(bound);
  return scan;
}

PartitionMeta StoreEngine::visit_partition(uint32_t partition,
                                           const std::function<bool(Item&)>& visit) const {
  PartitionMeta meta;
  PartitionScan scan = scan_partition(partition);
  // The metadata is read through the scan's own snapshot: both are one moment.
  rocksdb::ReadOptions ro;
  ro.snapshot = scan.snapshot_;
  std::string value;
  if (db_->Get(ro, meta_, meta_partition_key(partition), &value).ok()) {
    meta = decode_partition_meta(value).value_or(PartitionMeta{});
  }
  Item item;
  while (scan.next(&item) && visit(item)) {
  }
  return meta;
}

PartitionScan::PartitionScan(rocksdb::DB* db, const rocksdb::Snapshot* snapshot,
                             std::unique_ptr<rocksdb::Iterator> it)
    : db_(db), snapshot_(snapshot), it_(std::move(it)) {}

PartitionScan::PartitionScan(PartitionScan&& o) noexcept
    : db_(o.db_),
      snapshot_(std::exchange(o.snapshot_, nullptr)),
      it_(std::move(o.it_)),
      upper_bound_(std::move(o.upper_bound_)),
      bound_slice_(std::move(o.bound_slice_)) {}

PartitionScan::~PartitionScan() {
  it_.reset();  // before the snapshot it reads from
  if (snapshot_) db_->ReleaseSnapshot(snapshot_);
}

bool PartitionScan::next(Item* out) {
  while (it_->Valid()) {
    uint32_t partition = 0;
    std::string pk, rk;
    auto item = decode_item(it_->value().ToStringView());
    const bool parsed = parse_item_key(it_->key().ToStringView(), &partition, &pk, &rk);
    it_->Next();
    if (!item || !parsed) continue;
    item->partition_key = std::move(pk);
    item->range_key = std::move(rk);
    *out = std::move(*item);
    return true;
  }
  return false;
}

StoreStatus StoreEngine::drop_partition(uint32_t partition) {
  rocksdb::WriteBatch batch;
  const std::string from = partition_prefix(partition), to = partition_end(partition);
  batch.DeleteRange(items_, from, to);
  batch.DeleteRange(log_, from, to);
  batch.Delete(meta_, meta_partition_key(partition));
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  auto s = db_->Write(wo, &batch);
  std::lock_guard lock(meta_mu_);
  meta_cache_.erase(partition);  // re-read from disk next time, whatever happened
  return s.ok() ? StoreStatus{} : StoreStatus::error(s.ToString());
}

std::optional<NodeMetadata> StoreEngine::load_node_metadata() const {
  std::string value;
  if (!db_->Get({}, meta_, std::string(kNodeMetaKey), &value).ok()) return std::nullopt;
  return decode_node_metadata(value);
}

StoreStatus StoreEngine::save_node_metadata(const NodeMetadata& meta) {
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  auto s = db_->Put(wo, meta_, std::string(kNodeMetaKey), encode_node_metadata(meta));
  return s.ok() ? StoreStatus{} : StoreStatus::error(s.ToString());
}

}  // namespace partid::storage
