// storage: a large snapshot install written as SST files and ingested.
//
// Written as one batch, an install of many megabytes goes through RocksDB's
// single write queue (the write-ahead log, then the memtable) and every other
// write of the node waits behind it for seconds. Ingested, its items go into a
// file built beside the queue, and the queue stops only while RocksDB links
// the files in (after flushing memtables that overlap them). Atomic as the
// batch was: IngestExternalFiles takes the three column families' files
// (items: a range deletion of the partition and its new items, which outrank
// the deletion within the file; log: a range deletion; meta: the partition's
// metadata) all or none, across a crash too. The items go into their file as
// the install's ItemSource reads them (a snapshot's, from its bytes, in key
// order), so no copy of the partition is made here.
#include <rocksdb/sst_file_writer.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "partid/storage/codec.h"
#include "partid/storage/keys.h"
#include "partid/storage/meta_updates.h"
#include "partid/storage/store_engine.h"

namespace partid::storage {
namespace {

// What an ingested install writes besides its items: the partition's
// metadata after every change of the step, in order, the end of the log's
// range deletion (nullopt: the whole log) and the entries appended and still
// there after the step (in the same file they outrank the range deletion).
struct IngestPlan {
  const change::ReplaceState* replace = nullptr;
  PartitionMeta meta;
  std::optional<uint64_t> log_through;
  std::map<uint64_t, const LogRecord*> appended;  // by sequence
};

// Folds a step's changes into a plan, in order, as BatchWriter would apply
// them; false for a change that does not fold (another partition's, one that
// writes items, a second install).
class IngestFold {
 public:
  IngestFold(const change::ReplaceState& replace, PartitionMeta meta) {
    plan_.replace = &replace;
    plan_.meta = meta;
  }
  bool operator()(const change::ReplaceState& r) {
    if (&r != plan_.replace) return false;
    replace_meta(plan_.meta, r);
    forget_appended_through(r.keep_tail ? r.through : UINT64_MAX);
    return true;
  }
  bool operator()(const change::AppendLog& a) {
    for (const auto& r : a.records) {
      append_meta(plan_.meta, r.sequence);
      plan_.appended[r.sequence] = &r;
    }
    return mine(a.partition);
  }
  bool operator()(const change::SaveState& s) {
    save_meta(plan_.meta, s);
    return mine(s.partition);
  }
  bool operator()(const change::TrimLog& t) {
    trim_meta(plan_.meta, t.through, t.through_epoch);
    trimmed_ = std::max(trimmed_, t.through);
    forget_appended_through(t.through);
    return mine(t.partition);
  }
  bool operator()(const change::TruncateLog& t) {
    truncate_meta(plan_.meta, t.after);
    truncated_ = true;
    std::erase_if(plan_.appended, [&](const auto& e) { return e.first > t.after; });
    return mine(t.partition);
  }
  bool operator()(const change::Apply&) { return false; }
  bool operator()(const change::DropPartition&) { return false; }
  // The plan, unless the log would need two range deletions (a tail kept
  // and a truncation): a batch writes that.
  std::optional<IngestPlan> finish() {
    if (plan_.replace->keep_tail) {
      if (truncated_) return std::nullopt;
      plan_.log_through = std::max(trimmed_, plan_.replace->through);
    }
    return std::move(plan_);
  }

 private:
  bool mine(uint32_t partition) const { return partition == plan_.replace->partition; }
  void forget_appended_through(uint64_t seq) {
    std::erase_if(plan_.appended, [&](const auto& e) { return e.first <= seq; });
  }
  IngestPlan plan_;
  bool truncated_ = false;
  uint64_t trimmed_ = 0;
};

// A plan when `changes` install exactly one snapshot and otherwise only save
// hard state or append to, trim or truncate the log of the same partition.
std::optional<IngestPlan> plan_ingest(const std::vector<ReplicaChange>& changes,
                                      const std::function<PartitionMeta(uint32_t)>& meta_of) {
  const change::ReplaceState* replace = nullptr;
  for (const auto& c : changes) {
    if (const auto* r = std::get_if<change::ReplaceState>(&c)) {
      if (replace) return std::nullopt;
      replace = r;
    }
  }
  if (!replace) return std::nullopt;
  IngestFold fold(*replace, meta_of(replace->partition));
  for (const auto& c : changes) {
    if (!std::visit(fold, c)) return std::nullopt;
  }
  return fold.finish();
}

// One column family's file: `fill` adds to it in key order.
rocksdb::Status write_sst(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, const std::string& path,
                          const std::function<rocksdb::Status(rocksdb::SstFileWriter&)>& fill) {
  rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), db.GetOptions(cf), cf);
  auto s = writer.Open(path);
  if (s.ok()) s = fill(writer);
  if (s.ok()) s = writer.Finish();
  return s;
}

