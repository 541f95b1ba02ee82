// storage: StoreEngine owns the node's one RocksDB instance: items, the
// per-partition replication log and metadata, each in its own column family.
//
// Guarantees:
//  - commit() is atomic: a batch's log entries, item changes and partition
//    metadata land together or not at all, with one fsync when `sync` is on.
//  - An item is never replaced by an older version (lower sequence), so a late
//    or replayed entry cannot resurrect or roll back an item; deletes leave
//    tombstones for the same reason. get/get_many never return tombstones.
//  - scan_partition() iterates one consistent snapshot and ends; writes made
//    during the scan are not seen by it.
// Threading: every method is safe to call from any thread, but commit() must
// have a single caller at a time (the write pipeline): it reads before it
// writes to keep item counts exact. Every call may block on disk: never call
// it from an event-loop thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "partid/routing/layout.h"
#include "partid/storage/item_source.h"
#include "partid/storage/types.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Iterator;
class Slice;
class Snapshot;
}  // namespace rocksdb

namespace partid::storage {

struct PartitionCheck;

// The changes replication makes, applied in order by write_replica().
namespace change {
struct TruncateLog {
  uint32_t partition = 0;
  uint64_t after = 0;  // entries with larger sequences go
};
struct AppendLog {
  uint32_t partition = 0;
  std::vector<LogRecord> records;
};
struct SaveState {
  uint32_t partition = 0;
  uint64_t promised_epoch = 0;
  uint64_t watermark = 0;
  bool rebuilding = false;
};
// Committed entries applied to the items: `ops` (barriers carry none) and the
// position of the last entry applied.
struct Apply {
  uint32_t partition = 0;
  std::vector<WriteOp> ops;
  uint64_t through = 0;
  uint64_t through_epoch = 0;
};
struct TrimLog {
  uint32_t partition = 0;
  uint64_t through = 0;
  uint64_t through_epoch = 0;
};
// The partition's items become exactly `items` (tombstones included), as of
// (through_epoch, through); the log keeps what follows only when keep_tail.
struct ReplaceState {
  uint32_t partition = 0;
  // Shared, not copied: a snapshot's items are read from its bytes while
  // they are written (on the disk pool), never held decoded beside them.
  std::shared_ptr<const ItemSource> items;
  uint64_t through = 0;
  uint64_t through_epoch = 0;
  bool keep_tail = false;
};
// Everything of the partition goes: items, log and metadata (a partition
// merged away, or an older incarnation of one a split made again). Changes
// after it in the same write start it afresh.
struct DropPartition {
  uint32_t partition = 0;
};
}  // namespace change
using ReplicaChange =
    std::variant<change::TruncateLog, change::AppendLog, change::SaveState, change::Apply,
                 change::TrimLog, change::ReplaceState, change::DropPartition>;

// What a restarting replica reads back: its state and its log after the base.
struct ReplicaRecord {
  PartitionMeta meta;
  std::vector<LogRecord> log;
};

// How a data directory is laid out: keys (keys.h), column families and the
// encodings of stored values (storage.proto). Stored protobufs evolve by
// adding fields (older builds skip what they do not know, field numbers are
// never reused), which needs no new format. A change an older build would
// misread raises it; an older build then refuses the directory (open() fails)
// rather than misread it, and the newer one converts an older directory when
// it opens it.
// Format 2: log entries may hold transaction steps (ItemOp TXN_*), which a
// format-1 build cannot decode; a format-1 directory needs no conversion.
// Format 3: log entries may forget transactions (ItemOp TXN_FORGET), which a
// format-2 build cannot decode; nor is a format-2 directory converted.
// Format 4: a transaction's writes may carry conditions (TxnWrite::if_sequence)
// that a format-3 build would ignore, applying a prepare the others refuse;
// a format-3 directory needs no conversion.
// Format 5: log entries may split a partition (ItemOp SPLIT_*), which a
// format-4 build cannot decode; a format-4 directory needs no conversion.
// Format 6: log entries may merge partitions (ItemOp MERGE_*), which a
// format-5 build cannot decode; a format-5 directory needs no conversion.
inline constexpr uint32_t kStorageFormat = 6;

struct NodeMetadata {
  std::string stable_id;
  std::string cluster;
  uint32_t partitions = 0;
  uint32_t replication_factor = 0;
  uint64_t disk_id = 0;
  // The libparti instance id of the last process to open this directory: a
  // restart names it so that it can take its ID back at once (the RocksDB
  // lock proves that process is gone).
  std::string instance;
  uint32_t format = kStorageFormat;  // of the directory (see kStorageFormat)
  friend bool operator==(const NodeMetadata&, const NodeMetadata&) = default;
};

// A committed entry whose op had no effect, by a rule every replica applies
// the same way (a write to an item a transaction has locked, a prepare that
// conflicts, a decision taken already): its writer must hear why.
struct Refusal {
  uint32_t partition = 0;
  uint64_t sequence = 0;
  std::string code;
  std::string message;
};

struct StoreStatus {
  bool ok = true;
  std::string message;
  std::vector<Refusal> refused;  // write_replica: the ops applied without effect
  static StoreStatus error(std::string m) { return {false, std::move(m), {}}; }
};

struct StoreOptions {
  bool sync = true;  // fsync the write-ahead log on every commit
  // Each column family's memtable is flushed once it holds this much; two
  // may be in memory at once (one being flushed), so memtables take at most
  // 2 x 3 x this. RocksDB's own default, 64 MiB, let a node under a write
  // benchmark grow past 200 MiB; 16 cost no throughput (README).
  uint32_t memtable_mib = 16;
  // RocksDB's open table files at most (-1: every file stays open). A bound
  // keeps descriptors for the rest of the node (node/descriptor_budget.h);
  // past it RocksDB closes the least recently used file.
  int max_open_files = -1;
  // A snapshot install whose items carry at least this many bytes is written
  // as SST files and ingested (snapshot_ingest.cpp) instead of in one batch
  // that would hold every other write in RocksDB's queue while it lasts;
  // each ingestion flushes the memtables it overlaps, so small installs stay
  // in batches.
  uint64_t ingest_install_bytes = uint64_t{4} << 20;
};

// What RocksDB holds in memory, in bytes (its own accounting; the process's
// resident size includes it and the allocator's slack).
struct StoreMemory {
  uint64_t memtables = 0;      // active and immutable memtables, all column families
  uint64_t block_cache = 0;    // data and filter blocks cached
  uint64_t table_readers = 0;  // open table files' indexes and filters outside the cache
};

// A finite iterator over one partition as of the moment it was created.
class PartitionScan {
 public:
  ~PartitionScan();
  PartitionScan(PartitionScan&&) noexcept;
  PartitionScan& operator=(PartitionScan&&) = delete;
  // Fills `out` with the next item (tombstones included) and returns true, or
  // returns false at the end of the partition.
  bool next(Item* out);