// The partition's items, replacing all it had: within the file the items
// outrank its range deletion. Written as they are read, one at a time, when
// they come in key order (a snapshot's do: its leader scanned them so), so
// nothing of the partition is held in memory; Incomplete when they do not.
rocksdb::Status fill_items_in_order(rocksdb::SstFileWriter& w,
                                    const change::ReplaceState& replace) {
  const uint32_t p = replace.partition;
  auto s = w.DeleteRange(partition_prefix(p), partition_end(p));
  std::string last;
  replace.items->for_each([&](const Item& item) {
    std::string key = item_key(p, item.partition_key, item.range_key);
    if (!last.empty() && key <= last) {
      s = rocksdb::Status::Incomplete("items not in key order");
      return false;
    }
    s = w.Put(key, encode_item(item));
    last = std::move(key);
    return s.ok();
  });
  return s;
}

// The same from items in any order: sorted first, so held in memory.
rocksdb::Status fill_items_sorted(rocksdb::SstFileWriter& w, const change::ReplaceState& replace) {
  const uint32_t p = replace.partition;
  std::vector<std::pair<std::string, std::string>> keyed;
  replace.items->for_each([&](const Item& item) {
    keyed.emplace_back(item_key(p, item.partition_key, item.range_key), encode_item(item));
    return true;
  });
  std::sort(keyed.begin(), keyed.end());
  auto s = w.DeleteRange(partition_prefix(p), partition_end(p));
  for (size_t i = 0; s.ok() && i < keyed.size(); ++i) s = w.Put(keyed[i].first, keyed[i].second);
  return s;
}

rocksdb::Status fill_log(rocksdb::SstFileWriter& w, uint32_t p, const IngestPlan& plan) {
  auto s = w.DeleteRange(partition_prefix(p),
                         plan.log_through ? log_key(p, *plan.log_through + 1) : partition_end(p));
  for (auto it = plan.appended.begin(); s.ok() && it != plan.appended.end(); ++it) {
    s = w.Put(log_key(p, it->first), encode_log_record(*it->second));
  }
  return s;
}

}  // namespace

std::optional<StoreStatus> StoreEngine::ingest_install(const std::vector<ReplicaChange>& changes) {
  auto plan = plan_ingest(changes, [this](uint32_t p) { return partition_meta(p); });
  if (!plan || plan->replace->items->encoded_bytes() < options_.ingest_install_bytes) {
    return std::nullopt;
  }
  const uint32_t p = plan->replace->partition;
  // A directory per partition: GroupCommit writes one install at a time, and
  // nothing here relies on it.
  const std::filesystem::path dir =
      std::filesystem::path(db_->GetName()) / "ingest" / std::to_string(p);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir, ec);
  std::vector<rocksdb::IngestExternalFileArg> args(3);
  args[0].column_family = items_;
  args[1].column_family = log_;
  args[2].column_family = meta_;
  const std::vector<std::function<rocksdb::Status(rocksdb::SstFileWriter&)>> fills = {
      [&](rocksdb::SstFileWriter& w) { return fill_items_in_order(w, *plan->replace); },
      [&](rocksdb::SstFileWriter& w) { return fill_log(w, p, *plan); },
      [&](rocksdb::SstFileWriter& w) {
        return w.Put(meta_partition_key(p), encode_partition_meta(plan->meta));
      },
  };
  rocksdb::Status s;
  for (size_t i = 0; s.ok() && i < args.size(); ++i) {
    const std::string file = dir / (std::to_string(i) + ".sst");
    s = write_sst(*db_, args[i].column_family, file, fills[i]);
    if (i == 0 && s.IsIncomplete()) {
      spdlog::warn("partition {}: a snapshot's items are not in key order; sorting them", p);
      ++installs_sorted_;
      s = write_sst(*db_, args[i].column_family, file, [&](rocksdb::SstFileWriter& w) {
        return fill_items_sorted(w, *plan->replace);
      });
    }
    args[i].external_files = {file};
    args[i].options.move_files = true;
  }
  if (s.ok()) s = db_->IngestExternalFiles(args);
  std::filesystem::remove_all(dir, ec);
  if (!s.ok()) {
    // Nothing was ingested (all or none): the batch path writes the step.
    spdlog::warn("partition {}: ingesting a snapshot failed ({}); writing it in a batch", p,
                 s.ToString());
    return std::nullopt;
  }
  ++installs_ingested_;
  std::lock_guard lock(meta_mu_);
  meta_cache_[p] = plan->meta;
  return StoreStatus{};
}

}  // namespace partid::storage