 private:
  friend class StoreEngine;
  PartitionScan(rocksdb::DB* db, const rocksdb::Snapshot* snapshot,
                std::unique_ptr<rocksdb::Iterator> it);
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snapshot_;
  std::unique_ptr<rocksdb::Iterator> it_;
  std::unique_ptr<std::string> upper_bound_;
  std::unique_ptr<rocksdb::Slice> bound_slice_;
};

class StoreEngine {
 public:
  // Opens (creating if needed) the database in `dir`; nullptr and *error on
  // failure, also when a newer build wrote it (its format is above
  // kStorageFormat).
  static std::unique_ptr<StoreEngine> open(const std::string& dir, StoreOptions options,
                                           std::string* error);
  ~StoreEngine();
  StoreEngine(const StoreEngine&) = delete;
  StoreEngine& operator=(const StoreEngine&) = delete;

  std::optional<Item> get(uint32_t partition, std::string_view partition_key,
                          std::string_view range_key) const;
  // Live items of one partition key, as `page` says.
  std::vector<Item> get_many(uint32_t partition, std::string_view partition_key,
                             const ItemPage& page) const;

  // The same reads, answered only from memory (memtables and block cache):
  // nullopt when answering would need disk I/O. They never block, so an
  // event loop may call them and fall back to a disk thread on nullopt.
  std::optional<std::optional<Item>> get_cached(uint32_t partition, std::string_view partition_key,
                                                std::string_view range_key) const;
  std::optional<std::vector<Item>> get_many_cached(uint32_t partition,
                                                   std::string_view partition_key,
                                                   const ItemPage& page) const;

  // The one write path: applies `changes` in order, atomically, with one
  // fsync (when `sync` is on); a large snapshot install by ingesting files
  // (StoreOptions::ingest_install_bytes), atomic and durable all the same,
  // except that an install followed by more changes in the same call (the
  // entries that came behind the snapshot) is ingested first and the rest
  // written after it: a stop between the two leaves the snapshot installed
  // at its watermark, with nothing of the rest. An install whose items
  // cannot be read (its ItemSource throws) fails the write, not the process.
  // Two calls may run at once when they touch different partitions
  // (GroupCommit writes an install beside its batches).
  StoreStatus write_replica(const std::vector<ReplicaChange>& changes);
  ReplicaRecord load_replica(uint32_t partition) const;

  // Appends the ops to their partitions' logs and applies them at once (an
  // unreplicated write: tools and tests); each partition's last_sequence and
  // watermark become its highest op sequence.
  StoreStatus commit(const std::vector<WriteOp>& ops);
  // Single-op conveniences over commit().
  StoreStatus insert(uint32_t partition, const Item& item);
  StoreStatus remove(uint32_t partition, std::string_view partition_key, std::string_view range_key,
                     const ItemVersion& version);

  // Reads counters RocksDB keeps in memory: never blocks on I/O.
  StoreMemory memory() const;
  // Snapshot installs written by ingesting files since the store opened.
  uint64_t installs_ingested() const { return installs_ingested_.load(); }
  // Of those, the ones whose items did not come in key order and were sorted
  // in memory first (a snapshot's come in order; a partition's size held).
  uint64_t installs_sorted() const { return installs_sorted_.load(); }

  PartitionMeta partition_meta(uint32_t partition) const;
  // The metadata if it is in memory (never blocks): every partition this
  // node has written since it opened the store is.
  std::optional<PartitionMeta> cached_partition_meta(uint32_t partition) const;
  std::map<uint32_t, PartitionMeta> all_partition_meta() const;
  // From the first item, or from the one after `after` (in key order).
  PartitionScan scan_partition(uint32_t partition, const Item* after = nullptr) const;
  // RocksDB's estimate of the bytes the partition's items take uncompressed,
  // memtables included (older versions not yet compacted away count too; the
  // files' share scaled by their ratio of raw to stored bytes): the size of a
  // snapshot of it, roughly.
  uint64_t approximate_item_bytes(uint32_t partition) const;
  // Every item of the partition in key order, each handed to `visit` once
  // (it may move it away) until `visit` returns false, and the partition's
  // metadata: both read from one snapshot, one moment. Holds no more than one
  // item at a time.
  PartitionMeta visit_partition(uint32_t partition, const std::function<bool(Item&)>& visit) const;
  // Log entries with sequence in [from, to], in order, none at or behind
  // the partition's base (a trim may leave them on disk for a while).
  std::vector<LogRecord> read_log(uint32_t partition, uint64_t from, uint64_t to) const;
  // Checks this replica of `partition` from one snapshot (partition_check.h);
  // with digest_from <= digest_to, also digests that log range; without
  // `scan_items`, the log and metadata only. Reads the whole partition: an
  // operator's tool, not a serving path.
  PartitionCheck check_partition(uint32_t partition, uint64_t digest_from = 1,
                                 uint64_t digest_to = 0, bool scan_items = true) const;
  // Removes every item, log entry and the metadata of one partition.
  StoreStatus drop_partition(uint32_t partition);

  // Transactions (txn_space.h): the transaction holding the lock on an item,
  // a transaction as a participant partition recorded it, the decision its
  // home partition recorded, and the transactions prepared in `partition`
  // and not resolved yet.
  std::optional<std::string> txn_lock(uint32_t partition, std::string_view partition_key,
                                      std::string_view range_key) const;
  std::map<std::string, std::string> txn_locks(uint32_t partition,
                                               std::string_view partition_key) const;
  std::optional<TxnRecord> txn_record(uint32_t partition, std::string_view txn) const;
  std::optional<TxnRecord> txn_decision(uint32_t partition, std::string_view txn) const;
  std::vector<std::pair<std::string, TxnRecord>> prepared_txns(uint32_t partition) const;
  // Up to `limit` transactions with a record or decision here that
  // can_forget() and whose deadline is before `before_ms`, oldest first. Reads
  // only those and the first one that is not old enough (ids sort by
  // deadline), plus any left that cannot be forgotten yet.
  std::vector<std::string> forgettable_txns(uint32_t partition, uint64_t before_ms,
                                            size_t limit) const;
  // Up to `limit` commit decisions here not settled yet whose deadline is
  // before `before_ms`: id and the partitions still to confirm.
  std::vector<std::pair<std::string, std::vector<uint32_t>>> unsettled_commits(uint32_t partition,
                                                                               uint64_t before_ms,
                                                                               size_t limit) const;

  std::optional<NodeMetadata> load_node_metadata() const;
  StoreStatus save_node_metadata(const NodeMetadata& meta);

 private:
  friend class BatchWriter;
  StoreEngine(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> cfs,
              StoreOptions options);
  std::optional<Item> read_item(const std::string& key, bool keep_tombstone) const;
  // snapshot_ingest.cpp: writes a step that installs a large snapshot (and
  // at most saves hard state and trims the log after it) by ingesting SST
  // files; nullopt when the step is not one or ingesting failed, for the
  // batch path to write it.
  std::optional<StoreStatus> ingest_install(const std::vector<ReplicaChange>& changes);
  // write_replica without its guard: the ingested install, then the batch.
  StoreStatus write_replica_parts(const std::vector<ReplicaChange>& changes);
  // write_replica's batch path: every change in one WriteBatch.
  StoreStatus write_batch(const std::vector<ReplicaChange>& changes);
  // `in_memory_only`: *would_block is set instead of touching the disk.
  std::optional<Item> lookup(uint32_t partition, std::string_view partition_key,
                             std::string_view range_key, bool in_memory_only,
                             bool* would_block) const;
  std::vector<Item> scan_key(uint32_t partition, std::string_view partition_key,
                             const ItemPage& page, bool in_memory_only, bool* would_block) const;

  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::ColumnFamilyHandle* items_;
  rocksdb::ColumnFamilyHandle* log_;
  rocksdb::ColumnFamilyHandle* meta_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  StoreOptions options_;
  // Partition metadata as last committed, so commit() does not read it back
  // from RocksDB for every batch. Loaded lazily; guarded for readers on
  // other threads (commit() itself has a single caller).
  mutable std::mutex meta_mu_;
  mutable std::map<uint32_t, PartitionMeta> meta_cache_;
  std::atomic<uint64_t> installs_ingested_{0};
  std::atomic<uint64_t> installs_sorted_{0};
};

}  // namespace partid::storage
